"""What the state of a sandbox is: the one definition every export, import, reset and store uses.

A sandbox's state is an ordered list of parts (:data:`STATE_PARTS`, then one part per attached
extension). Each part says, in one place:

* its ``name``, the key it has in the state document (``contracts/schemas/sandbox-state.json``);
* its :class:`Kind`: a header, a value derived at export, a small section exported whole, or a
  large collection of records (exported in batches, kept by a store as one row per record);
* how it is exported, and how it is checked and restored on import. An import first *prepares*
  every part (checks, builds what it will put in place) and only then runs the appliers the parts
  returned, in order, so a refused document leaves the sandbox untouched;
* what a reset does to it (:class:`OnReset`);
* ``holds``: the sandbox attributes (dotted paths) that are this part's state. Together with
  :data:`NOT_STATE` they account for every attribute a sandbox and the objects it owns hold,
  which ``tests/domain/test_state_parts.py`` checks by walking a live sandbox: a piece of state
  added without a part (or a reason it is not state) fails that test.

The order of the list is the order of the document's small sections and the order in which
appliers and resets run: the generators come before the settings (a reset's fault plan draws from
the re-seeded ``faults`` generator), the world after both (putting it in force rebuilds the
services over the restored generators and store), and the extensions last (they act on a sandbox
already restored or reset).

Stores (``statefile.py``, ``statedb.py``, the namespace stores, a shared store later) learn from
here which parts are collections (:func:`collection_names`) and which are derived at export and
not kept (:func:`derived_names`); everything else is a small section they keep as a value. A
store that saves change by change follows the sandbox through ``state_changes.ChangeTracker``,
which reports the changes of each collection part by the part's ``key``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .auth import Authenticator, token_to_json
from .clock import format_rfc3339, parse_rfc3339
from .config import SandboxConfig
from .errors import InvalidRequest, Problem
from .faults import FaultPlan, rule_from_json
from .state import (
    GENERATORS,
    STATE_FORMAT,
    STATE_VERSION,
    conversation_to_json,
    generators_from_json,
    message_to_json,
    notification_to_json,
    notifications_from_json,
    rebuild_store,
)
from .store import MemoryStore
from .world import World

if TYPE_CHECKING:
    from .sandbox import Sandbox

Applier = Callable[[], None]


class Kind(Enum):
    HEADER = "header"
    """Says what the document is (format, version); kept by stores, checked by the schema."""
    DERIVED = "derived"
    """Computed at export from the rest (the export time, the last sequence number); ignored on
    import and not kept by stores."""
    SECTION = "section"
    """A small value, exported whole; a store keeps it as a value and rewrites it when it changed."""
    COLLECTION = "collection"
    """A list of records that grows with use; exported in batches, kept by a store as rows."""


class OnReset(Enum):
    KEPT = "kept"
    CLEARED = "cleared"
    RESEEDED = "re-seeded from the seed"
    START_SETTINGS = "back to the start settings when asked (restoreSettings), else kept"
    EXTENSION = "as the extension decides (its after_reset)"
    NOT_APPLICABLE = "not state of its own"


@dataclass
class Incoming:
    """A state document being imported, and what its parts made of it so far.

    The settings and the store are made on first use, whichever part asks first, so the parts can
    be prepared in the order of the list whatever they depend on.
    """

    sandbox: Sandbox
    world: World
    document: Mapping[str, Any]
    given_store: MemoryStore | None = None
    _config: SandboxConfig | None = field(default=None, repr=False)
    _store: MemoryStore | None = field(default=None, repr=False)

    @property
    def config(self) -> SandboxConfig:
        if self._config is None:
            try:
                self._config = self.sandbox.config.updated(self.document["config"])
            except InvalidRequest as error:
                raise InvalidRequest(
                    *(Problem(f"config.{p.field}", p.message) for p in error.problems), code="invalid_state"
                ) from None
        return self._config

    @property
    def store(self) -> MemoryStore:
        """The document's conversations and messages, checked against the world and each other (or
        the store a caller built already from the same records, a database's rows)."""
        if self._store is None:
            self._store = self.given_store or rebuild_store(self.world, self.document)
        return self._store


