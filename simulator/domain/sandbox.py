"""One sandbox: a world, a store, a clock, settings and the services over them.

Everything that would otherwise be a module global lives on this object, so several sandboxes can
run side by side in one process (one per test, or one per namespace later). Its single re-entrant
lock serialises every operation: simple, and enough for a local fake, with no lost or torn writes
when many client threads call at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from .answers import Answer, Planned, nothing_to_store
from .auth import Authenticator, IssuedToken
from .clock import EARLIEST, LATEST, MICROS, ControllableClock, format_rfc3339, parse_rfc3339, seconds
from .config import SandboxConfig
from .errors import InvalidRequest
from .faults import FaultDecision, FaultPlan, rule_from_json
from .journal import Journal
from .models import Account, Conversation, Message, References, uuid4_text
from .notifications import NotificationCenter
from .operations import WRITE_OPERATIONS
from .paging import ScrollRegistry
from .ratelimit import RateLimiter
from .service import ConversationService
from .state import GENERATORS, Generator, generator_to_json
from .state_parts import collection_encoders, forget_transient, prepare_import, reset_parts, snapshot
from .store import MemoryStore, Store
from .views import answer_view, encode_json, message_view
from .world import World

_Operation = Callable[[Account, Mapping[str, Any]], Planned]
R = TypeVar("R")


class SandboxExtension(Protocol):
    """Something a layer above attaches to a sandbox to follow its clock, resets and state.

    The domain knows nothing of what an extension does (the counterpart personas are one); it only
    tells each one when the clock moved, when the sandbox was reset, and asks it for its part of the
    exported state. Every clock change goes through :meth:`Sandbox.control_clock`, so an extension
    sees every advance, whoever asked for it.
    """

    def clock_moved(self, before: int, after: int) -> None:
        """The clock went from ``before`` to ``after`` (called with the sandbox lock held)."""

    def after_reset(self) -> None:
        """The sandbox was just reset."""

    def export(self) -> Any:
        """This extension's part of the exported state (JSON), or None to leave it out."""

    def prepare_import(self, raw: Any, world: World) -> Callable[[], None]:
        """Check ``raw`` (this extension's part of a state document, None when absent) against the
        world being imported, and return what applies it; raise :class:`InvalidRequest` to refuse
        the whole import."""
        ...


