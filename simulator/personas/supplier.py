"""The supplier persona: answers to what the retailers send, after a delay.

Each message a retailer sends to a played supplier (in any conversation, the user's included) gets
an answer after a delay drawn from the configured distribution; messages arriving meanwhile are
answered together. The answer follows the complaint the conversation is about (by keywords), may be
a question back the first time (with one reminder when it stays unanswered), and sometimes closes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..domain.clock import seconds
from ..domain.models import Conversation, Message
from .config import Answer
from .stage import Stage
from .templates import fill, order_of


@dataclass
class _Thread:
    pending: bool = False
    asked: bool = False
    question_at: int | None = None


class SupplierRole:
    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.threads: dict[str, _Thread] = {}

    def heard(self, recipient: str, message: Message) -> None:
        """A retailer's message to a played supplier: answer it later (once for a burst)."""
        if message.sender_role != "retailer":
            return
        state = self.threads.setdefault(message.conversation_id, _Thread())
        state.question_at = None
        if not state.pending:
            state.pending = True
            when = message.create_time + self.stage.draw(self.stage.settings.supplier.answer_after)
            self.stage.at(when, "answer", lambda: self._answer(recipient, message.conversation_id))

    def _answer(self, account_id: str, conversation_id: str) -> None:
        state = self.threads.setdefault(conversation_id, _Thread())
        state.pending = False
        conversation = self.stage.sandbox.store.conversation(conversation_id)
        if (
            conversation is None
            or conversation.status == "closed"
            or account_id not in self.stage.settings.supplier_accounts
        ):
            return
        behaviour, rng, now = self.stage.settings.supplier, self.stage.random, self.stage.sandbox.clock.now()
        answer = self._answer_for(conversation)
        values = self._supplier_values(conversation, now)
        if not state.asked and rng.random() < behaviour.question_chance:
            state.asked = True
            if self.stage.send(
                "supplier", "question", account_id, conversation_id, fill(answer.texts["question"], values)
            ):
                state.question_at = asked_at = now
                self.stage.at(
                    now + seconds(behaviour.reminder_after),
                    "reminder",
                    lambda: self._remind(account_id, conversation_id, asked_at),
                )
            return
        text = fill(answer.texts["message"], values)
        answered = self.stage.send("supplier", "answer", account_id, conversation_id, text)
        if answered and rng.random() < behaviour.close_chance:
            self.stage.set_status("supplier", "close", account_id, conversation_id, "closed")

    def _remind(self, account_id: str, conversation_id: str, asked_at: int) -> None:
        state = self.threads.get(conversation_id)
        conversation = self.stage.sandbox.store.conversation(conversation_id)
        if (
            state is None
            or conversation is None
            or state.question_at != asked_at
            or conversation.status == "closed"
        ):
            return
        state.question_at = None
        now = self.stage.sandbox.clock.now()
        text = fill(
            self._answer_for(conversation).texts["reminder"], self._supplier_values(conversation, now)
        )
        self.stage.send("supplier", "reminder", account_id, conversation_id, text)

    def _answer_for(self, conversation: Conversation) -> Answer:
        """The answer whose keywords the conversation's title or the retailer's messages contain
        first (in the file's order), else the one of kind ``other`` (else the last one)."""
        said = " ".join(
            [conversation.title]
            + [
                m.text
                for m in self.stage.sandbox.store.messages_in(conversation.id)
                if m.sender_role == "retailer"
            ]
        ).lower()
        answers = self.stage.settings.supplier.answers
        for answer in answers:
            if any(word in said for word in answer.keywords):
                return answer
        return next((a for a in answers if a.kind == "other"), answers[-1])

    def _supplier_values(self, conversation: Conversation, now: int) -> Mapping[str, str]:
        order, line = order_of(self.stage.sandbox.world, conversation.context)
        return self.stage.texts.values(
            retailer_id=conversation.retailer_id,
            supplier_id=conversation.supplier_id,
            consumer=None,
            order=order,
            line=line,
            now=now,
        )