def _nothing_to_prepare(sandbox: Sandbox, incoming: Incoming) -> Applier | None:
    return None


def _keep(sandbox: Sandbox, restore_settings: bool) -> None:
    return None


def _not_exported(sandbox: Sandbox) -> Any:
    return None


def _same(item: Any) -> Any:
    return item


@dataclass(frozen=True)
class StatePart:
    name: str
    """Its key in the state document."""
    kind: Kind
    on_reset: OnReset
    holds: tuple[str, ...]
    """The sandbox attributes (dotted paths from the sandbox) that are this part's state."""
    export: Callable[[Sandbox], Any] = _not_exported
    """A header, derived value or section: its value (``None`` leaves it out)."""
    records: Callable[[Sandbox], Sequence[Any]] | None = None
    """A collection: its records now (immutable, so a list of them is a consistent snapshot)."""
    to_json: Callable[[Any], Any] = _same
    """A collection: one record as the document holds it."""
    key: Callable[[Any], str] = str
    """A collection: what tells one of its records from the others (a store's row key)."""
    prepare: Callable[[Sandbox, Incoming], Applier | None] = _nothing_to_prepare
    """Check this part of an incoming document (raise :class:`InvalidRequest`, code
    ``invalid_state``, naming the field) and return what puts it in place, if anything."""
    reset: Callable[[Sandbox, bool], None] = _keep
    """Do to this part what a reset does (the flag: whether settings go back to the start ones)."""


# --- the parts ---------------------------------------------------------------------------------
def _export_format(sandbox: Sandbox) -> Any:
    return STATE_FORMAT


def _export_version(sandbox: Sandbox) -> Any:
    return STATE_VERSION


def _export_time(sandbox: Sandbox) -> Any:
    return format_rfc3339(sandbox.clock.now())


def _export_clock(sandbox: Sandbox) -> Any:
    return sandbox.clock_state()


def _export_config(sandbox: Sandbox) -> Any:
    return sandbox.config_json()


def _export_world(sandbox: Sandbox) -> Any:
    return sandbox.world.document


def _export_notification_sequence(sandbox: Sandbox) -> Any:
    return sandbox.notifications.seq


def _conversations(sandbox: Sandbox) -> Sequence[Any]:
    return list(sandbox.store.all_conversations())


def _messages(sandbox: Sandbox) -> Sequence[Any]:
    return list(sandbox.store.all_messages())


def _tokens(sandbox: Sandbox) -> Sequence[Any]:
    return list(sandbox.auth.issued.values())


def _notifications(sandbox: Sandbox) -> Sequence[Any]:
    return sandbox.notifications.all()


def _prepare_clock(sandbox: Sandbox, incoming: Incoming) -> Applier:
    raw = incoming.document["clock"]
    instant = parse_rfc3339(raw["now"])
    if instant is None:
        raise InvalidRequest.at("clock.now", "is not an RFC 3339 date-time", code="invalid_state")
    return partial(sandbox.clock.restore, instant, frozen=bool(raw["frozen"]))


def _export_generators(sandbox: Sandbox) -> Any:
    return {name: sandbox._generator_json(name, rng) for name, rng in sandbox._generators.items()}


def _prepare_generators(sandbox: Sandbox, incoming: Incoming) -> Applier:
    generators = generators_from_json(incoming.document, incoming.config.seed)

    def apply() -> None:
        sandbox._generators = generators

    return apply


def _reseed_generators(sandbox: Sandbox, restore_settings: bool) -> None:
    """Every generator starts its stream again (ids repeat those of before the reset, which the
    reset cleared; tokens do not come from a generator and stay valid)."""
    sandbox._generators = {name: sandbox._seeded(name) for name in GENERATORS}


def _prepare_config(sandbox: Sandbox, incoming: Incoming) -> Applier:
    config = incoming.config
    rules = {
        operation: rule_from_json(f"config.faults.{operation}", raw)
        for operation, raw in incoming.document["config"].get("faults", {}).items()
    }

    def apply() -> None:
        sandbox.config.copy_from(config)
        sandbox.journal.resize(sandbox.config.journal_size)
        sandbox.faults = FaultPlan(sandbox._generators["faults"])
        for operation, rule in rules.items():
            sandbox.faults.configure(operation, rule)

    return apply


