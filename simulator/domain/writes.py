"""The three writes: createConversation, updateConversation, addConversationMessage.

Each method takes the calling account and a request body that has already passed the contract's
schema check, and either returns the record it wrote or raises an error of the domain family.
Everything is checked and built before anything is stored, so a refused request leaves nothing
behind. Not thread-safe on its own: :class:`simulator.domain.sandbox.Sandbox` serialises calls.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from .answers import Planned, ShownMessage, nothing_to_store
from .clock import Clock, seconds
from .config import SandboxConfig
from .contexts import resolve_context
from .errors import InvalidRequest
from .lookup import LOCATORS, UPDATE_LOCATORS, Body, Lookup
from .models import Account, Conversation, Message, Role, uuid4_text
from .store import Store
from .world import World


class Writes:
    def __init__(
        self,
        lookup: Lookup,
        clock: Clock,
        config: SandboxConfig,
        ids: random.Random,
        lags: random.Random,
        on_message: Callable[[Message, Conversation], None],
    ) -> None:
        self.lookup = lookup
        self.world: World = lookup.world
        self.store: Store = lookup.store
        self.clock = clock
        self.config = config
        self._ids = ids
        self._lags = lags
        self._on_message = on_message

    def create_conversation(self, caller: Account, body: Body) -> Planned:
        now = self.clock.now()
        other = self._other_party(caller, body)
        retailer_id, supplier_id = (
            (caller.id, other.id) if caller.role == "retailer" else (other.id, caller.id)
        )
        kind, consumer_id = self._conversation_type(caller, body.get("type"))
        context = resolve_context(self.world, body.get("context"), retailer_id, supplier_id, caller.id)
        reference_id = body.get("referenceId")
        if reference_id is not None:
            self.lookup.require_free_reference(caller, reference_id, "referenceId")
        due_date = self.lookup.date(body, "dueDate")
        visible_at = now + self._lag()
        initial = body.get("initialMessage")
        conversation = Conversation(
            id=self._new_id(),
            seq=self.store.next_seq(),
            title=body["title"],
            kind=kind,
            consumer_id=consumer_id,
            initiated_by=caller.role,
            retailer_id=retailer_id,
            supplier_id=supplier_id,
            context=context,
            create_time=now,
            last_update=now,
            visible_at=visible_at,
            retailer_reference_id=reference_id if caller.role == "retailer" else None,
            supplier_reference_id=reference_id if caller.role == "supplier" else None,
            initial_message=initial["message"] if initial else None,
            due_date=due_date,
            is_test=bool(body.get("isTest", False)),
        )
        message = None
        if initial:
            message = self._message(conversation, caller, initial["message"], now, visible_at)
        # Everything is computed before anything is stored: a request that fails at any step leaves
        # nothing behind.

        def store() -> None:
            self.store.add_conversation(conversation)
            if message is not None:
                self.store.add_message(message)
                self._on_message(message, conversation)

        return Planned(conversation, store)

    def _other_party(self, caller: Account, body: Body) -> Account:
        by_ref = body.get("otherPartyTradingPartnerId")
        by_id = body.get("otherPartyDscoAccountId")
        if by_ref is None and by_id is None:
            raise InvalidRequest.at(
                "otherPartyTradingPartnerId",
                "required: name the other party with otherPartyTradingPartnerId (your id for the partner) "
                "or otherPartyDscoAccountId",
                code="other_party_missing",
            )
        found: Account | None = None
        if by_ref is not None:
            partner = self.world.partner_by_ref(caller.id, by_ref)
            if partner is None:
                raise InvalidRequest.at(
                    "otherPartyTradingPartnerId",
                    f"{by_ref!r} is not one of your trading partner ids "
                    f"(yours are: {self.lookup.partner_refs(caller)})",
                    code="unknown_partner",
                )
            found = self.world.account(partner.partner_id)
        if by_id is not None:
            account = self.world.account(by_id)
            if account is None or account.role == caller.role or not self.world.trade(caller.id, by_id):
                raise InvalidRequest.at(
                    "otherPartyDscoAccountId",
                    f"{by_id!r} is not the Dsco account id of one of your trading partners",
                    code="unknown_partner",
                )
            if found is not None and found.id != account.id:
                raise InvalidRequest.at(
                    "otherPartyDscoAccountId",
                    f"{by_id!r} names a different account than otherPartyTradingPartnerId {by_ref!r} "
                    f"({found.id}); give one of them, or two that agree",
                    code="other_party_conflict",
                )
            found = account
        assert found is not None
        return found

    def _conversation_type(self, caller: Account, type_: Mapping[str, Any] | None) -> tuple[Any, str | None]:
        if type_ is None or type_["type"] == "standard":
            return "standard", None
        if caller.role != "retailer":
            raise InvalidRequest.at(
                "type.type",
                "only a retailer may create a customer_care conversation "
                "(it forwards an end consumer's message)",
                code="customer_care_retailer_only",
            )
        return "customer_care", type_["consumerId"]

    def update_conversation(self, caller: Account, body: Body) -> Planned:
        conversation = self.lookup.locate(caller, body, UPDATE_LOCATORS)
        updatable = ("title", "status", "dueDate", "retailerReferenceId", "supplierReferenceId", "type")
        if not any(body.get(name) is not None for name in updatable):
            raise InvalidRequest.at(
                "",
                f"nothing to update: give at least one of {', '.join(updatable)}",
                code="nothing_to_update",
            )
        role = conversation.party_role(caller.id)
        assert role is not None
        now = self.clock.now()
        changes: dict[str, Any] = {}
        for own, other_role in (("retailerReferenceId", "supplier"), ("supplierReferenceId", "retailer")):
            value = body.get(own)
            if value is None:
                continue
            if role == other_role:
                raise InvalidRequest.at(own, f"only the {own[:8]} may set {own}", code="reference_not_yours")
            if value != conversation.reference_id(role):
                self.lookup.require_free_reference(caller, value, own)
                changes[f"{role}_reference_id"] = value
        if body.get("title") is not None and body["title"] != conversation.title:
            changes["title"] = body["title"]
        if body.get("dueDate") is not None:
            changes["due_date"] = self.lookup.date(body, "dueDate")
        if body.get("type") is not None:
            changes.update(self._type_change(conversation, role, body["type"]))
        if body.get("status") is not None:
            changes.update(self._status_change(conversation, body["status"], now))
        if changes:
            conversation = replace(conversation, last_update=max(now, conversation.last_update), **changes)
        if not changes:
            return Planned(conversation, nothing_to_store)
        return Planned(conversation, partial(self.store.replace_conversation, conversation))

    def _type_change(
        self, conversation: Conversation, role: Role, type_: Mapping[str, Any]
    ) -> dict[str, Any]:
        if type_["type"] != conversation.kind:
            raise InvalidRequest.at(
                "type.type",
                f"a conversation's type cannot change (this one is {conversation.kind!r})",
                code="type_change",
            )
        consumer_id = type_.get("consumerId")
        if conversation.kind != "customer_care" or consumer_id == conversation.consumer_id:
            return {}
        if role != "retailer":
            raise InvalidRequest.at(
                "type.consumerId",
                "only the retailer may change the consumerId",
                code="consumer_retailer_only",
            )
        return {"consumer_id": consumer_id}

    def _status_change(self, conversation: Conversation, status: str, now: int) -> dict[str, Any]:
        if status == "new":
            raise InvalidRequest.at(
                "status",
                "'new' cannot be set; use 'closed' to close or 'in_progress' to reopen",
                code="status_new",
            )
        if status == conversation.status:
            return {}
        if status == "closed":
            return {"status": "closed", "closed_date": now}
        if conversation.status == "new":
            raise InvalidRequest.at(
                "status",
                "this conversation is 'new'; it becomes 'in_progress' when the other party replies "
                "('in_progress' can only be set to reopen a closed conversation)",
                code="status_not_reopenable",
            )
        return {"status": "in_progress", "closed_date": None}

    def add_message(self, caller: Account, body: Body) -> Planned:
        conversation = self.lookup.locate(caller, body, LOCATORS)
        if conversation.status == "closed":
            raise InvalidRequest.at(
                "dscoConversationId",
                f"conversation {conversation.id!r} is closed and takes no messages; reopen it first "
                "(updateConversation with status 'in_progress')",
                code="conversation_closed",
            )
        now = self.clock.now()
        message = self._message(conversation, caller, body["message"], now, now + self._lag())
        changes: dict[str, Any] = {"last_update": max(now, conversation.last_update)}
        if conversation.status == "new" and caller.role != conversation.initiated_by:
            changes["status"] = "in_progress"
        updated = replace(conversation, **changes)

        def store() -> None:
            self.store.add_message(message)
            self.store.replace_conversation(updated)
            self._on_message(message, updated)

        return Planned(ShownMessage(message, updated), store)

    def _message(
        self, conversation: Conversation, sender: Account, text: str, now: int, visible_at: int
    ) -> Message:
        customer_care = conversation.kind == "customer_care"
        return Message(
            id=self._new_id(),
            seq=self.store.next_seq(),
            conversation_id=conversation.id,
            text=text,
            sender_id=sender.id,
            sender_role=sender.role,
            recipient_id=conversation.other_party(sender.id),
            create_time=now,
            visible_at=visible_at,
            is_test=conversation.is_test,
            customer_care_type=(
                ("message_from_consumer" if sender.role == "retailer" else "response_to_consumer")
                if customer_care
                else None
            ),
            consumer_id=conversation.consumer_id if customer_care else None,
        )

    def _lag(self) -> int:
        low, high = self.config.lag_min, self.config.lag_max
        return seconds(low if high <= low else self._lags.uniform(low, high))

    def _new_id(self) -> str:
        return uuid4_text(self._ids.getrandbits(128))
