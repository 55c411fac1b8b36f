"""Personas at run time: a schedule of due actions, run on the sandbox clock.

Every action is an API call of the persona's account, checked against the contract and run through
:meth:`Sandbox.call` exactly as the HTTP pipeline does (so the same rules, statuses, lags,
notifications, reference ids and webhooks apply), and journaled with a ``persona`` mark. Personas
learn about the other side's messages the way an integration does, from the notifications the
sandbox raises for every new message (test conversations raise none, so personas ignore them).

Time: when the clock is advanced (through :meth:`Sandbox.control_clock`, the one entry point),
the actions due in the interval run in order, the clock standing at each one's scheduled time, so
they are stamped with it rather than with the time of the advance. On a running clock a ticker
calls :meth:`Personas.catch_up` as time passes. The schedule is a heap ordered by (time, order of
scheduling), and all randomness comes from generators seeded by the persona seed, so the same seed
and the same calls give the same actions.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from typing import Any

from ..contract.validation import Contract
from ..domain.errors import InvalidRequest, Problem
from ..domain.notifications import Notification
from ..domain.sandbox import Sandbox
from ..domain.world import World
from .calls import ApiCaller
from .config import PersonaSettings, settings_from
from .retailer import RetailerRole
from .stage import Due, Stage
from .supplier import SupplierRole
from .templates import Filler

SCHEMA = "schemas/sandbox-personas.json"
"""The persona document's schema, under contracts/."""


