"""The domain's own guards, without a server: bounded settings and clock, capped scrolls, random
tokens, and writes that store nothing unless they answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.domain import views as views_module
from simulator.domain.clock import LATEST, ControllableClock, format_rfc3339, parse_rfc3339
from simulator.domain.config import LARGEST_COUNT, LONGEST_DURATION, SandboxConfig
from simulator.domain.errors import InvalidRequest
from simulator.domain.faults import LONGEST_LATENCY, rule_from_json
from simulator.domain.sandbox import Sandbox
from simulator.domain.world import World, load_world

CREATE = {"otherPartyTradingPartnerId": "aaa-bbb-ccc", "title": "Trust"}
FORM = {
    "grant_type": "client_credentials",
    "client_id": "retailer-demo",
    "client_secret": "retailer-demo-secret",
}
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "default-world.json"


@pytest.fixture
def world() -> World:
    return load_world(json.loads(FIXTURE.read_text("utf-8")))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"scrollTtl": 1e306}, "scrollTtl"),
        ({"scrollTtl": LONGEST_DURATION + 1}, "scrollTtl"),
        ({"tokenTtl": 10**30}, "tokenTtl"),
        ({"untilMargin": 1e15}, "untilMargin"),
        ({"lag": {"min": 0, "max": 1e300}}, "lag.max"),
        ({"rateLimit": {"perSecond": LARGEST_COUNT + 1}}, "rateLimit.perSecond"),
        ({"seed": 2**63}, "seed"),
    ],
)
def test_a_setting_out_of_range_is_refused_by_its_json_name(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        SandboxConfig().updated(changes)
    assert refused.value.problems[0].field == field
    assert "out of range" in refused.value.problems[0].message


def test_the_largest_settings_in_range_are_taken() -> None:
    config = SandboxConfig().updated(
        {"scrollTtl": LONGEST_DURATION, "untilMargin": LONGEST_DURATION, "seed": -(2**63)}
    )
    assert config.scroll_ttl == LONGEST_DURATION


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"latency": 1e300}, "faults.*.latency"),
        ({"latency": {"min": 0, "max": LONGEST_LATENCY + 1}}, "faults.*.latency"),
        ({"forceStatus": 503, "forceCount": 10**30}, "faults.*.forceCount"),
        ({"dropNext": LARGEST_COUNT + 1}, "faults.*.dropNext"),
    ],
)
def test_a_fault_number_out_of_range_is_refused(raw: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        rule_from_json("faults.*", raw)
    assert refused.value.problems[0].field == field


def test_the_clock_never_runs_past_the_last_instant_a_timestamp_can_show() -> None:
    class Source:
        now_value = LATEST - 1000

        def now(self) -> int:
            return self.now_value

    source = Source()
    clock = ControllableClock(source)
    assert clock.now() == LATEST - 1000
    source.now_value = LATEST + 5_000_000
    assert clock.now() == LATEST
    assert format_rfc3339(clock.now()) == "9999-12-31T23:59:59.999Z"
    clock.freeze()
    clock.advance(10_000_000)
    assert clock.now() == LATEST


def test_an_advance_past_the_end_or_a_set_before_1970_is_refused_and_moves_nothing(world: World) -> None:
    sandbox = Sandbox(world)
    sandbox.control_clock({"freeze": True})
    sandbox.control_clock({"set": "9999-12-31T23:59:59Z"})
    for command, field in (({"advance": 1e300}, "advance"), ({"set": "1969-12-31T23:59:59Z"}, "set")):
        with pytest.raises(InvalidRequest) as refused:
            sandbox.control_clock(command)
        assert refused.value.problems[0].field == field
        assert sandbox.clock_state()["now"] == "9999-12-31T23:59:59.000Z"
    sandbox.control_clock({"advance": 0.999})
    assert sandbox.clock.now() == parse_rfc3339("9999-12-31T23:59:59.999Z")


def test_two_sandboxes_with_the_same_seed_give_different_tokens_but_the_same_ids(world: World) -> None:
    first, second = Sandbox(world), Sandbox(world)
    assert first.issue_token(dict(FORM)).access_token != second.issue_token(dict(FORM)).access_token
    caller = world.account("1000001")
    assert caller is not None
    assert (
        first.call("createConversation", caller, CREATE)["id"]
        == second.call("createConversation", caller, CREATE)["id"]
    )


@pytest.mark.parametrize("operation", ["createConversation", "addConversationMessage", "updateConversation"])
def test_a_write_whose_answer_cannot_be_built_stores_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    sandbox = Sandbox(world)
    caller = world.account("1000001")
    assert caller is not None
    created = sandbox.call("createConversation", caller, CREATE)
    before = [*sandbox.store.all_conversations()], [*sandbox.store.all_messages()]

    def broken(*args: object) -> dict[str, object]:
        raise RuntimeError("rendering failed")

    # The domain answers with records and the caller renders them (here Sandbox.call, as dicts);
    # the sandbox stores a write only once its answer is rendered.
    monkeypatch.setattr(views_module, "conversation_view", broken)
    monkeypatch.setattr(views_module, "message_view", broken)
    body = {
        "createConversation": CREATE,
        "addConversationMessage": {"dscoConversationId": created["id"], "message": "hello"},
        "updateConversation": {"dscoConversationId": created["id"], "title": "Renamed"},
    }[operation]
    with pytest.raises(RuntimeError):
        sandbox.call(operation, caller, body)
    assert ([*sandbox.store.all_conversations()], [*sandbox.store.all_messages()]) == before


def test_the_contract_states_the_same_bounds_as_the_domain() -> None:
    """The control plane's schemas document the ranges; the domain enforces them (one number each)."""
    from simulator.domain.config import SEED_RANGE

    root = Path(__file__).resolve().parents[2] / "contracts" / "schemas"
    config = json.loads((root / "sandbox-config.json").read_text("utf-8"))["properties"]
    rule = json.loads((root / "sandbox-fault-rule.json").read_text("utf-8"))["properties"]
    assert (config["seed"]["minimum"], config["seed"]["maximum"]) == SEED_RANGE
    for node in (
        config["lag"]["properties"]["min"],
        config["lag"]["properties"]["max"],
        config["scrollTtl"],
        config["tokenTtl"],
        config["untilMargin"],
    ):
        assert node["maximum"] == LONGEST_DURATION
    for node in (config["rateLimit"]["properties"]["perSecond"], rule["forceCount"], rule["dropNext"]):
        assert node["maximum"] == LARGEST_COUNT
    # The latency's bound is checked by the domain alone (a bound inside the schema's "a number or a
    # range" would be explained as "expected a number"); the schema's description states it.
    assert f"at most {LONGEST_LATENCY:g}" in rule["latency"]["description"]
