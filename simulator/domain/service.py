"""The conversation API's rules: the five operations, as production enforces them.

Every method takes the calling account and a request body that has already passed the contract's
schema check, and either returns the response body or raises an error of the domain family. Methods
are not thread-safe on their own; :class:`simulator.domain.sandbox.Sandbox` serialises calls.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from .clock import MICROS, Clock, format_rfc3339, parse_rfc3339, seconds
from .config import SandboxConfig
from .contexts import resolve_context
from .errors import InvalidRequest, Problem
from .models import Account, Conversation, Message, References, Role, uuid4_text
from .paging import Page, ScrollRegistry
from .store import Store
from .views import EncodedViews, conversation_view, encode_page, message_view
from .world import World

Body = Mapping[str, Any]
# Fields that point at one conversation, and whose reference id each one is (None: Dsco's own id).
_LOCATORS: tuple[tuple[str, Role | None], ...] = (
    ("dscoConversationId", None),
    ("retailerReferenceId", "retailer"),
    ("supplierReferenceId", "supplier"),
)
_UPDATE_LOCATORS: tuple[tuple[str, Role | None], ...] = (
    ("dscoConversationId", None),
    ("findByRetailerReferenceId", "retailer"),
    ("findBySupplierReferenceId", "supplier"),
)
_Listed = Conversation | tuple[Message, References]


class ConversationService:
    def __init__(
        self,
        world: World,
        store: Store,
        clock: Clock,
        config: SandboxConfig,
        ids: random.Random,
        lags: random.Random,
        scrolls: ScrollRegistry[_Listed],
        on_message: Callable[[Message, Conversation], None] | None = None,
    ) -> None:
        self.world = world
        self.store = store
        self.clock = clock
        self.config = config
        self._ids = ids
        self._lags = lags
        self._scrolls = scrolls
        self._on_message = on_message or (lambda message, conversation: None)
        self.encoded_views = EncodedViews(world)

    # ------------------------------------------------------------------ createConversation
    def create_conversation(self, caller: Account, body: Body) -> dict[str, Any]:
        now = self.clock.now()
        other = self._other_party(caller, body)
        retailer_id, supplier_id = (
            (caller.id, other.id) if caller.role == "retailer" else (other.id, caller.id)
        )
        kind, consumer_id = self._conversation_type(caller, body.get("type"))
        context = resolve_context(self.world, body.get("context"), retailer_id, supplier_id, caller.id)
        reference_id = body.get("referenceId")
        if reference_id is not None:
            self._require_free_reference(caller, reference_id, "referenceId")
        due_date = self._date(body, "dueDate")
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
        # Everything, the answer included, is computed before anything is stored: a request that
        # fails at any step leaves nothing behind.
        view = conversation_view(self.world, conversation, caller.id)
        self.store.add_conversation(conversation)
        if message is not None:
            self.store.add_message(message)
            self._on_message(message, conversation)
        return view

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
                    f"(yours are: {self._partner_refs(caller)})",
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

    def _partner_refs(self, caller: Account) -> str:
        refs = sorted(p.trading_partner_id for p in self.world.partners.values() if p.owner_id == caller.id)
        return ", ".join(refs) or "none"

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

    # ------------------------------------------------------------------ updateConversation
    def update_conversation(self, caller: Account, body: Body) -> dict[str, Any]:
        conversation = self._locate(caller, body, _UPDATE_LOCATORS)
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
                self._require_free_reference(caller, value, own)
                changes[f"{role}_reference_id"] = value
        if body.get("title") is not None and body["title"] != conversation.title:
            changes["title"] = body["title"]
        if body.get("dueDate") is not None:
            changes["due_date"] = self._date(body, "dueDate")
        if body.get("type") is not None:
            changes.update(self._type_change(conversation, role, body["type"]))
        if body.get("status") is not None:
            changes.update(self._status_change(conversation, body["status"], now))
        if changes:
            conversation = replace(conversation, last_update=max(now, conversation.last_update), **changes)
        view = conversation_view(self.world, conversation, caller.id)  # before storing: all or nothing
        if changes:
            self.store.replace_conversation(conversation)
        return view

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

    # ------------------------------------------------------------------ addConversationMessage
    def add_message(self, caller: Account, body: Body) -> dict[str, Any]:
        conversation = self._locate(
            caller,
            body,
            (
                ("dscoConversationId", None),
                ("retailerReferenceId", "retailer"),
                ("supplierReferenceId", "supplier"),
            ),
        )
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
        conversation = replace(conversation, **changes)
        view = message_view(self.world, message, conversation.references, caller.id)  # before storing
        self.store.add_message(message)
        self.store.replace_conversation(conversation)
        self._on_message(message, conversation)
        return view

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

    # ------------------------------------------------------------------ lists
    def list_conversations(self, caller: Account, body: Body) -> dict[str, Any]:
        page = self._conversation_page(caller, body)
        views = [
            conversation_view(self.world, c, caller.id) for c in page.items if isinstance(c, Conversation)
        ]
        return _page_body("conversations", views, page.scroll_id)

    def list_conversations_encoded(self, caller: Account, body: Body) -> str:
        """:meth:`list_conversations` as JSON text, built from the cached text of each item."""
        page = self._conversation_page(caller, body)
        encoded = self.encoded_views.conversation
        texts = [encoded(c, caller.id) for c in page.items if isinstance(c, Conversation)]
        return encode_page("conversations", texts, page.scroll_id)

    def list_messages(self, caller: Account, body: Body) -> dict[str, Any]:
        page = self._message_page(caller, body)
        views = [message_view(self.world, m, refs, caller.id) for m, refs in _message_items(page)]
        return _page_body("messages", views, page.scroll_id)

    def list_messages_encoded(self, caller: Account, body: Body) -> str:
        """:meth:`list_messages` as JSON text, built from the cached text of each item."""
        page = self._message_page(caller, body)
        encoded = self.encoded_views.message
        texts = [encoded(m, refs, caller.id) for m, refs in _message_items(page)]
        return encode_page("messages", texts, page.scroll_id)

    def _conversation_page(self, caller: Account, body: Body) -> Page[_Listed]:
        return self._page(caller, "getConversations", body, self._query_conversations)

    def _message_page(self, caller: Account, body: Body) -> Page[_Listed]:
        return self._page(caller, "getConversationMessages", body, self._query_messages)

    def _page(
        self,
        caller: Account,
        operation: str,
        body: Body,
        query: Callable[[Account, Body, int], Iterable[_Listed]],
    ) -> Page[_Listed]:
        now = self.clock.now()
        if body.get("scrollId") is not None:
            return self._scrolls.next(body["scrollId"], caller.id, operation, now)
        if self.config.strict:
            _require_prose_criteria(operation, body)
        items = query(caller, body, now)
        return self._scrolls.open(
            caller.id, operation, items, self.config.page_size, now, seconds(self.config.scroll_ttl)
        )

    def _query_conversations(self, caller: Account, body: Body, now: int) -> list[_Listed]:
        until = self._until(body, now)
        created_since = self._date(body, "createdSince")
        updated_since = self._updated_since(body)
        tests: list[Callable[[Conversation], bool]] = []
        candidates: Iterable[Conversation]
        single = self._single_conversation(caller, body)
        if single is not None:
            candidates = [single]
            if created_since is not None:
                tests.append(lambda c: c.create_time >= created_since)
        elif updated_since is not None:
            candidates = self.store.conversations_of(caller.id, created_since, None)
        else:
            candidates = self.store.conversations_of(caller.id, created_since, until)
        # With updatedSince, until bounds the last change; otherwise the creation (as the index did).
        if updated_since is not None:
            tests += [lambda c: c.last_update >= updated_since, lambda c: c.last_update < until]
        elif single is not None:
            tests.append(lambda c: c.create_time < until)
        tests += self._party_filters(caller, body, lambda c: c.retailer_id, lambda c: c.supplier_id)
        type_ = body.get("type")
        if type_ is not None:
            tests.append(lambda c: c.kind == type_["type"])
            if type_.get("consumerId") is not None:
                tests.append(lambda c: c.consumer_id == type_["consumerId"])
        if body.get("contextTypes") is not None:
            context_types = set(body["contextTypes"])
            tests.append(lambda c: c.context["type"] in context_types)
        if body.get("statuses") is not None:
            statuses = set(body["statuses"])
            tests.append(lambda c: c.status in statuses)
        if body.get("initiatedBy") is not None:
            tests.append(lambda c: c.initiated_by == body["initiatedBy"])
        if body.get("pastDue") is not None or body.get("dueInNextMs") is not None:
            tests.append(_due_test(now, body.get("pastDue"), body.get("dueInNextMs")))
        found: list[_Listed] = list(_matching(candidates, now, body, tests))
        if _descending(body):
            found.reverse()
        return found

    def _query_messages(self, caller: Account, body: Body, now: int) -> Iterable[_Listed]:
        """The matches with their conversations' reference ids, lazily when they come from the
        caller's whole index (a scroll then reads only the pages asked for). Only messages stored
        by now count, messages never change, and the ids are taken as of now, so reading later
        yields exactly what reading now would."""
        until = self._until(body, now)
        descending = _descending(body)
        created_since = self._date(body, "createdSince")
        tests: list[Callable[[Message], bool]] = []
        candidates: Iterable[Message]
        single = self._single_conversation(caller, body)
        if body.get("dscoMessageId") is not None:
            message = self.store.message(body["dscoMessageId"])
            if message is None or caller.id not in (message.sender_id, message.recipient_id):
                raise InvalidRequest.at(
                    "dscoMessageId",
                    f"{body['dscoMessageId']!r} is not a message of a conversation you take part in",
                    code="message_not_found",
                )
            candidates = [message]
            tests.append(
                lambda m: (created_since is None or m.create_time >= created_since) and m.create_time < until
            )
        elif single is not None:
            candidates = self.store.messages_in(single.id)
            tests.append(
                lambda m: (created_since is None or m.create_time >= created_since) and m.create_time < until
            )
        else:
            candidates = self.store.messages_of(caller.id, created_since, until, descending)
        if single is not None:
            tests.append(lambda m: m.conversation_id == single.id)
        tests += self._party_filters(
            caller,
            body,
            lambda m: m.sender_id if m.sender_role == "retailer" else m.recipient_id,
            lambda m: m.sender_id if m.sender_role == "supplier" else m.recipient_id,
        )
        type_ = body.get("type")
        if type_ is not None:
            tests.append(lambda m: m.customer_care_type is not None)
            if type_.get("customerCareType") is not None:
                tests.append(lambda m: m.customer_care_type == type_["customerCareType"])
            if type_.get("consumerId") is not None:
                tests.append(lambda m: m.consumer_id == type_["consumerId"])
        if descending and isinstance(candidates, list):
            candidates.reverse()
        stored = self.store.last_seq()
        references_at = self.store.references_at
        return (
            (m, references_at(m.conversation_id, stored))
            for m in _matching(candidates, now, body, tests, stored=stored)
        )

    def _single_conversation(self, caller: Account, body: Body) -> Conversation | None:
        """The conversation a query names by id or reference id, checking the caller takes part."""
        if not any(body.get(name) is not None for name, _ in _LOCATORS):
            return None
        return self._locate(caller, body, _LOCATORS)

    def _party_filters(
        self,
        caller: Account,
        body: Body,
        retailer_of: Callable[[Any], str],
        supplier_of: Callable[[Any], str],
    ) -> list[Callable[[Any], bool]]:
        """Filters on who is involved: the retailer/supplier fields and the partner lists."""
        tests: list[Callable[[Any], bool]] = []
        for role, of in (("retailer", retailer_of), ("supplier", supplier_of)):
            id_field, ref_field = f"dsco{role.title()}Id", f"dsco{role.title()}TradingPartnerId"
            by_id, by_ref = body.get(id_field), body.get(ref_field)
            if by_id is not None and by_ref is not None:
                raise InvalidRequest.at(
                    ref_field, f"give {id_field} or {ref_field}, not both", code="both_given"
                )
            if by_id is not None:
                if by_id != caller.id and not self.world.trade(caller.id, by_id):
                    raise InvalidRequest.at(
                        id_field,
                        f"{by_id!r} is neither you nor one of your trading partners",
                        code="unknown_partner",
                    )
                tests.append(_party_is(of, by_id))
            if by_ref is not None:
                if caller.role == role:
                    raise InvalidRequest.at(
                        ref_field,
                        f"only a {'supplier' if role == 'retailer' else 'retailer'} "
                        f"may filter by {ref_field}",
                        code="filter_not_allowed",
                    )
                account_id = self._resolve_partner_ref(caller, ref_field, by_ref)
                tests.append(_party_is(of, account_id))
        other_of = retailer_of if caller.role == "supplier" else supplier_of
        if body.get("dscoAccountIds") is not None:
            wanted_ids = set(body["dscoAccountIds"])
            tests.append(lambda x: other_of(x) in wanted_ids)
        if body.get("dscoTradingPartnerIds") is not None:
            wanted_refs = {
                self._resolve_partner_ref(caller, f"dscoTradingPartnerIds[{i}]", ref)
                for i, ref in enumerate(body["dscoTradingPartnerIds"])
            }
            tests.append(lambda x: other_of(x) in wanted_refs)
        return tests

    def _resolve_partner_ref(self, caller: Account, field: str, ref: str) -> str:
        partner = self.world.partner_by_ref(caller.id, ref)
        if partner is None:
            raise InvalidRequest.at(
                field,
                f"{ref!r} is not one of your trading partner ids (yours are: {self._partner_refs(caller)})",
                code="unknown_partner",
            )
        return partner.partner_id

    # ------------------------------------------------------------------ helpers
    def _locate(
        self, caller: Account, body: Body, locators: tuple[tuple[str, Role | None], ...]
    ) -> Conversation:
        """Find the one conversation a request points at, which the caller must take part in.

        Unknown ids and conversations of others get the same answer, so that a caller cannot probe
        for conversations it does not belong to.
        """
        found: Conversation | None = None
        given = [(name, role, body[name]) for name, role in locators if body.get(name) is not None]
        if not given:
            names = ", ".join(name for name, _ in locators)
            raise InvalidRequest.at(
                locators[0][0], f"required: give one of {names}", code="conversation_missing"
            )
        for name, role, value in given:
            conversation = self._find(caller, role, value, name)
            if conversation is None:
                raise InvalidRequest.at(
                    name,
                    f"{value!r} does not name a conversation you take part in",
                    code="conversation_not_found",
                )
            if found is not None and found.id != conversation.id:
                raise InvalidRequest.at(
                    name,
                    f"{value!r} names a different conversation than {given[0][0]}",
                    code="conversation_conflict",
                )
            found = conversation
        assert found is not None
        return found

    def _find(self, caller: Account, role: Role | None, value: str, field: str) -> Conversation | None:
        if role is None:
            conversation = self.store.conversation(value)
        elif role == caller.role:
            conversation = self.store.conversation_by_reference(role, caller.id, value)
        else:  # the other party's reference id: look among the caller's partners' references
            found = [
                c
                for partner_id in self._partner_ids(caller)
                if (c := self.store.conversation_by_reference(role, partner_id, value)) is not None
                and c.party_role(caller.id) is not None
            ]
            if len(found) > 1:
                # Reference ids are unique per owner only: two partners may both use "R-1".
                raise InvalidRequest.at(
                    field,
                    f"{value!r} is the reference id of conversations with {len(found)} of your partners; "
                    "use dscoConversationId",
                    code="ambiguous_reference_id",
                )
            conversation = found[0] if found else None
        if conversation is None or conversation.party_role(caller.id) is None:
            return None
        return conversation

    def _partner_ids(self, caller: Account) -> list[str]:
        return sorted(
            {p.partner_id for p in self.world.partners.values() if p.owner_id == caller.id}
            | {p.owner_id for p in self.world.partners.values() if p.partner_id == caller.id}
        )

    def _require_free_reference(self, caller: Account, value: str, field: str) -> None:
        if self.store.conversation_by_reference(caller.role, caller.id, value) is not None:
            raise InvalidRequest.at(
                field,
                f"{value!r} is already the reference id of another of your conversations",
                code="duplicate_reference_id",
            )

    def _updated_since(self, body: Body) -> int | None:
        """``updatedSince``, or ``conversationsUpdatedSince``: the vendor's description of the first
        offers the second as an alternative, so the sandbox takes it as another name."""
        plain = self._date(body, "updatedSince")
        other = self._date(body, "conversationsUpdatedSince")
        if plain is not None and other is not None and plain != other:
            raise InvalidRequest.at(
                "conversationsUpdatedSince",
                "is another name for updatedSince, and names another instant here; give one of them",
                code="both_given",
            )
        return plain if plain is not None else other

    def _until(self, body: Body, now: int) -> int:
        latest = now - seconds(self.config.until_margin)
        until = self._date(body, "until")
        if until is None:
            return latest
        if until > latest:
            raise InvalidRequest.at(
                "until",
                f"{body['until']!r} is less than {self.config.until_margin:g} seconds before now "
                f"({format_rfc3339(now)}); use {format_rfc3339(latest)} or earlier",
                code="until_too_recent",
            )
        return until

    @staticmethod
    def _date(body: Body, name: str) -> int | None:
        value = body.get(name)
        if value is None:
            return None
        parsed = parse_rfc3339(value)
        if parsed is None:  # the contract checks formats first; this guards direct domain use
            raise InvalidRequest(
                Problem(name, f"{value!r} is not an RFC 3339 date-time (like 2023-05-01T09:29:55Z)")
            )
        return parsed

    def _lag(self) -> int:
        low, high = self.config.lag_min, self.config.lag_max
        return seconds(low if high <= low else self._lags.uniform(low, high))

    def _new_id(self) -> str:
        return uuid4_text(self._ids.getrandbits(128))


def _page_body(name: str, views: list[dict[str, Any]], scroll_id: str | None) -> dict[str, Any]:
    return {"scrollId": scroll_id, name: views} if scroll_id is not None else {name: views}


def _message_items(page: Page[_Listed]) -> list[tuple[Message, References]]:
    return [item for item in page.items if isinstance(item, tuple)]


_Record = TypeVar("_Record", Conversation, Message)


def _matching(
    candidates: Iterable[_Record],
    now: int,
    body: Body,
    tests: list[Callable[[_Record], bool]],
    stored: int | None = None,
) -> Iterator[_Record]:
    """The candidates visible by ``now`` that the ``test`` field and every other test accept, and
    (for a lazy scroll's snapshot) that were stored by the time ``stored`` was the last seq.

    These apply to every query, so they are inlined: a list page filters each of its candidates,
    and a call per test per candidate would cost more than the rest of the page.
    """
    test = body.get("test") or "legit"
    last = stored if stored is not None else float("inf")
    if test == "all":
        visible = (x for x in candidates if x.visible_at <= now and x.seq <= last)
    else:
        wanted = test == "test"
        visible = (x for x in candidates if x.visible_at <= now and x.is_test == wanted and x.seq <= last)
    if not tests:
        return visible
    return (x for x in visible if all(t(x) for t in tests))


def _descending(body: Body) -> bool:
    sort = body.get("sort")
    return isinstance(sort, Mapping) and sort.get("direction") == "desc"


def _require_prose_criteria(operation: str, body: Body) -> None:
    """Strict mode's reading of the query descriptions, which the schemas do not enforce: a query
    names at least one criterion, and a conversation query ``updatedSince`` (or its other name)
    unless it asks for one conversation by ``dscoConversationId``. Without strict mode both are
    optional, as the schemas say."""
    if not any(value is not None for value in body.values()):
        raise InvalidRequest.at(
            "",
            "give a scrollId or at least one criterion, as the vendor's query description asks "
            "(the sandbox runs in strict mode)",
            code="query_empty",
        )
    if operation == "getConversations" and all(
        body.get(name) is None for name in ("updatedSince", "conversationsUpdatedSince", "dscoConversationId")
    ):
        raise InvalidRequest.at(
            "updatedSince",
            "required unless dscoConversationId is given, as the vendor's description of updatedSince "
            "says (the sandbox runs in strict mode)",
            code="updated_since_missing",
        )


def _due_test(now: int, past_due: bool | None, due_in_ms: int | None) -> Callable[[Conversation], bool]:
    """The due-date filter of a conversation query: open conversations with a due date, and

    - ``pastDue`` alone: due before now (true) or at or after now (false);
    - ``dueInNextMs`` alone or with ``pastDue`` false: due from now until that many ms from now;
    - both, with ``pastDue`` true: due before that many ms from now (past due, or soon), as the
      vendor's description of ``pastDue`` offers.
    """
    soon = None if due_in_ms is None else now + due_in_ms * (MICROS // 1000)

    def due(c: Conversation) -> bool:
        if c.status == "closed" or c.due_date is None:
            return False
        if past_due:
            return c.due_date < (now if soon is None else soon)
        return now <= c.due_date and (soon is None or c.due_date < soon)

    return due


def _party_is(of: Callable[[Any], str], wanted: str) -> Callable[[Any], bool]:
    return lambda item: of(item) == wanted