def _reset_config(sandbox: Sandbox, restore_settings: bool) -> None:
    """The fault rules are cleared (a fresh plan drawing from the re-seeded generator); the other
    settings stay unless the start ones are asked for."""
    if restore_settings:
        sandbox.config.copy_from(sandbox._initial_config)
        sandbox.rate_limiter.per_second = sandbox.config.rate_limit_per_second
        sandbox.journal.resize(sandbox.config.journal_size)
    sandbox.faults = FaultPlan(sandbox._generators["faults"])


def _prepare_world(sandbox: Sandbox, incoming: Incoming) -> Applier:
    world, store = incoming.world, incoming.store
    return partial(sandbox._attach, world, store)


def _reset_world(sandbox: Sandbox, restore_settings: bool) -> None:
    """The world stays; the services over it are rebuilt with the re-seeded generators."""
    sandbox._attach(sandbox.world, sandbox.store)


def _export_sequence(sandbox: Sandbox) -> Any:
    return sandbox.store.last_seq()


def _prepare_sequence(sandbox: Sandbox, incoming: Incoming) -> Applier:
    """New conversations and messages go on after the saved number, as they would have in the
    sandbox it was saved from (records alone can fall short of it: a change of reference ids takes
    a number of its own)."""
    store, last = incoming.store, incoming.document.get("sequence", 0)
    return partial(store.continue_after, last)


def _clear_store(sandbox: Sandbox, restore_settings: bool) -> None:
    sandbox.store.clear()


def _prepare_tokens(sandbox: Sandbox, incoming: Incoming) -> Applier:
    world, tokens = incoming.world, list(incoming.document.get("tokens", []))

    def apply() -> None:
        sandbox.auth = Authenticator(world, sandbox.config)
        sandbox.auth.restore(tokens)

    return apply


def _prepare_notifications(sandbox: Sandbox, incoming: Incoming) -> Applier:
    """Both notification parts: the list is checked against the incoming messages, and the
    sequence goes on from whichever is larger, the saved counter or the last notification kept."""
    from .sandbox import _payload  # the sandbox module imports this one

    document = incoming.document
    notifications = notifications_from_json(document, incoming.store, partial(_payload, incoming.world))
    last = max([document.get("notificationSequence", 0), *(n.seq for n in notifications)])
    return partial(sandbox.notifications.restore, notifications, last)


def _clear_notifications(sandbox: Sandbox, restore_settings: bool) -> None:
    sandbox.notifications.clear()


STATE_PARTS: tuple[StatePart, ...] = (
    StatePart("format", Kind.HEADER, OnReset.NOT_APPLICABLE, (), export=_export_format),
    StatePart("version", Kind.HEADER, OnReset.NOT_APPLICABLE, (), export=_export_version),
    StatePart(
        "exportedAt",
        Kind.DERIVED,
        OnReset.NOT_APPLICABLE,
        (),
        export=_export_time,
    ),
    StatePart(
        "clock",
        Kind.SECTION,
        OnReset.KEPT,
        ("clock._offset", "clock._frozen_at", "clock._floor"),
        export=_export_clock,
        prepare=_prepare_clock,
    ),
    StatePart(
        "random",
        Kind.SECTION,
        OnReset.RESEEDED,
        ("_generators",),
        export=_export_generators,
        prepare=_prepare_generators,
        reset=_reseed_generators,
    ),
    StatePart(
        "config",
        Kind.SECTION,
        OnReset.START_SETTINGS,
        ("config", "faults.rules"),
        export=_export_config,
        prepare=_prepare_config,
        reset=_reset_config,
    ),
    StatePart(
        "world",
        Kind.SECTION,
        OnReset.KEPT,
        ("world",),
        export=_export_world,
        prepare=_prepare_world,
        reset=_reset_world,
    ),
    StatePart(
        "notificationSequence",
        Kind.SECTION,
        OnReset.KEPT,
        ("notifications._seq",),
        export=_export_notification_sequence,
        # restored with the notifications, which it must not fall behind
    ),
    StatePart(
        "sequence",
        Kind.SECTION,
        OnReset.CLEARED,  # numbering starts again with the cleared store
        ("store._seq",),
        export=_export_sequence,
        prepare=_prepare_sequence,
    ),
    StatePart(
        "conversations",
        Kind.COLLECTION,
        OnReset.CLEARED,
        (
            "store._conversations",
            "store._by_reference",
            "store._conversations_by_account",
            "store._messages_by_conversation",
        ),
        records=_conversations,
        to_json=conversation_to_json,
        key=attrgetter("id"),
        reset=_clear_store,
        # put in place with the world (one store holds both collections): see _prepare_world
    ),
    StatePart(
        "messages",
        Kind.COLLECTION,
        OnReset.CLEARED,  # with the conversations: one store holds both
        ("store._messages", "store._messages_by_account"),
        records=_messages,
        to_json=message_to_json,
        key=attrgetter("id"),
    ),
    StatePart(
        "tokens",
        Kind.COLLECTION,
        OnReset.KEPT,  # a client logged in before a reset keeps working after it
        ("auth._tokens",),
        records=_tokens,
        to_json=token_to_json,
        key=attrgetter("access_token"),
        prepare=_prepare_tokens,
    ),
    StatePart(
        "notifications",
        Kind.COLLECTION,
        OnReset.CLEARED,
        ("notifications._by_account",),
        records=_notifications,
        to_json=notification_to_json,
        key=attrgetter("id"),
        prepare=_prepare_notifications,
        reset=_clear_notifications,
    ),
)
"""The sandbox's own parts, in order. Extension parts follow them (:func:`parts_of`)."""


