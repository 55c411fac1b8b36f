"""The conversation rules' state machine: the model and the invariants, run by test_state_machine.py
(one in-process sandbox) and by tests/redis (two workers on one Redis).

The conversation rules hold whatever sequence of calls integrators make.

A Hypothesis ``RuleBasedStateMachine`` drives the HTTP API in-process (the default world, a frozen
clock, the rate limit off, small random lags, pages of 3) with random sequences of creates, posts,
status / title / reference-id updates, list calls, scrolls kept open across other steps and clock
jumps, made by random actors, participants or not. Beside it runs a small pure model (dicts) that
predicts every answer. After every step the sandbox's store is compared with the model and with the
previous step, which is where the invariants live:

* status moves only new -> in_progress (the non-initiator's first post), new -> closed,
  in_progress <-> closed, and never back to new; ``closedDate`` is set exactly when closed;
* a closed conversation never gains a message;
* ``lastUpdate`` never decreases and ``createDate <= lastUpdate``;
* message ids are unique; a message's customer-care type matches its sender's role, its consumerId
  is its conversation's, its recipient is the other party;
* a non-participant never sees, changes or posts into a conversation (its attempts are 400s that
  change nothing, and no list shows it anything of others);
* every answer has a status the contract documents for its operation and, when JSON, its schema
  (no 5xx ever).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)
from property_support import ACTORS, MARGIN, PARTNER_REFS, Actor, Harness, iso, trade

from simulator.domain.clock import seconds

PAGE_SIZE = 3
SCROLL_TTL = seconds(300)
REFERENCES = ("R-1", "R-2", "R-3")
TITLES = ("Late order", "Refund please", "Damaged parcel")
CONSUMERS = ("C-1", "C-2")
ALLOWED_MOVES = {
    ("new", "in_progress"),
    ("new", "closed"),
    ("in_progress", "closed"),
    ("closed", "in_progress"),
}


@dataclass
class Conv:
    """The model of one conversation."""

    id: str
    seq: int
    retailer: Actor
    supplier: Actor
    initiator: str
    kind: str
    consumer_id: str | None
    title: str
    create_time: int
    last_update: int
    refs: dict[str, str | None]
    initial: str | None
    status: str = "new"
    closed_date: int | None = None
    messages: list[str] = field(default_factory=list)
    """Texts of its messages (unique across the run), in posting order."""

    def party(self, role: str) -> Actor:
        return self.retailer if role == "retailer" else self.supplier

    def role_of(self, actor: Actor) -> str | None:
        if actor == self.retailer:
            return "retailer"
        if actor == self.supplier:
            return "supplier"
        return None

    def other(self, actor: Actor) -> Actor:
        return self.supplier if actor == self.retailer else self.retailer


@dataclass
class Msg:
    text: str
    seq: int
    conversation: str
    sender: Actor
    create_time: int
    id: str | None = None
    """Learnt from the answer that shows it first (an initial message's id shows only in lists)."""


@dataclass
class OpenScroll:
    operation: str
    key: str
    actor: Actor
    expected: list[dict[str, Any]]
    """What every item must look like: the records as they were when the first page was served
    (a message's reference ids excepted: it shows its conversation's current ones)."""
    offset: int
    scroll_id: str
    opened_at: int


class ConversationMachine(RuleBasedStateMachine):
    conversations = Bundle("conversations")

    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(page_size=PAGE_SIZE, lag=(0.1, 1.0))
        self.convs: dict[str, Conv] = {}
        self.msgs: dict[str, Msg] = {}
        self.seq = 0
        self.scrolls: list[OpenScroll] = []
        self.previous: dict[str, tuple[str, int, int]] = {}  # id -> (status, lastUpdate, messages)

    # --- the model's helpers -------------------------------------------------------------------
    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _pick(self, conv: Conv, who: str, outsider: int) -> Actor:
        """The conversation's retailer or supplier, or one of the two accounts outside it."""
        if who in ("retailer", "supplier"):
            return conv.party(who)
        outsiders = [a for a in ACTORS if conv.role_of(a) is None]
        return outsiders[outsider % len(outsiders)]

    def _find(self, caller: Actor, role: str | None, value: str) -> Conv | None:
        """Which conversation a locator names for ``caller`` (None: it names none of caller's)."""
        if role is None:
            conv = self.convs.get(value)
        elif role == caller.role:
            conv = next(
                (c for c in self.convs.values() if c.party(role) == caller and c.refs[role] == value), None
            )
        else:  # the other party's reference id: refused as ambiguous when two partners use it
            matches = [
                c for c in self.convs.values() if c.refs[role] == value and c.role_of(caller) is not None
            ]
            conv = matches[0] if len(matches) == 1 else None
        return conv if conv is not None and conv.role_of(caller) is not None else None

    def _locator(self, conv: Conv, address: str, names: tuple[str, str, str]) -> tuple[dict[str, str], Any]:
        """A body field naming ``conv`` by id or by one of its reference ids (when it has that one)."""
        if address != "id" and conv.refs[address] is not None:
            value = conv.refs[address]
            assert value is not None
            return {names[1] if address == "retailer" else names[2]: value}, (address, value)
        return {names[0]: conv.id}, (None, conv.id)

    def _conversation_view(self, c: Conv, viewer: Actor) -> dict[str, Any]:
        """The fields a conversation's view must have (None: must be absent)."""
        view: dict[str, Any] = {
            "id": c.id,
            "title": c.title,
            "type": {"type": "customer_care", "consumerId": c.consumer_id}
            if c.kind == "customer_care"
            else {"type": "standard"},
            "initiatedBy": c.initiator,
            "dscoRetailerId": c.retailer.account_id,
            "dscoSupplierId": c.supplier.account_id,
            "status": c.status,
            "closedDate": None if c.closed_date is None else iso(c.closed_date),
            "createDate": iso(c.create_time),
            "lastUpdate": iso(c.last_update),
            "retailerReferenceId": c.refs["retailer"],
            "supplierReferenceId": c.refs["supplier"],
            "initialMessage": None if c.initial is None else {"message": c.initial},
            "isTest": False,
        }
        if viewer == c.retailer:
            view["dscoSupplierTradingPartnerId"] = PARTNER_REFS[(viewer.name, c.supplier.name)]
            view["dscoRetailerTradingPartnerId"] = None
        else:
            view["dscoRetailerTradingPartnerId"] = PARTNER_REFS[(viewer.name, c.retailer.name)]
            view["dscoSupplierTradingPartnerId"] = None
        return view

    def _message_view(self, m: Msg) -> dict[str, Any]:
        c = self.convs[m.conversation]
        view: dict[str, Any] = {
            "dscoConversationId": c.id,
            "message": m.text,
            "accountType": c.role_of(m.sender),
            "dscoAccountId": m.sender.account_id,
            "recipientDscoAccountId": c.other(m.sender).account_id,
            "retailerReferenceId": c.refs["retailer"],
            "supplierReferenceId": c.refs["supplier"],
            "createDate": iso(m.create_time),
            "isTest": False,
            "type": None,
        }
        if c.kind == "customer_care":
            care = "message_from_consumer" if m.sender.role == "retailer" else "response_to_consumer"
            view["type"] = {"type": "customer_care", "customerCareType": care, "consumerId": c.consumer_id}
        if m.id is not None:
            view["dscoMessageId"] = m.id
        return view

    def _check(self, actual: dict[str, Any], expected: dict[str, Any]) -> None:
        for key, value in expected.items():
            if value is None:
                assert key not in actual, f"{key} should be absent: {actual}"
            else:
                assert actual.get(key) == value, f"{key}: expected {value!r}, got {actual.get(key)!r}"

    def _learn_message_id(self, m: Msg, view: dict[str, Any]) -> None:
        if m.id is None:
            message_id = view["dscoMessageId"]
            assert all(other.id != message_id for other in self.msgs.values()), "a message id repeats"
            m.id = message_id

    def _check_messages(self, viewer: Actor, actual: list[dict[str, Any]], expected: list[Msg]) -> None:
        assert [v["message"] for v in actual] == [m.text for m in expected], "wrong messages or order"
        for view, m in zip(actual, expected, strict=True):
            self._check(view, self._message_view(m))
            self._learn_message_id(m, view)
            assert viewer.account_id in (view["dscoAccountId"], view["recipientDscoAccountId"])

    def _visible_conversations(self, actor: Actor, body: dict[str, Any]) -> list[Conv]:
        until = self.h.now() - MARGIN
        found = [
            c
            for c in sorted(self.convs.values(), key=lambda c: (c.create_time, c.seq))
            if c.role_of(actor) is not None
            and c.create_time < until
            and ("statuses" not in body or c.status in body["statuses"])
            and ("type" not in body or c.kind == body["type"]["type"])
            and ("initiatedBy" not in body or c.initiator == body["initiatedBy"])
            and ("dscoConversationId" not in body or c.id == body["dscoConversationId"])
        ]
        return found[::-1] if body.get("sort", {}).get("direction") == "desc" else found

    def _visible_messages(self, actor: Actor, body: dict[str, Any]) -> list[Msg]:
        until = self.h.now() - MARGIN
        care = body.get("type", {}).get("customerCareType")
        found = [
            m
            for m in sorted(self.msgs.values(), key=lambda m: (m.create_time, m.seq))
            if self.convs[m.conversation].role_of(actor) is not None
            and m.create_time < until
            and ("dscoConversationId" not in body or m.conversation == body["dscoConversationId"])
            and (
                care is None
                or (
                    self.convs[m.conversation].kind == "customer_care"
                    and (m.sender.role == "retailer") == (care == "message_from_consumer")
                )
            )
        ]
        return found[::-1] if body.get("sort", {}).get("direction") == "desc" else found

    # --- rules ---------------------------------------------------------------------------------
    @initialize(
        target=conversations,
        seeds=st.lists(
            st.tuples(
                st.sampled_from(sorted(PARTNER_REFS)),
                st.sampled_from(["standard", "customer_care"]),
                st.booleans(),
            ),
            max_size=10,
        ),
    )
    def seed(self, seeds: list[tuple[tuple[str, str], str, bool]]) -> Any:
        """A few conversations between trading partners, already visible, so that lists and
        scrolls have something to show from the first step."""
        by_name = {a.name: a for a in ACTORS}
        created = []
        for (caller, other), kind, initial in seeds:
            actor = by_name[caller]
            kind = kind if actor.role == "retailer" else "standard"
            conversation = self.create(
                actor, by_name[other], "tradingPartnerId", kind, "C-1", None, initial, "Hi"
            )
            created.append(conversation)
            self.h.advance(0.25)
        self.h.advance(6)
        return multiple(*created)

    @rule(
        target=conversations,
        actor=st.sampled_from(ACTORS),
        other=st.sampled_from(ACTORS),
        by=st.sampled_from(["tradingPartnerId", "dscoAccountId"]),
        kind=st.sampled_from(["standard", "customer_care"]),
        consumer=st.sampled_from(CONSUMERS),
        reference=st.none() | st.sampled_from(REFERENCES),
        initial=st.booleans(),
        title=st.sampled_from(TITLES),
    )
    def create(
        self,
        actor: Actor,
        other: Actor,
        by: str,
        kind: str,
        consumer: str,
        reference: str | None,
        initial: bool,
        title: str,
    ) -> Any:
        body: dict[str, Any] = {"title": title}
        if by == "tradingPartnerId":
            body["otherPartyTradingPartnerId"] = PARTNER_REFS.get((actor.name, other.name), "no-such-partner")
        else:
            body["otherPartyDscoAccountId"] = other.account_id
        if kind == "customer_care":
            body["type"] = {"type": "customer_care", "consumerId": consumer}
        elif consumer == CONSUMERS[0]:  # sometimes say "standard" explicitly, sometimes not at all
            body["type"] = {"type": "standard"}
        text = f"message {len(self.msgs) + 1}"
        if initial:
            body["initialMessage"] = {"message": text}
        if reference is not None:
            body["referenceId"] = reference
        taken = reference is not None and any(
            c.party(actor.role) == actor and c.refs[actor.role] == reference for c in self.convs.values()
        )
        refused = not trade(actor, other) or (kind == "customer_care" and actor.role != "retailer") or taken
        event(f"create: {'refused' if refused else 'created'}")
        if refused:
            self.h.expect(400, "createConversation", actor, body)
            return multiple()
        view = self.h.expect(201, "createConversation", actor, body).json
        now = self.h.now()
        assert view["id"] not in self.convs, "a conversation id repeats"
        retailer, supplier = (actor, other) if actor.role == "retailer" else (other, actor)
        conv = Conv(
            id=view["id"],
            seq=self._next_seq(),
            retailer=retailer,
            supplier=supplier,
            initiator=actor.role,
            kind=kind,
            consumer_id=consumer if kind == "customer_care" else None,
            title=title,
            create_time=now,
            last_update=now,
            refs={"retailer": None, "supplier": None, actor.role: reference},
            initial=text if initial else None,
        )
        self._check(view, self._conversation_view(conv, actor))
        self.convs[conv.id] = conv
        if initial:
            self.msgs[text] = Msg(text, self._next_seq(), conv.id, actor, now)
            conv.messages.append(text)
        return conv.id

    @rule(
        conversation=conversations,
        who=st.sampled_from(["retailer", "supplier", "retailer", "supplier", "outsider"]),
        outsider=st.integers(0, 1),
        address=st.sampled_from(["id", "id", "retailer", "supplier"]),
    )
    def add_message(self, conversation: str, who: str, outsider: int, address: str) -> None:
        intended = self.convs[conversation]
        actor = self._pick(intended, who, outsider)
        text = f"message {len(self.msgs) + 1}"
        locator, (role, value) = self._locator(
            intended, address, ("dscoConversationId", "retailerReferenceId", "supplierReferenceId")
        )
        body = {**locator, "message": text}
        conv = self._find(actor, role, value)
        event(f"post: {'not found' if conv is None else conv.status}")
        if conv is None or conv.status == "closed":
            self.h.expect(400, "addConversationMessage", actor, body)
            return
        view = self.h.expect(201, "addConversationMessage", actor, body).json
        now = self.h.now()
        message = Msg(text, self._next_seq(), conv.id, actor, now)
        self._learn_message_id(message, view)
        self.msgs[text] = message
        conv.messages.append(text)
        if conv.status == "new" and actor.role != conv.initiator:
            conv.status = "in_progress"
        conv.last_update = max(conv.last_update, now)
        self._check(view, self._message_view(message))

    def _update(self, intended: Conv, actor: Actor, address: str, change: dict[str, Any]) -> None:
        """One update by ``actor``; the model predicts refusal or the new state before the call."""
        locator, (role, value) = self._locator(
            intended,
            address,
            ("dscoConversationId", "findByRetailerReferenceId", "findBySupplierReferenceId"),
        )
        body = {**locator, **change}
        conv = self._find(actor, role, value)
        if conv is None:
            self.h.expect(400, "updateConversation", actor, body)
            return
        now = self.h.now()
        status, closed_date, title, refs = conv.status, conv.closed_date, conv.title, dict(conv.refs)
        refused = False
        if "status" in change:
            if change["status"] == "new" or (change["status"] == "in_progress" and status == "new"):
                refused = True
            elif change["status"] != status:
                status = change["status"]
                closed_date = now if status == "closed" else None
        if "title" in change:
            title = change["title"]
        for name in ("retailerReferenceId", "supplierReferenceId"):
            own = name.removesuffix("ReferenceId")
            if name not in change:
                continue
            if own != actor.role:
                refused = True  # only the retailer sets retailerReferenceId, the supplier its own
            elif change[name] != refs[own]:
                refused |= any(
                    c.party(own) == actor and c.refs[own] == change[name] for c in self.convs.values()
                )
                refs[own] = change[name]
        event(f"update {sorted(change)}: {'refused' if refused else 'accepted'}")
        if refused:
            self.h.expect(400, "updateConversation", actor, body)
            return
        if (status, closed_date, title, refs) != (conv.status, conv.closed_date, conv.title, conv.refs):
            conv.status, conv.closed_date, conv.title, conv.refs = status, closed_date, title, refs
            conv.last_update = max(conv.last_update, now)
        view = self.h.expect(200, "updateConversation", actor, body).json
        self._check(view, self._conversation_view(conv, actor))

    @rule(
        conversation=conversations,
        who=st.sampled_from(["retailer", "supplier", "retailer", "supplier", "outsider"]),
        outsider=st.integers(0, 1),
        address=st.sampled_from(["id", "id", "retailer", "supplier"]),
        status=st.sampled_from(["closed", "closed", "in_progress", "in_progress", "new"]),
    )
    def update_status(self, conversation: str, who: str, outsider: int, address: str, status: str) -> None:
        intended = self.convs[conversation]
        self._update(intended, self._pick(intended, who, outsider), address, {"status": status})

    @rule(
        conversation=conversations,
        who=st.sampled_from(["retailer", "supplier", "outsider"]),
        outsider=st.integers(0, 1),
        title=st.sampled_from(TITLES),
    )
    def update_title(self, conversation: str, who: str, outsider: int, title: str) -> None:
        intended = self.convs[conversation]
        self._update(intended, self._pick(intended, who, outsider), "id", {"title": title})

    @rule(
        conversation=conversations,
        who=st.sampled_from(["retailer", "supplier", "outsider"]),
        outsider=st.integers(0, 1),
        side=st.sampled_from(["retailerReferenceId", "supplierReferenceId"]),
        reference=st.sampled_from(REFERENCES),
        address=st.sampled_from(["id", "retailer", "supplier"]),
    )
    def update_reference(
        self, conversation: str, who: str, outsider: int, side: str, reference: str, address: str
    ) -> None:
        intended = self.convs[conversation]
        self._update(intended, self._pick(intended, who, outsider), address, {side: reference})

    @rule(
        actor=st.sampled_from(ACTORS),
        statuses=st.none() | st.lists(st.sampled_from(["new", "in_progress", "closed"]), unique=True),
        kind=st.sampled_from([None, "standard", "customer_care"]),
        initiated_by=st.sampled_from([None, "retailer", "supplier"]),
        direction=st.sampled_from([None, "asc", "desc"]),
    )
    def list_conversations(
        self,
        actor: Actor,
        statuses: list[str] | None,
        kind: str | None,
        initiated_by: str | None,
        direction: str | None,
    ) -> None:
        body: dict[str, Any] = {}
        if statuses is not None:
            body["statuses"] = statuses
        if kind is not None:
            body["type"] = {"type": kind}
        if initiated_by is not None:
            body["initiatedBy"] = initiated_by
        if direction is not None:
            body["sort"] = {"field": "create_date", "direction": direction}
        found = [c for page in self.h.pages("getConversations", actor, body, "conversations") for c in page]
        expected = self._visible_conversations(actor, body)
        event(f"list conversations: {'some' if expected else 'none'}")
        assert [c["id"] for c in found] == [c.id for c in expected], "wrong conversations or order"
        for view, conv in zip(found, expected, strict=True):
            assert actor.account_id in (view["dscoRetailerId"], view["dscoSupplierId"])
            self._check(view, self._conversation_view(conv, actor))

    @rule(
        conversation=conversations,
        who=st.sampled_from(["retailer", "supplier", "outsider"]),
        outsider=st.integers(0, 1),
        messages=st.booleans(),
    )
    def list_one_conversation(self, conversation: str, who: str, outsider: int, messages: bool) -> None:
        conv = self.convs[conversation]
        actor = self._pick(conv, who, outsider)
        body = {"dscoConversationId": conv.id}
        operation, key = (
            ("getConversationMessages", "messages") if messages else ("getConversations", "conversations")
        )
        if conv.role_of(actor) is None:
            self.h.expect(400, operation, actor, body)
            return
        found = [item for page in self.h.pages(operation, actor, body, key) for item in page]
        if messages:
            self._check_messages(actor, found, self._visible_messages(actor, body))
        else:
            expected = self._visible_conversations(actor, body)
            assert [c["id"] for c in found] == [c.id for c in expected]
            for view, c in zip(found, expected, strict=True):
                self._check(view, self._conversation_view(c, actor))

    @rule(
        actor=st.sampled_from(ACTORS),
        care=st.sampled_from([None, "message_from_consumer", "response_to_consumer"]),
        direction=st.sampled_from([None, "asc", "desc"]),
    )
    def list_messages(self, actor: Actor, care: str | None, direction: str | None) -> None:
        body: dict[str, Any] = {}
        if care is not None:
            body["type"] = {"type": "customer_care", "customerCareType": care}
        if direction is not None:
            body["sort"] = {"field": "create_date", "direction": direction}
        found = [m for page in self.h.pages("getConversationMessages", actor, body, "messages") for m in page]
        event(f"list messages: {'some' if found else 'none'}")
        self._check_messages(actor, found, self._visible_messages(actor, body))

    @rule(
        actor=st.sampled_from(ACTORS),
        messages=st.booleans(),
        direction=st.sampled_from(["asc", "desc"]),
    )
    def open_scroll(self, actor: Actor, messages: bool, direction: str) -> None:
        """Read only the first page; the rest is read by later steps, with writes in between."""
        body = {"sort": {"field": "create_date", "direction": direction}}
        if messages:
            operation, key = "getConversationMessages", "messages"
            items = self._visible_messages(actor, body)
            expected = [self._message_view(m) for m in items]
        else:
            operation, key = "getConversations", "conversations"
            convs = self._visible_conversations(actor, body)
            expected = [self._conversation_view(c, actor) for c in convs]
        page = self.h.expect(200, operation, actor, body).json
        self._check_page(page, key, expected, 0)
        if messages:
            for view, m in zip(page[key], items, strict=False):
                self._learn_message_id(m, view)
        if "scrollId" in page:
            self.scrolls.append(
                OpenScroll(operation, key, actor, expected, PAGE_SIZE, page["scrollId"], self.h.now())
            )

    def _check_page(
        self, page: dict[str, Any], key: str, expected: list[dict[str, Any]], offset: int
    ) -> None:
        wanted = expected[offset : offset + PAGE_SIZE]
        assert len(page[key]) == len(wanted), f"page at {offset}: {len(page[key])} items, not {len(wanted)}"
        for view, fields in zip(page[key], wanted, strict=True):
            if key == "messages":
                # The one thing a scroll does not freeze: a message shows its conversation's
                # reference ids as they are when its page is read, not as at the first page.
                c = self.convs[fields["dscoConversationId"]]
                fields = {
                    **fields,
                    "retailerReferenceId": c.refs["retailer"],
                    "supplierReferenceId": c.refs["supplier"],
                }
            self._check(view, {k: v for k, v in fields.items() if k != "dscoMessageId" or v is not None})
        assert ("scrollId" in page) == (len(wanted) == PAGE_SIZE), "scrollId present iff the page is full"

    @precondition(lambda self: bool(self.scrolls))
    @rule(which=st.integers(0, 10), retry=st.booleans())
    def continue_scroll(self, which: int, retry: bool) -> None:
        scroll = self.scrolls[which % len(self.scrolls)]
        body = {"scrollId": scroll.scroll_id}
        expired = self.h.now() >= scroll.opened_at + SCROLL_TTL
        event(f"scroll: {'expired' if expired else 'continued'}")
        if expired:
            self.h.expect(404, scroll.operation, scroll.actor, body)
            self.scrolls.remove(scroll)
            return
        page = self.h.expect(200, scroll.operation, scroll.actor, body).json
        self._check_page(page, scroll.key, scroll.expected, scroll.offset)
        if retry:  # the same scrollId again (a client retrying after a network error): same page
            again = self.h.expect(200, scroll.operation, scroll.actor, body).json
            assert [i for i in again[scroll.key]] == page[scroll.key], "a retried scrollId gave another page"
        if "scrollId" in page:
            scroll.scroll_id = page["scrollId"]
            scroll.offset += PAGE_SIZE
        else:
            self.scrolls.remove(scroll)

    @rule(secs=st.sampled_from([0.001, 0.5, 2.0, 5.0, 60.0, 301.0]))
    def advance_clock(self, secs: float) -> None:
        self.h.advance(secs)

    @rule()
    def settle(self) -> None:
        """Wait until everything written so far shows in lists (lag <= 1 s, until = now - 5 s)."""
        self.h.advance(6)

    # --- invariants ----------------------------------------------------------------------------
    @invariant()
    def the_store_agrees_with_the_model_and_the_rules(self) -> None:
        store = self.h.sandbox.store
        records = {c.id: c for c in store.all_conversations()}
        assert set(records) == set(self.convs), "conversations appeared or vanished"
        current: dict[str, tuple[str, int, int]] = {}
        for cid, record in records.items():
            model = self.convs[cid]
            assert (record.status, record.closed_date) == (model.status, model.closed_date), cid
            assert (record.closed_date is not None) == (record.status == "closed"), "closedDate iff closed"
            assert record.create_time <= record.last_update, "createDate after lastUpdate"
            assert record.last_update == model.last_update, "lastUpdate differs from the model"
            assert (record.retailer_reference_id, record.supplier_reference_id) == (
                model.refs["retailer"],
                model.refs["supplier"],
            )
            assert record.title == model.title
            messages = store.messages_in(cid)
            assert [m.text for m in messages] == model.messages, "messages differ from the model"
            current[cid] = (record.status, record.last_update, len(messages))
            if cid in self.previous:
                status, last_update, count = self.previous[cid]
                assert record.status == status or (status, record.status) in ALLOWED_MOVES, (
                    f"status moved {status} -> {record.status}"
                )
                assert record.last_update >= last_update, "lastUpdate went back"
                if status == "closed":
                    assert len(messages) == count, "a closed conversation gained a message"
                if (status, record.status) == ("new", "in_progress"):
                    assert any(m.sender_role != record.initiated_by for m in messages[count:]), (
                        "in_progress without a post from the non-initiator"
                    )
            for m in messages:
                assert record.party_role(m.sender_id) == m.sender_role, "sender is not the party it claims"
                assert m.recipient_id == record.other_party(m.sender_id), "recipient is not the other party"
                if record.kind == "customer_care":
                    care = "message_from_consumer" if m.sender_role == "retailer" else "response_to_consumer"
                    assert (m.customer_care_type, m.consumer_id) == (care, record.consumer_id)
                else:
                    assert (m.customer_care_type, m.consumer_id) == (None, None)
        ids = [m.id for m in store.all_messages()]
        assert len(ids) == len(set(ids)) == len(self.msgs), "message ids repeat or messages vanished"
        self.previous = current