class Personas:
    """The personas of one sandbox; attached to it as the ``personas`` part of its state."""

    def __init__(
        self,
        sandbox: Sandbox,
        contract: Contract,
        defaults: Callable[[], Mapping[str, Any]],
        settings: PersonaSettings | None = None,
    ) -> None:
        """``defaults`` reads the built-in behaviours, only when first needed: a sandbox whose
        personas nobody switches on pays nothing for them (no file read, no Faker)."""
        self.sandbox = sandbox
        self.contract = contract
        self._read_defaults = defaults
        self._defaults: Mapping[str, Any] | None = None
        self._settings = settings
        self._caller = ApiCaller(sandbox, contract)
        self._filler: Filler | None = None
        self.on_active: Callable[[], None] | None = None
        """Called whenever a configuration makes someone act (the server starts its ticker)."""
        self._restart()
        sandbox.attach("personas", self)
        sandbox.notifications.subscribe(self._heard)

    @property
    def settings(self) -> PersonaSettings:
        """The current settings (none acting until someone configures personas)."""
        if self._settings is None:
            self._settings = self.settings_for({})
        return self._settings

    @property
    def active(self) -> bool:
        """Whether any account is played (without reading the defaults when none was ever asked)."""
        settings = self._settings
        return settings is not None and bool(settings.retailer_accounts or settings.supplier_accounts)

    @property
    def defaults(self) -> Mapping[str, Any]:
        if self._defaults is None:
            self._defaults = self._read_defaults()
        return self._defaults

    # --- configuration ------------------------------------------------------------------------
    def settings_for(self, document: Mapping[str, Any]) -> PersonaSettings:
        """Settings from a schema-valid document, checked against this sandbox's world."""
        return settings_from(document, self.defaults, self.sandbox.world, self.sandbox.config.seed)

    def replace(self, document: Any) -> dict[str, Any]:
        """Check ``document`` (any JSON) whole and switch to it: what ``PUT /_sandbox/personas``, the
        test tools and the console do. Refused with one problem per field, changing nothing."""
        violations = self.contract.validate(self.contract.schema_uri(SCHEMA), document)
        if violations:
            raise InvalidRequest(*(Problem(v.path, v.message) for v in violations), code="contract_violation")
        try:
            settings = self.settings_for(document)
        except InvalidRequest as error:
            raise InvalidRequest(*error.problems, code="contract_violation") from None
        self.configure(settings)
        return self.to_json()

    def configure(self, settings: PersonaSettings) -> None:
        """Switch to ``settings``; the schedule starts over from the current time."""
        with self.sandbox.lock:
            self._settings = settings
            self._restart()
            self.sandbox.changed()
        if self.active and self.on_active is not None:
            self.on_active()

    def to_json(self) -> dict[str, Any]:
        with self.sandbox.lock:
            return {**self.settings.to_json(), "pending": len(self._heap)}

    # --- the sandbox's extension hooks -------------------------------------------------------
    def clock_moved(self, before: int, after: int) -> None:
        """Forward: run what fell due on the way. Back in time: the plan was for a future that is
        gone, so the schedule starts over from the new time (as after a reset)."""
        if after > before:
            self._run_due(after, since=before)
        else:
            self._restart()

    def after_reset(self) -> None:
        self._restart()

    def export(self) -> Any:
        return None if self._settings is None else dict(self._settings.document)

    def prepare_import(self, raw: Any, world: World) -> Callable[[], None]:
        if raw is None:
            return self._restart
        try:
            settings = settings_from(raw, self.defaults, world, self.sandbox.config.seed)
        except InvalidRequest as error:
            raise InvalidRequest(
                *(Problem(f"personas.{p.field}", p.message) for p in error.problems), code="invalid_state"
            ) from None
        return lambda: self.configure(settings)

    # --- running ------------------------------------------------------------------------------
    def catch_up(self) -> int:
        """Run what is due by now on a running clock (each action at the current time); the number
        of actions run. A frozen clock only moves through :meth:`Sandbox.control_clock`."""
        with self.sandbox.lock:
            if self.sandbox.clock.frozen:
                return 0
            return self._run_due(self.sandbox.clock.now())

    def next_due(self) -> int | None:
        with self.sandbox.lock:
            return self._heap[0].time if self._heap else None

    def _run_due(self, until: int, *, since: int | None = None) -> int:
        """Run the actions due by ``until``, in order. With ``since`` (an advance from ``since`` to
        ``until``), the clock stands at each action's own time while it runs, but never before
        ``since``: an action overdue from before the advance runs at its start, so that no record
        is ever stamped earlier than one a client could already have read."""
        clock = self.sandbox.clock
        frozen = clock.frozen
        count = 0
        with self.sandbox.lock:
            try:
                while self._heap and self._heap[0].time <= until:
                    due = heapq.heappop(self._heap)
                    if since is not None:
                        clock.restore(max(due.time, since), frozen=True)
                    due.run()
                    count += 1
            finally:
                if since is not None and count:
                    clock.restore(until, frozen=frozen)
        return count

    def _restart(self) -> None:
        """A fresh run from now: new generators, no conversations, the first openings drawn."""
        with self.sandbox.lock:
            settings = self._settings
            if settings is None:
                self._stage: Stage | None = None
                return
            if self._filler is None:
                self._filler = Filler(self.sandbox.world, settings.seed)
            self._filler.world = self.sandbox.world  # an import may have brought another world
            self._filler.reseed(settings.seed)
            self._stage = stage = Stage(self.sandbox, settings, self._caller, self._filler)
            self._retailers = RetailerRole(stage)
            self._suppliers = SupplierRole(stage)
            self._retailers.start(self.sandbox.clock.now())

    @property
    def _heap(self) -> list[Due]:
        return self._stage.heap if self._stage is not None else []

    # --- hearing the other side ---------------------------------------------------------------
    def _heard(self, notification: Notification) -> None:
        """A new message for ``notification.account_id``: schedule the persona's reaction, if any."""
        settings, recipient = self._settings, notification.account_id
        if settings is None or (
            recipient not in settings.retailer_accounts and recipient not in settings.supplier_accounts
        ):
            return  # nobody played is concerned: not even the payload is built
        payload = notification.render()
        message = self.sandbox.store.message(str(payload["dscoMessageId"]))
        if message is None:
            return
        if recipient in settings.retailer_accounts:
            self._retailers.heard(message)
        else:
            self._suppliers.heard(recipient, message)