# --- open scrolls ----------------------------------------------------------------------------------
def _export_scrolls(sandbox: Sandbox) -> Any:
    return sandbox.conversations.scrolls.export() or None


def _prepare_scrolls(sandbox: Sandbox, incoming: Incoming) -> Applier | None:
    """Open scrolls continue after a restore (and on another process of a shared store). Their
    records are checked by the state document's schema; a conversation scroll's matches are looked
    up in the restored store, so they show those conversations as the document holds them."""
    raw = incoming.document.get("scrolls")
    if raw is None:
        return None
    return lambda: sandbox.conversations.scrolls.restore(raw, sandbox.store.conversation)


SCROLLS_PART = StatePart(
    "scrolls",
    Kind.SECTION,
    OnReset.CLEARED,  # the services rebuilt by the world's reset come with an empty registry
    ("conversations.scrolls",),
    export=_export_scrolls,
    prepare=_prepare_scrolls,
)
"""After every other part of the sandbox's own: it is applied to the services the world's part
rebuilds and looks its conversations up in the restored store."""


# --- extensions --------------------------------------------------------------------------------
def extension_part(name: str) -> StatePart:
    """The part an extension attached under ``name`` is: a section it exports, checks and restores
    itself, after everything else (it acts on a sandbox already restored or reset)."""

    def export(sandbox: Sandbox) -> Any:
        return sandbox.extensions[name].export()

    def prepare(sandbox: Sandbox, incoming: Incoming) -> Applier:
        return sandbox.extensions[name].prepare_import(incoming.document.get(name), incoming.world)

    def reset(sandbox: Sandbox, restore_settings: bool) -> None:
        sandbox.extensions[name].after_reset()

    return StatePart(name, Kind.SECTION, OnReset.EXTENSION, (), export=export, prepare=prepare, reset=reset)


def parts_of(sandbox: Sandbox) -> list[StatePart]:
    """Every part of this sandbox's state, in order: its own, its open scrolls, then one per
    attached extension."""
    return [
        *STATE_PARTS,
        SCROLLS_PART,
        *(extension_part(name) for name in list(sandbox.extensions)),
    ]


def collection_names() -> tuple[str, ...]:
    """The parts a store keeps as rows (and an export sends in batches)."""
    return tuple(part.name for part in STATE_PARTS if part.kind is Kind.COLLECTION)


def derived_names() -> tuple[str, ...]:
    """The parts made at export from the rest: a store keeps none of them."""
    return tuple(part.name for part in STATE_PARTS if part.kind is Kind.DERIVED)


