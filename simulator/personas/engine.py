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
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..contract import Contract
from ..domain.clock import seconds
from ..domain.errors import InvalidRequest, Problem
from ..domain.models import Conversation, Order, OrderLine
from ..domain.notifications import Notification
from ..domain.sandbox import Sandbox
from .calls import ApiCaller
from .config import Answer, Complaint, Delay, PersonaRole, PersonaSettings, settings_from
from .templates import Filler, fill, order_of

SCHEMA = "schemas/sandbox-personas.json"
"""The persona document's schema, under contracts/."""
_HOUR = 3600.0
_YEAR = 365 * 24 * _HOUR


@dataclass(order=True)
class _Due:
    time: int
    order: int
    label: str = field(compare=False)
    run: Callable[[], None] = field(compare=False)


@dataclass
class _RetailerThread:
    """A conversation a retailer persona opened, and where it stands."""

    account_id: str
    supplier_id: str
    complaint: Complaint
    consumer: dict[str, str]
    order: Order | None
    line: OrderLine | None
    waiting_since: int | None = None
    """When its unanswered message was sent (None: nothing unanswered)."""
    follow_ups: int = 0
    reopened: bool = False


@dataclass
class _SupplierThread:
    pending: bool = False
    asked: bool = False
    question_at: int | None = None


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

    def prepare_import(self, raw: Any) -> Callable[[], None]:
        if raw is None:
            return self._restart
        try:
            settings = self.settings_for(raw)
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
        """A fresh schedule from now: new generators, no threads, the first openings drawn."""
        with self.sandbox.lock:
            self._heap: list[_Due] = []
            self._order = 0
            self._retailer_threads: dict[str, _RetailerThread] = {}
            self._supplier_threads: dict[str, _SupplierThread] = {}
            self._references = 0
            self._openings: dict[tuple[str, bool], random.Random] = {}
            settings = self._settings
            if settings is None:
                return
            self._random = random.Random(f"{settings.seed}:personas")
            if self._filler is None:
                self._filler = Filler(self.sandbox.world, settings.seed)
            self._filler.world = self.sandbox.world  # an import may have brought another world
            self._filler.reseed(settings.seed)
            now = self.sandbox.clock.now()
            behaviour = settings.retailer
            for account_id in settings.retailer_accounts:
                for standard, rate in (
                    (False, behaviour.conversations_per_hour),
                    (True, behaviour.standard_per_hour),
                ):
                    self._schedule_opening(account_id, standard, rate, now)

    @property
    def _texts(self) -> Filler:
        assert self._filler is not None  # made by _restart as soon as there are settings
        return self._filler

    def _at(self, when: int, label: str, run: Callable[[], None]) -> None:
        self._order += 1
        heapq.heappush(self._heap, _Due(when, self._order, label, run))

    def _draw(self, delay: Delay) -> int:
        rng = self._random
        value = (
            rng.uniform(delay.low, delay.high)
            if delay.mode is None
            else rng.triangular(delay.low, delay.high, delay.mode)
        )
        return seconds(value)

    # --- acting: one API call, as HTTP would make it ------------------------------------------
    def _act(
        self, role: PersonaRole, action: str, account_id: str, operation: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        return self._caller.call(role, action, account_id, operation, body)

    def _send(self, role: PersonaRole, action: str, account_id: str, conversation_id: str, text: str) -> bool:
        body = {"dscoConversationId": conversation_id, "message": text}
        return self._act(role, action, account_id, "addConversationMessage", body) is not None

    def _set_status(
        self, role: PersonaRole, action: str, account_id: str, conversation_id: str, status: str
    ) -> bool:
        body = {"dscoConversationId": conversation_id, "status": status}
        return self._act(role, action, account_id, "updateConversation", body) is not None

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
        if recipient in self.settings.retailer_accounts and message.sender_role == "supplier":
            thread = self._retailer_threads.get(message.conversation_id)
            if thread is not None:
                thread.waiting_since, thread.follow_ups = None, 0
                question = message.text.rstrip().endswith("?")
                when = message.create_time + self._draw(self.settings.retailer.react_after)
                self._at(when, "react", lambda: self._react(message.conversation_id, question))
        elif recipient in self.settings.supplier_accounts and message.sender_role == "retailer":
            state = self._supplier_threads.setdefault(message.conversation_id, _SupplierThread())
            state.question_at = None
            if not state.pending:
                state.pending = True
                when = message.create_time + self._draw(self.settings.supplier.answer_after)
                self._at(when, "answer", lambda: self._answer(recipient, message.conversation_id))

    # --- the retailer persona -----------------------------------------------------------------
    def _schedule_opening(self, account_id: str, standard: bool, rate: float, after: int) -> None:
        if rate <= 0 or not any(
            c.standard == standard and c.weight > 0 for c in self.settings.retailer.complaints
        ):
            return
        stream = self._openings.get((account_id, standard))
        if stream is None:  # each account's openings draw from their own stream, so that what the
            # other side does (answering sooner or later) never moves when conversations open
            stream = random.Random(f"{self.settings.seed}:open:{account_id}:{standard}")
            self._openings[(account_id, standard)] = stream
        gap = min(stream.expovariate(rate / _HOUR), _YEAR)  # a tiny rate: practically never
        when = after + max(seconds(gap), 1000)
        self._at(when, "open", lambda: self._open(account_id, standard, rate))

    def _open(self, account_id: str, standard: bool, rate: float) -> None:
        now = self.sandbox.clock.now()
        self._schedule_opening(account_id, standard, rate, now)
        orders = sorted(
            (
                o
                for o in self.sandbox.world.orders
                if o.retailer_id == account_id and self.sandbox.world.trade(account_id, o.supplier_id)
            ),
            key=lambda o: o.dsco_order_id,
        )
        if not orders:
            return
        rng = self._openings[(account_id, standard)]
        kinds = [c for c in self.settings.retailer.complaints if c.standard == standard and c.weight > 0]
        complaint = rng.choices(kinds, weights=[c.weight for c in kinds])[0]
        order = rng.choice(orders)
        line = rng.choice(order.lines) if complaint.line_item and order.lines else None
        consumer = self._texts.consumer()
        thread = _RetailerThread(account_id, order.supplier_id, complaint, consumer, order, line)
        values = self._values(thread, now)
        context: dict[str, Any] = {"type": "order", "poNumber": order.po_number}
        if line is not None:
            context["lineItem"] = {"sku": line.sku, "lineNumber": line.line_number}
        self._references += 1
        body: dict[str, Any] = {
            "otherPartyDscoAccountId": order.supplier_id,
            "title": self._caller.title(fill(complaint.texts["title"], values)),
            "type": {"type": "standard"}
            if standard
            else {"type": "customer_care", "consumerId": consumer["consumerId"]},
            "context": context,
            "referenceId": f"persona-{now // 1000}-{self._references}",
            "initialMessage": {"message": fill(complaint.texts["message"], values)},
        }
        created = self._act("retailer", "open", account_id, "createConversation", body)
        if created is not None:
            conversation_id = str(created["id"])
            self._retailer_threads[conversation_id] = thread
            self._wait_for_answer(conversation_id, thread, now)

    def _wait_for_answer(self, conversation_id: str, thread: _RetailerThread, now: int) -> None:
        thread.waiting_since = now
        since = now
        self._at(
            now + seconds(self.settings.retailer.follow_up_after),
            "follow-up",
            lambda: self._follow_up(conversation_id, since),
        )

    def _follow_up(self, conversation_id: str, since: int) -> None:
        thread = self._retailer_threads.get(conversation_id)
        conversation = self.sandbox.store.conversation(conversation_id)
        if thread is None or conversation is None or thread.waiting_since != since:
            return  # answered since, or waiting for something newer
        if conversation.status == "closed" or thread.follow_ups >= self.settings.retailer.max_follow_ups:
            return
        now = self.sandbox.clock.now()
        if self._send(
            "retailer", "follow-up", thread.account_id, conversation_id, self._text(thread, "followUp", now)
        ):
            thread.follow_ups += 1
            self._at(
                now + seconds(self.settings.retailer.follow_up_after),
                "follow-up",
                lambda: self._follow_up(conversation_id, since),
            )

    def _react(self, conversation_id: str, question: bool) -> None:
        """The consumer read an answer: reply to a question, or thank, close, or leave it open."""
        thread = self._retailer_threads.get(conversation_id)
        conversation = self.sandbox.store.conversation(conversation_id)
        if thread is None or conversation is None:
            return
        behaviour, rng, now = self.settings.retailer, self._random, self.sandbox.clock.now()
        if conversation.status == "closed":
            self._maybe_reopen(conversation_id, thread, now)
            return
        if question:
            if self._send(
                "retailer", "reply", thread.account_id, conversation_id, self._text(thread, "reply", now)
            ):
                self._wait_for_answer(conversation_id, thread, now)
            return
        if rng.random() < behaviour.thanks_chance:
            self._send(
                "retailer", "thanks", thread.account_id, conversation_id, self._text(thread, "thanks", now)
            )
        closing = rng.random() < behaviour.close_chance
        if closing and self._set_status("retailer", "close", thread.account_id, conversation_id, "closed"):
            self._maybe_reopen(conversation_id, thread, now)

    def _maybe_reopen(self, conversation_id: str, thread: _RetailerThread, now: int) -> None:
        if thread.reopened or self._random.random() >= self.settings.retailer.reopen_chance:
            return
        thread.reopened = True
        when = now + self._draw(self.settings.retailer.reopen_after)
        self._at(when, "reopen", lambda: self._reopen(conversation_id))

    def _reopen(self, conversation_id: str) -> None:
        thread = self._retailer_threads.get(conversation_id)
        conversation = self.sandbox.store.conversation(conversation_id)
        if thread is None or conversation is None:
            return
        now = self.sandbox.clock.now()
        if conversation.status == "closed" and not self._set_status(
            "retailer", "reopen", thread.account_id, conversation_id, "in_progress"
        ):
            return
        if self._send(
            "retailer", "again", thread.account_id, conversation_id, self._text(thread, "reopen", now)
        ):
            self._wait_for_answer(conversation_id, thread, now)

    def _values(self, thread: _RetailerThread, now: int) -> Mapping[str, str]:
        return self._texts.values(
            retailer_id=thread.account_id,
            supplier_id=thread.supplier_id,
            consumer=thread.consumer,
            order=thread.order,
            line=thread.line,
            now=now,
        )

    def _text(self, thread: _RetailerThread, name: str, now: int) -> str:
        return fill(thread.complaint.texts[name], self._values(thread, now))

    # --- the supplier persona -----------------------------------------------------------------
    def _answer(self, account_id: str, conversation_id: str) -> None:
        state = self._supplier_threads.setdefault(conversation_id, _SupplierThread())
        state.pending = False
        conversation = self.sandbox.store.conversation(conversation_id)
        if (
            conversation is None
            or conversation.status == "closed"
            or account_id not in self.settings.supplier_accounts
        ):
            return
        behaviour, rng, now = self.settings.supplier, self._random, self.sandbox.clock.now()
        answer = self._answer_for(conversation)
        values = self._supplier_values(conversation, now)
        if not state.asked and rng.random() < behaviour.question_chance:
            state.asked = True
            if self._send(
                "supplier", "question", account_id, conversation_id, fill(answer.texts["question"], values)
            ):
                state.question_at = asked_at = now
                self._at(
                    now + seconds(behaviour.reminder_after),
                    "reminder",
                    lambda: self._remind(account_id, conversation_id, asked_at),
                )
            return
        text = fill(answer.texts["message"], values)
        answered = self._send("supplier", "answer", account_id, conversation_id, text)
        if answered and rng.random() < behaviour.close_chance:
            self._set_status("supplier", "close", account_id, conversation_id, "closed")

    def _remind(self, account_id: str, conversation_id: str, asked_at: int) -> None:
        state = self._supplier_threads.get(conversation_id)
        conversation = self.sandbox.store.conversation(conversation_id)
        if (
            state is None
            or conversation is None
            or state.question_at != asked_at
            or conversation.status == "closed"
        ):
            return
        state.question_at = None
        now = self.sandbox.clock.now()
        text = fill(
            self._answer_for(conversation).texts["reminder"], self._supplier_values(conversation, now)
        )
        self._send("supplier", "reminder", account_id, conversation_id, text)

    def _answer_for(self, conversation: Conversation) -> Answer:
        """The answer whose keywords the conversation's title or the retailer's messages contain
        first (in the file's order), else the one of kind ``other`` (else the last one)."""
        said = " ".join(
            [conversation.title]
            + [m.text for m in self.sandbox.store.messages_in(conversation.id) if m.sender_role == "retailer"]
        ).lower()
        answers = self.settings.supplier.answers
        for answer in answers:
            if any(word in said for word in answer.keywords):
                return answer
        return next((a for a in answers if a.kind == "other"), answers[-1])

    def _supplier_values(self, conversation: Conversation, now: int) -> Mapping[str, str]:
        order, line = order_of(self.sandbox.world, conversation.context)
        return self._texts.values(
            retailer_id=conversation.retailer_id,
            supplier_id=conversation.supplier_id,
            consumer=None,
            order=order,
            line=line,
            now=now,
        )