class Sandbox:
    def __init__(
        self,
        world: World,
        config: SandboxConfig | None = None,
        clock: ControllableClock | None = None,
        store: Store | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self._initial_config = replace(self.config)
        """The settings this sandbox started with, for a reset that restores them."""
        self.clock = clock or ControllableClock()
        self.lock = threading.RLock()
        self.rate_limiter = RateLimiter(self.config.rate_limit_per_second)
        self.journal = Journal(self.config.journal_size)
        self.notifications = NotificationCenter()
        self._operation: str | None = None
        """The operation running now, so that the notifications it raises are journaled with it."""
        self.after_change: Callable[[], None] | None = None
        """Called under the lock after every change of state (a write, a token, reset, clock, config,
        import), before the caller gets its answer: where persistence makes the change durable. It
        may raise :class:`StorageFailed` after putting the sandbox back as it was."""
        self._generators = {name: self._seeded(name) for name in GENERATORS}
        self._saved_generators: dict[str, tuple[Generator, int, dict[str, Any]]] = {}
        self.faults = FaultPlan(self._generators["faults"])
        self._attach(world, store or MemoryStore())
        self.auth = Authenticator(world, self.config)
        self.extensions: dict[str, SandboxExtension] = {}
        """Attached by layers above, by the name of their part in the exported state."""

    def attach(self, name: str, extension: SandboxExtension) -> None:
        """Attach ``extension`` under ``name`` (its key in the exported state)."""
        with self.lock:
            self.extensions[name] = extension

    def _seeded(self, name: str) -> Generator:
        return Generator(f"{self.config.seed}:{name}")

    def _generator_json(self, name: str, rng: Generator) -> dict[str, Any]:
        """The generator's saved position, encoded again only when it moved (see :class:`Generator`).
        The same dict is handed out until then, so callers must not change it."""
        saved = self._saved_generators.get(name)
        if saved is not None and saved[0] is rng and saved[1] == rng.draws:
            return saved[2]
        encoded = generator_to_json(rng)
        self._saved_generators[name] = (rng, rng.draws, encoded)
        return encoded

    def _attach(self, world: World, store: Store) -> None:
        """(Re)build the services over ``world`` and ``store``, with the current generators."""
        self.world = world
        self.store = store
        generators = self._generators
        self._notification_ids = generators["notifications"]
        self.conversations = ConversationService(
            world,
            store,
            self.clock,
            self.config,
            ids=generators["ids"],
            lags=generators["lags"],
            scrolls=ScrollRegistry(generators["scrolls"]),
            on_message=self._notify,
        )
        service = self.conversations
        self._operations: dict[str, _Operation] = {
            "createConversation": service.create_conversation,
            "updateConversation": service.update_conversation,
            "getConversations": _read(service.list_conversations),
            "addConversationMessage": service.add_message,
            "getConversationMessages": _read(service.list_messages),
        }

    def reset(self, *, restore_settings: bool = False) -> None:
        """Back to the loaded world with no conversations, journal, notifications or faults.

        The clock, the other settings and issued tokens stay, so a client logged in before a reset
        (a test session's fixture, say) keeps working after it. With ``restore_settings`` the
        settings also go back to those the sandbox started with (a shared sandbox left with the
        rate limit off by one run starts the next one as configured).
        """
        with self.lock:
            reset_parts(self, restore_settings)
            self.changed()

    def changed(self) -> None:
        """Report a change of state (under the lock) to :attr:`after_change`: every method here that
        changes state calls it, and so does a layer above that keeps a part of the state of its own
        (the persona configuration)."""
        if self.after_change is not None:
            self.after_change()

    # --- entry points used by every front end ---------------------------------------------
    def issue_token(self, form: dict[str, str]) -> IssuedToken:
        with self.lock:
            token = self.auth.issue(form, self.clock.now())
            self.changed()
            return token

    def authenticate(self, token: str) -> Account:
        with self.lock:
            return self.auth.authenticate(token, self.clock.now())

    def admit(self, caller: Account, operation: str) -> None:
        """Count a call against the rate limit, as production's gateway does before anything else."""
        if not self.config.rate_limit:
            return
        with self.lock:
            self.rate_limiter.per_second = self.config.rate_limit_per_second
            self.rate_limiter.check(caller.id, operation, self.clock.now())

    def answer(
        self, operation: str, caller: Account, body: Mapping[str, Any], render: Callable[[Answer], R]
    ) -> R:
        """Run one API operation for ``caller`` with a schema-valid body and return its answer as
        ``render`` makes it: the one path every front end takes. The domain answers with records;
        HTTP renders them as text (``http/presenter.py``), :meth:`call` as dicts. A write is stored
        only once its answer is rendered, so a rendering that fails leaves nothing behind."""
        with self.lock:
            # The operation running now, so that the notifications it raises are journaled with it
            # (a try block, not a context manager: this runs once per API call).
            self._operation = operation
            try:
                planned = self._operations[operation](caller, body)
                rendered = render(planned.answer)
                planned.store()
                if operation in WRITE_OPERATIONS:
                    self.changed()
                return rendered
            finally:
                self._operation = None

    def call(self, operation: str, caller: Account, body: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`answer` as the JSON value the API sends (for tests, tools, the console and the
        personas)."""
        with self.lock:
            world = self.world
            return self.answer(operation, caller, body, lambda answer: answer_view(world, answer, caller.id))

    def fault_for(self, operation: str) -> FaultDecision:
        return self.faults.decide(operation)

    # --- notifications ---------------------------------------------------------------------
    def _notify(self, message: Message, conversation: Conversation) -> None:
        """Tell the recipient about a new message, unless it is part of a test conversation."""
        if message.is_test:
            return
        notification = self.notifications.publish(
            uuid4_text(self._notification_ids.getrandbits(128)),
            message.recipient_id,
            message.create_time,
            _payload(self.world, message, conversation.references),
            (conversation.id, message.id),
        )
        self.journal.record(
            "notification",
            self.clock.now(),
            account=message.recipient_id,
            operation=self._operation,
            notification=notification,
        )

    # --- the clock -------------------------------------------------------------------------
    def clock_state(self) -> dict[str, Any]:
        return {"now": format_rfc3339(self.clock.now()), "frozen": self.clock.frozen}

    def control_clock(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """Apply one schema-valid clock command: ``freeze``, ``set``, ``advance`` or ``resume``.

        This is the one entry point for every change of sandbox time (the control plane's route,
        the console and the test tools all call it); attached extensions are told about each move
        (and may act at the instants it passed over) before the new state is answered. The clock
        stays between the Unix epoch and the last instant a timestamp can show; a command that
        would leave that range is refused (400) and moves nothing.
        """
        with self.lock:
            before = self.clock.now()
            if command.get("resume") is True:
                self.clock.resume()
            elif "freeze" in command:
                self.clock.freeze(bool(command["freeze"]))
            elif "set" in command:
                instant = parse_rfc3339(command["set"])
                if instant is None:
                    raise InvalidRequest.at(
                        "set", f"{command['set']!r} is not an RFC 3339 date-time (like 2023-05-01T09:29:55Z)"
                    )
                if instant < EARLIEST:
                    raise InvalidRequest.at(
                        "set", f"{command['set']!r} is before {format_rfc3339(EARLIEST)}, the earliest time"
                    )
                self.clock.set(instant)
            elif "advance" in command:
                advance = float(command["advance"])
                room = LATEST - self.clock.now()
                if advance * MICROS > room:
                    raise InvalidRequest.at(
                        "advance",
                        f"{advance!r:.40} seconds is out of range: at most {room / MICROS:.3f} seconds "
                        f"now, since the clock stops at {format_rfc3339(LATEST)}",
                    )
                self.clock.advance(seconds(advance))
            after = self.clock.now()
            # The answer is the instant the command took effect: a running clock moves on while
            # the extensions act and the change is saved.
            state = {"now": format_rfc3339(after), "frozen": self.clock.frozen}
            if after != before:
                for extension in list(self.extensions.values()):
                    extension.clock_moved(before, after)
            self.changed()
            return state

    # --- settings and faults ---------------------------------------------------------------
    def config_json(self) -> dict[str, Any]:
        return {**self.config.to_json(), "faults": self.faults.to_json()}

    def update_config(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a schema-valid partial config; nothing changes unless all of it is acceptable."""
        with self.lock:
            updated = self.config.updated(changes)
            rules = {}
            faults = changes.get("faults", {})
            for operation, raw in (faults or {}).items():
                rules[operation] = None if raw is None else rule_from_json(f"faults.{operation}", raw)
            self.config.copy_from(updated)
            if "faults" in changes and faults is None:
                self.faults.clear()
            for operation, rule in rules.items():
                if rule is None:
                    self.faults.remove(operation)
                else:
                    self.faults.configure(operation, rule)
            self.journal.resize(self.config.journal_size)
            self.changed()
            return self.config_json()

    # --- state -----------------------------------------------------------------------------
    # What the state is, part by part, is defined once in ``state_parts.py``; these methods only
    # take the lock and assemble or apply what the parts give.
    def export_state(self, *, collections: bool = True) -> dict[str, Any]:
        """The state document; with ``collections=False`` only its small parts (the collections
        left out), cheap enough to take after every write, which is what persistence does."""
        if collections:
            return self.take_state()()
        with self.lock:
            return snapshot(self, collections=False)[0]

    def take_state(self) -> Callable[[], dict[str, Any]]:
        """The state as it is now, as a function that builds its document when called.

        The parts are read under the lock; the records are immutable, so turning them into JSON
        can wait until after the lock is released (a shared store's snapshot of a large state is
        encoded while other calls go on).
        """
        with self.lock:
            head, records = snapshot(self, collections=True)
            encoders = collection_encoders(self)

        def build() -> dict[str, Any]:
            document = dict(head)
            for name, to_json in encoders.items():
                document[name] = [to_json(item) for item in records[name]]
            return document

        return build

    def export_state_text(self, batch: int = 1000) -> Iterator[str]:
        """:meth:`export_state` as JSON text, piece by piece, for a state of any size.

        The records are taken under the lock (they are immutable, so references are a consistent
        snapshot) and encoded afterwards, so writes go on while a large export is being sent.
        """
        with self.lock:
            head, records = snapshot(self, collections=True)
            encoders = collection_encoders(self)
        yield encode_json(head)[:-1]
        for name, to_json in encoders.items():
            items = records[name]
            yield f',"{name}":['
            for start in range(0, len(items), batch):
                chunk = ",".join(encode_json(to_json(item)) for item in items[start : start + batch])
                yield chunk if start == 0 else "," + chunk
            yield "]"
        yield "}"

    def import_state(
        self, world: World, document: Mapping[str, Any], store: MemoryStore | None = None
    ) -> None:
        """Replace everything with a schema-valid state document whose world is already loaded.

        Every part is checked and built first; only then is anything swapped, so a refused
        document leaves this sandbox untouched. ``store`` is the document's conversations and
        messages when they were loaded already (:func:`~.state.build_store`), so the document may
        leave them out.
        """
        appliers = prepare_import(self, world, document, store)
        with self.lock:
            forget_transient(self)
            for apply in appliers:
                apply()
            self.changed()


def _read(operation: Callable[[Account, Mapping[str, Any]], Answer]) -> _Operation:
    """A list operation as the operations table holds them: a read stores nothing."""
    return lambda caller, body: Planned(operation(caller, body), nothing_to_store)


def _payload(world: World, message: Message, references: References) -> Callable[[], dict[str, Any]]:
    """What a notification about ``message`` says (with its conversation's reference ids as they
    were then), made when first read: most notifications never are."""

    def payload() -> dict[str, Any]:
        return {
            "event": "conversation.message.created",
            "dscoConversationId": message.conversation_id,
            "dscoMessageId": message.id,
            "message": message_view(world, message, references, message.recipient_id),
        }

    return payload