# --- what is not state ---------------------------------------------------------------------------
NOT_STATE: Mapping[str, str] = MappingProxyType(
    {
        "lock": "a lock: serialises calls, holds nothing",
        "after_change": "the persistence hook: where state goes, not state",
        "_operation": "the operation running now; None between calls",
        "_initial_config": "the settings this process started with (what restoreSettings restores); "
        "a restored document keeps the ones of the process it is restored into",
        "_saved_generators": "a cache of the generators' encoded positions",
        "_notification_ids": "the 'notifications' generator under a shorter name",
        "_operations": "the operations' functions, rebuilt with the services",
        "extensions": "each extension is a part of its own (extension_part)",
        "rate_limiter": "calls counted in the last second of sandbox time are traffic, not state: "
        "a restore, like a reset, starts with none counted (with a frozen clock that lets at most "
        "one second's allowance more through at the restored instant)",
        "journal": "a bounded log of what happened, for people to read; reads never write to disk",
        "clock._source": "the wall clock it follows",
        "clock._lock": "a lock",
        "faults.rng": "the 'faults' generator, kept in random",
        "faults._lock": "a lock",
        "notifications._lock": "a lock",
        "notifications._per_account": "a bound fixed in code",
        "notifications._listeners": "webhook delivery's subscription, made again by the layer above",
        "notifications.observer": "persistence's change tracking",
        "store.observer": "persistence's change tracking",
        "auth._sweep_at": "when to next drop expired tokens: an amortisation counter",
        "auth.world": "the world, kept in world",
        "auth.config": "the settings, kept in config",
        "conversations.create_conversation": "an operation of the service (a bound method of its parts)",
        "conversations.update_conversation": "an operation of the service (a bound method of its parts)",
        "conversations.add_message": "an operation of the service (a bound method of its parts)",
        "conversations.list_conversations": "an operation of the service (a bound method of its parts)",
        "conversations.list_messages": "an operation of the service (a bound method of its parts)",
    }
)
"""Attributes of a sandbox (and of the objects it owns) that no part holds, each with why.

Walked with the parts' ``holds`` by ``tests/domain/test_state_parts.py``: an attribute in neither
fails it. An attribute that is the same object as one a part holds (the services' world, store,
clock and generators) is that part's already and needs no entry."""


def forget_transient(sandbox: Sandbox) -> None:
    """What an import and a reset both drop of what is not state: the calls counted against the
    rate limit, and the journal."""
    sandbox.rate_limiter.clear()
    sandbox.journal.clear()


# --- export, import and reset over the parts ----------------------------------------------------
def snapshot(sandbox: Sandbox, *, collections: bool) -> tuple[dict[str, Any], dict[str, Sequence[Any]]]:
    """The small parts' values and the collections' records, as they are now (call under the
    sandbox's lock; the records are immutable, so they can be encoded after it is released)."""
    parts = parts_of(sandbox)
    records: dict[str, Sequence[Any]] = {}
    if collections:
        for part in parts:
            if part.records is not None:
                records[part.name] = part.records(sandbox)
    head: dict[str, Any] = {}
    for part in parts:
        if part.kind is not Kind.COLLECTION:
            value = part.export(sandbox)
            if value is not None:
                head[part.name] = value
    return head, records


def collection_encoders(sandbox: Sandbox) -> dict[str, Callable[[Any], Any]]:
    """Each collection's name and how one of its records goes into the document, in order."""
    return {part.name: part.to_json for part in parts_of(sandbox) if part.kind is Kind.COLLECTION}


def prepare_import(
    sandbox: Sandbox, world: World, document: Mapping[str, Any], store: MemoryStore | None
) -> list[Applier]:
    """Check every part of ``document`` and return what puts them in place, in order; raises
    :class:`InvalidRequest` (``invalid_state``) having changed nothing."""
    incoming = Incoming(sandbox, world, document, store)
    appliers: list[Applier] = []
    for part in parts_of(sandbox):
        apply = part.prepare(sandbox, incoming)
        if apply is not None:
            appliers.append(apply)
    return appliers


def reset_parts(sandbox: Sandbox, restore_settings: bool) -> None:
    """Do to every part what a reset does to it, in order (call under the sandbox's lock)."""
    forget_transient(sandbox)
    for part in parts_of(sandbox):
        part.reset(sandbox, restore_settings)
