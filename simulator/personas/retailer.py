"""The retailer persona: consumers' complaints about the retailer's own orders, and what follows.

Each played retailer opens conversations at its rate (a Poisson process per account and kind of
conversation, drawn from a stream of its own so that how fast the other side answers never moves
when conversations open), follows up while nobody answers, and reacts to each answer: it replies to
a question, thanks, closes, and sometimes reopens later. It acts only in conversations it opened.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..domain.clock import seconds
from ..domain.models import Message, Order, OrderLine
from .config import Complaint
from .stage import Stage
from .templates import fill

_HOUR = 3600.0
_YEAR = 365 * 24 * _HOUR


@dataclass
class _Thread:
    """A conversation the persona opened, and where it stands."""

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


class RetailerRole:
    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.threads: dict[str, _Thread] = {}
        self._openings: dict[tuple[str, bool], random.Random] = {}
        self._references = 0

    def start(self, now: int) -> None:
        """Draw each played retailer's first openings."""
        behaviour = self.stage.settings.retailer
        for account_id in self.stage.settings.retailer_accounts:
            for standard, rate in (
                (False, behaviour.conversations_per_hour),
                (True, behaviour.standard_per_hour),
            ):
                self._schedule_opening(account_id, standard, rate, now)

    def heard(self, message: Message) -> None:
        """A supplier's message to a played retailer: react to it later, in a conversation of ours."""
        thread = self.threads.get(message.conversation_id)
        if thread is None or message.sender_role != "supplier":
            return
        thread.waiting_since, thread.follow_ups = None, 0
        question = message.text.rstrip().endswith("?")
        when = message.create_time + self.stage.draw(self.stage.settings.retailer.react_after)
        self.stage.at(when, "react", lambda: self._react(message.conversation_id, question))

    def _schedule_opening(self, account_id: str, standard: bool, rate: float, after: int) -> None:
        per_second = rate / _HOUR  # the smallest rates underflow to 0 here: never, like 0 itself
        if per_second <= 0 or not any(
            c.standard == standard and c.weight > 0 for c in self.stage.settings.retailer.complaints
        ):
            return
        stream = self._openings.get((account_id, standard))
        if stream is None:  # each account's openings draw from their own stream, so that what the
            # other side does (answering sooner or later) never moves when conversations open
            stream = random.Random(f"{self.stage.settings.seed}:open:{account_id}:{standard}")
            self._openings[(account_id, standard)] = stream
        gap = min(stream.expovariate(per_second), _YEAR)  # a tiny rate: practically never
        when = after + max(seconds(gap), 1000)
        self.stage.at(when, "open", lambda: self._open(account_id, standard, rate))

    def _open(self, account_id: str, standard: bool, rate: float) -> None:
        now = self.stage.sandbox.clock.now()
        self._schedule_opening(account_id, standard, rate, now)
        orders = sorted(
            (
                o
                for o in self.stage.sandbox.world.orders
                if o.retailer_id == account_id and self.stage.sandbox.world.trade(account_id, o.supplier_id)
            ),
            key=lambda o: o.dsco_order_id,
        )
        if not orders:
            return
        rng = self._openings[(account_id, standard)]
        kinds = [
            c for c in self.stage.settings.retailer.complaints if c.standard == standard and c.weight > 0
        ]
        complaint = rng.choices(kinds, weights=[c.weight for c in kinds])[0]
        order = rng.choice(orders)
        line = rng.choice(order.lines) if complaint.line_item and order.lines else None
        consumer = self.stage.texts.consumer()
        thread = _Thread(account_id, order.supplier_id, complaint, consumer, order, line)
        values = self._values(thread, now)
        context: dict[str, Any] = {"type": "order", "poNumber": order.po_number}
        if line is not None:
            context["lineItem"] = {"sku": line.sku, "lineNumber": line.line_number}
        self._references += 1
        body: dict[str, Any] = {
            "otherPartyDscoAccountId": order.supplier_id,
            "title": self.stage.caller.title(fill(complaint.texts["title"], values)),
            "type": {"type": "standard"}
            if standard
            else {"type": "customer_care", "consumerId": consumer["consumerId"]},
            "context": context,
            "referenceId": f"persona-{now // 1000}-{self._references}",
            "initialMessage": {"message": fill(complaint.texts["message"], values)},
        }
        created = self.stage.act("retailer", "open", account_id, "createConversation", body)
        if created is not None:
            conversation_id = str(created["id"])
            self.threads[conversation_id] = thread
            self._wait_for_answer(conversation_id, thread, now)

    def _wait_for_answer(self, conversation_id: str, thread: _Thread, now: int) -> None:
        thread.waiting_since = now
        since = now
        self.stage.at(
            now + seconds(self.stage.settings.retailer.follow_up_after),
            "follow-up",
            lambda: self._follow_up(conversation_id, since),
        )

    def _follow_up(self, conversation_id: str, since: int) -> None:
        thread = self.threads.get(conversation_id)
        conversation = self.stage.sandbox.store.conversation(conversation_id)
        if thread is None or conversation is None or thread.waiting_since != since:
            return  # answered since, or waiting for something newer
        if (
            conversation.status == "closed"
            or thread.follow_ups >= self.stage.settings.retailer.max_follow_ups
        ):
            return
        now = self.stage.sandbox.clock.now()
        if self.stage.send(
            "retailer", "follow-up", thread.account_id, conversation_id, self._text(thread, "followUp", now)
        ):
            thread.follow_ups += 1
            self.stage.at(
                now + seconds(self.stage.settings.retailer.follow_up_after),
                "follow-up",
                lambda: self._follow_up(conversation_id, since),
            )

    def _react(self, conversation_id: str, question: bool) -> None:
        """The consumer read an answer: reply to a question, or thank, close, or leave it open."""
        thread = self.threads.get(conversation_id)
        conversation = self.stage.sandbox.store.conversation(conversation_id)
        if thread is None or conversation is None:
            return
        behaviour, rng, now = self.stage.settings.retailer, self.stage.random, self.stage.sandbox.clock.now()
        if conversation.status == "closed":
            self._maybe_reopen(conversation_id, thread, now)
            return
        if question:
            if self.stage.send(
                "retailer", "reply", thread.account_id, conversation_id, self._text(thread, "reply", now)
            ):
                self._wait_for_answer(conversation_id, thread, now)
            return
        if rng.random() < behaviour.thanks_chance:
            self.stage.send(
                "retailer", "thanks", thread.account_id, conversation_id, self._text(thread, "thanks", now)
            )
        closing = rng.random() < behaviour.close_chance
        if closing and self.stage.set_status(
            "retailer", "close", thread.account_id, conversation_id, "closed"
        ):
            self._maybe_reopen(conversation_id, thread, now)

    def _maybe_reopen(self, conversation_id: str, thread: _Thread, now: int) -> None:
        if thread.reopened or self.stage.random.random() >= self.stage.settings.retailer.reopen_chance:
            return
        thread.reopened = True
        when = now + self.stage.draw(self.stage.settings.retailer.reopen_after)
        self.stage.at(when, "reopen", lambda: self._reopen(conversation_id))

    def _reopen(self, conversation_id: str) -> None:
        thread = self.threads.get(conversation_id)
        conversation = self.stage.sandbox.store.conversation(conversation_id)
        if thread is None or conversation is None:
            return
        now = self.stage.sandbox.clock.now()
        if conversation.status == "closed" and not self.stage.set_status(
            "retailer", "reopen", thread.account_id, conversation_id, "in_progress"
        ):
            return
        if self.stage.send(
            "retailer", "again", thread.account_id, conversation_id, self._text(thread, "reopen", now)
        ):
            self._wait_for_answer(conversation_id, thread, now)

    def _values(self, thread: _Thread, now: int) -> Mapping[str, str]:
        return self.stage.texts.values(
            retailer_id=thread.account_id,
            supplier_id=thread.supplier_id,
            consumer=thread.consumer,
            order=thread.order,
            line=thread.line,
            now=now,
        )

    def _text(self, thread: _Thread, name: str, now: int) -> str:
        return fill(thread.complaint.texts[name], self._values(thread, now))
