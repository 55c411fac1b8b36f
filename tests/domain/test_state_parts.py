"""The one definition of a sandbox's state (``domain/state_parts.py``) against a live sandbox.

Every attribute a sandbox and the objects it owns hold must belong to a part or be named as not
state, so a piece of state cannot be added and forgotten by export, import, reset or a store. And
what the parts declare is what happens: a round trip gives the same document, a restore never
hands out an id again, and a reset does to each part what the part says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from simulator.domain.clock import ControllableClock, parse_rfc3339, seconds
from simulator.domain.config import SandboxConfig
from simulator.domain.models import Account
from simulator.domain.sandbox import Sandbox
from simulator.domain.state_parts import (
    NOT_STATE,
    STATE_PARTS,
    Kind,
    OnReset,
    collection_names,
    parts_of,
)
from simulator.domain.world import World, load_world

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "default-world.json"
T0 = parse_rfc3339("2023-05-01T10:00:38Z") or 0
_SCALARS = (type(None), bool, int, float, str, bytes)


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(json.loads(FIXTURE.read_text("utf-8")))


def new_sandbox(world: World, **settings: Any) -> Sandbox:
    config = SandboxConfig(**{"lag_min": 0.0, "lag_max": 0.0, "rate_limit": False, **settings})
    return Sandbox(world, config, ControllableClock(frozen_at=T0))


def party(sandbox: Sandbox, account_id: str) -> Account:
    found = sandbox.world.account(account_id)
    assert found is not None
    return found


def busy(sandbox: Sandbox, tag: str = "") -> Sandbox:
    """A sandbox with some of everything: conversations, messages, a reference id change, tokens,
    notifications, a fault rule, open scrolls of both lists, a moved clock and generators part-way
    through their streams."""
    retailer, supplier = party(sandbox, "1000001"), party(sandbox, "2000001")
    for n in range(3):
        created = sandbox.call(
            "createConversation",
            retailer,
            {
                "title": f"Case {n}",
                "otherPartyTradingPartnerId": "aaa-bbb-ccc",
                "retailerReferenceId": f"R-{tag}{n}",
                "initialMessage": {"message": f"First words of case {n}"},
            },
        )
        sandbox.clock.advance(seconds(1))
        sandbox.call(
            "addConversationMessage", supplier, {"dscoConversationId": created["id"], "message": "On it"}
        )
    update = {"dscoConversationId": created["id"], "supplierReferenceId": f"S-{tag}9"}
    sandbox.call("updateConversation", supplier, update)
    sandbox.issue_token(
        {
            "grant_type": "client_credentials",
            "client_id": retailer.client_id,
            "client_secret": retailer.client_secret,
        }
    )
    sandbox.update_config({"pageSize": 2, "faults": {"getConversations": {"errorRate": 0.5}}})
    sandbox.fault_for("getConversations")  # draws from the faults generator
    sandbox.clock.advance(seconds(30))
    for operation in ("getConversations", "getConversationMessages"):
        assert sandbox.call(operation, retailer, {}).get("scrollId"), "a full first page opens a scroll"
    return sandbox


def without_export_time(document: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name != "exportedAt"}


# --- every attribute is a part's or named as not state --------------------------------------------
def attributes(thing: object) -> Iterator[tuple[str, object]]:
    names = list(vars(thing)) if hasattr(thing, "__dict__") else []
    for kind in type(thing).__mro__:
        names += [name for name in getattr(kind, "__slots__", ()) if name not in names]
    for name in names:
        if hasattr(thing, name):
            yield name, getattr(thing, name)


def owned_by_the_domain(value: object) -> bool:
    return type(value).__module__.startswith("simulator.domain.")


def unaccounted(sandbox: Sandbox) -> list[str]:
    """The attributes (dotted paths from the sandbox) that no part holds and :data:`NOT_STATE`
    does not name, walking into every domain object the sandbox owns.

    An attribute that is the very object a part holds (or one of that object's items: the service's
    generators are the sandbox's) belongs to that part already, wherever else it is reachable."""
    held = {path for part in parts_of(sandbox) for path in part.holds}
    claimed: set[int] = set()

    def claim(value: object) -> None:
        if isinstance(value, _SCALARS):
            return  # small ints and strings are shared by everyone: not a sign of an alias
        claimed.add(id(value))
        if isinstance(value, dict):
            for item in value.values():
                if not isinstance(item, _SCALARS):
                    claimed.add(id(item))

    found: list[str] = []
    queue: list[tuple[str, object]] = [(name, value) for name, value in attributes(sandbox)]
    for path, value in queue:  # breadth first: a sandbox's own name for an object comes first
        if path in held:
            claim(value)
    for path, value in queue:
        if path in held or path in NOT_STATE or id(value) in claimed:
            continue
        if owned_by_the_domain(value) and not isinstance(value, World):
            claim(value)
            for name, inner in attributes(value):
                queue.append((f"{path}.{name}", inner))
                if f"{path}.{name}" in held:
                    claim(inner)
            continue
        found.append(path)
    return found


def test_every_attribute_of_a_sandbox_belongs_to_a_part_or_is_named_as_not_state(world: World) -> None:
    assert unaccounted(busy(new_sandbox(world))) == []


def test_a_piece_of_state_added_without_a_part_is_found(world: World) -> None:
    sandbox = new_sandbox(world)
    sandbox.favourites = {"1000001": ["c1"]}  # type: ignore[attr-defined]
    sandbox.store.archived = []  # type: ignore[attr-defined]
    assert unaccounted(sandbox) == ["favourites", "store.archived"]


def test_the_parts_name_only_attributes_a_sandbox_has(world: World) -> None:
    """A part (or a not-state entry) left naming an attribute that was renamed would cover nothing."""
    sandbox = busy(new_sandbox(world))

    def reachable(path: str) -> bool:
        thing: object = sandbox
        for name in path.split("."):
            if not hasattr(thing, name):
                return False
            thing = getattr(thing, name)
        return True

    named = [path for part in parts_of(sandbox) for path in part.holds] + list(NOT_STATE)
    assert [path for path in named if not reachable(path)] == []


def test_the_parts_have_distinct_names_and_collections_come_with_their_records() -> None:
    names = [part.name for part in STATE_PARTS]
    assert len(names) == len(set(names))
    for part in STATE_PARTS:
        assert (part.kind is Kind.COLLECTION) == (part.records is not None), part.name
    assert collection_names() == ("conversations", "messages", "tokens", "notifications")


def test_a_scroll_opened_before_an_export_continues_after_the_import(world: World) -> None:
    """Open scrolls are part of the state: a client paging through a list when the state was saved
    (or when another process of a shared store answers) gets the same next pages."""
    original = new_sandbox(world)
    busy(original)
    retailer = party(original, "1000001")
    first = original.call("getConversationMessages", retailer, {})
    restored = new_sandbox(world)
    restored.import_state(world, original.export_state())
    body = {"scrollId": first["scrollId"]}
    for _ in range(3):
        expected, got = (
            original.call("getConversationMessages", retailer, body),
            restored.call("getConversationMessages", retailer, body),
        )
        assert got == expected
        if "scrollId" not in expected:
            break
        body = {"scrollId": expected["scrollId"]}


# --- round trips ---------------------------------------------------------------------------------
def test_export_import_export_gives_the_same_document(world: World) -> None:
    exported = busy(new_sandbox(world)).export_state()
    assert exported["conversations"] and exported["messages"] and exported["tokens"]
    assert exported["notifications"] and exported["config"]["faults"]
    restored = new_sandbox(world)
    restored.import_state(world, exported)
    assert without_export_time(restored.export_state()) == without_export_time(exported)


def test_the_text_export_is_the_same_document_in_any_batch_size(world: World) -> None:
    sandbox = busy(new_sandbox(world))
    document = sandbox.export_state()
    for batch in (1, 2, 1000):
        assert json.loads("".join(sandbox.export_state_text(batch))) == document


def test_after_a_restore_no_id_issued_before_the_export_comes_again(world: World) -> None:
    original = busy(new_sandbox(world))
    exported = original.export_state()
    before = {
        record["id"] for name in ("conversations", "messages", "notifications") for record in exported[name]
    }
    restored = new_sandbox(world)
    restored.import_state(world, exported)
    made = busy(restored, "again").export_state()
    after = {record["id"] for name in ("conversations", "messages", "notifications") for record in made[name]}
    new = after - before
    assert len(new) == 3 * 3 + 6  # 3 conversations, 6 messages and 6 notifications more
    # and the restored sandbox goes on exactly as the original would have (but for the tokens,
    # which come from the system's random source, never from the seed)
    went_on = busy(original, "again").export_state()
    assert {**without_export_time(made), "tokens": []} == {**without_export_time(went_on), "tokens": []}
    assert len(made["tokens"]) == len(went_on["tokens"]) == 2


def test_every_setting_survives_a_round_trip(world: World) -> None:
    """A setting added to SandboxConfig but not to its exported form would be lost on restore."""
    changed: dict[str, Any] = {}
    for setting in fields(SandboxConfig):
        default = getattr(SandboxConfig(), setting.name)
        changed[setting.name] = (
            (not default) if isinstance(default, bool) else default + 2 if setting.name != "lag_max" else 9.0
        )
    source = new_sandbox(world, **changed)
    restored = new_sandbox(world)
    restored.import_state(world, source.export_state())
    assert restored.config == source.config == SandboxConfig(**changed)


class Recorder:
    """An extension that keeps one number as its part of the state."""

    def __init__(self) -> None:
        self.value = 1
        self.resets = 0

    def clock_moved(self, before: int, after: int) -> None:
        pass

    def after_reset(self) -> None:
        self.resets += 1

    def export(self) -> Any:
        return {"value": self.value}

    def prepare_import(self, raw: Any, world: World) -> Callable[[], None]:
        value = (raw or {}).get("value", 0)

        def apply() -> None:
            self.value = value

        return apply


def test_an_extension_is_a_part_exported_restored_and_reset_after_the_sandbox_s_own(world: World) -> None:
    source, target = new_sandbox(world), new_sandbox(world)
    recorder, other = Recorder(), Recorder()
    source.attach("recorder", recorder)
    target.attach("recorder", other)
    recorder.value = 42
    exported = source.export_state()
    assert exported["recorder"] == {"value": 42}
    assert [part.name for part in parts_of(source)][-1] == "recorder"
    target.import_state(world, exported)
    assert other.value == 42
    target.reset()
    assert other.resets == 1


# --- a reset does what each part declares ------------------------------------------------------------
def test_a_reset_does_to_each_part_what_the_part_declares(world: World) -> None:
    sandbox = busy(new_sandbox(world))
    before = sandbox.export_state()
    fresh = new_sandbox(world).export_state()
    sandbox.reset()
    after = sandbox.export_state()
    for part in STATE_PARTS:
        name = part.name
        if part.on_reset is OnReset.KEPT:
            assert after[name] == before[name], name
        elif part.on_reset in (OnReset.CLEARED, OnReset.RESEEDED):
            assert after[name] == fresh[name] != before[name], name
        elif part.on_reset is OnReset.START_SETTINGS:  # kept, but for the fault rules
            assert after[name] == {**before[name], "faults": {}}, name
    sandbox.update_config({"pageSize": 3})
    sandbox.reset(restore_settings=True)
    assert sandbox.export_state()["config"] == fresh["config"]
