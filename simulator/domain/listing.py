"""The two lists, getConversations and getConversationMessages, and the scrolls that page them.

A first page runs the query and, when the page is full, opens a scroll (``paging.py``): a record of
the query and of the snapshot's bounds. A next page is read from that record alone:

- messages never change, so a message scroll runs its query again, as of its first page (the same
  "now", nothing stored after its last sequence number), seeking in the store's time index past
  the last key it returned: each page costs O(log n + page), whatever the store's size;
- conversations change (status, lastUpdate), so a conversation scroll keeps its matches as they
  were at the first page (references to the immutable records) and seeks in those.

Either way the items and their order are fixed at the first page, and a message shows its
conversation's reference ids as they are when the page is read.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any, TypeVar

from .answers import ConversationPage, MessagePage
from .clock import MICROS, Clock, seconds
from .config import SandboxConfig
from .errors import InvalidRequest
from .lookup import LOCATORS, Body, Lookup, descending
from .models import Account, Conversation, Message
from .paging import Scroll, ScrollRegistry, key_of
from .store import Key

GET_CONVERSATIONS = "getConversations"
GET_MESSAGES = "getConversationMessages"


class Listing:
    def __init__(self, lookup: Lookup, clock: Clock, config: SandboxConfig, scrolls: ScrollRegistry) -> None:
        self.lookup = lookup
        self.store = lookup.store
        self.clock = clock
        self.config = config
        self.scrolls = scrolls

    # ------------------------------------------------------------------ getConversations
    def list_conversations(self, caller: Account, body: Body) -> ConversationPage:
        now = self.clock.now()
        if body.get("scrollId") is not None:
            scroll, after = self.scrolls.find(body["scrollId"], caller.id, GET_CONVERSATIONS, now)
            assert scroll.matches is not None  # every conversation scroll keeps its matches
            items = _page_of(scroll.matches, after, descending(scroll.query), scroll.page_size)
            return ConversationPage(items, self._next_scroll_id(scroll, items))
        if self.config.strict:
            _require_prose_criteria(GET_CONVERSATIONS, body)
        matches = tuple(self._query_conversations(caller, body, now))
        items = _page_of(matches, None, descending(body), self.config.page_size)
        scroll_id = self._open(caller, GET_CONVERSATIONS, body, now, items, matches)
        return ConversationPage(items, scroll_id)

    # ------------------------------------------------------------------ getConversationMessages
    def list_messages(self, caller: Account, body: Body) -> MessagePage:
        now = self.clock.now()
        if body.get("scrollId") is not None:
            scroll, after = self.scrolls.find(body["scrollId"], caller.id, GET_MESSAGES, now)
            items = self._query_messages(
                caller, scroll.query, scroll.opened_at, scroll.stored_seq, after, scroll.page_size
            )
            return MessagePage(items, self._conversations_of(items), self._next_scroll_id(scroll, items))
        if self.config.strict:
            _require_prose_criteria(GET_MESSAGES, body)
        query = self._resolved(caller, body)
        items = self._query_messages(caller, query, now, self.store.last_seq(), None, self.config.page_size)
        scroll_id = self._open(caller, GET_MESSAGES, query, now, items, None)
        return MessagePage(items, self._conversations_of(items), scroll_id)

    def _conversations_of(self, messages: tuple[Message, ...]) -> dict[str, Conversation]:
        """The conversations the messages belong to, by id, as they are now."""
        return self.store.conversations_by_id({m.conversation_id for m in messages})

    # ------------------------------------------------------------------ scrolls
    def _open(
        self,
        caller: Account,
        operation: str,
        query: Body,
        now: int,
        items: tuple[Conversation, ...] | tuple[Message, ...],
        matches: tuple[Conversation, ...] | None,
    ) -> str | None:
        """A scroll for a full first page (and its scrollId); a page that is not full is the last."""
        page_size = self.config.page_size
        if len(items) < page_size:
            return None
        scroll = Scroll(
            owner=caller.id,
            operation=operation,
            query=dict(query),
            opened_at=now,
            stored_seq=self.store.last_seq(),
            page_size=page_size,
            expires_at=now + seconds(self.config.scroll_ttl),
            matches=matches,
        )
        self.scrolls.open(scroll, now)
        return self.scrolls.hand_out(scroll, key_of(items[-1]))

    def _next_scroll_id(
        self, scroll: Scroll, items: tuple[Conversation, ...] | tuple[Message, ...]
    ) -> str | None:
        if len(items) < scroll.page_size:
            return None
        return self.scrolls.hand_out(scroll, key_of(items[-1]))

    def _resolved(self, caller: Account, body: Body) -> dict[str, Any]:
        """``body`` with the conversation it names (by any locator) named by id: a reference id may
        change or move to another conversation while the scroll is open."""
        single = self.lookup.single_conversation(caller, body)
        if single is None:
            return dict(body)
        query = {name: value for name, value in body.items() if name not in dict(LOCATORS)}
        query["dscoConversationId"] = single.id
        return query

    # ------------------------------------------------------------------ queries
    def _query_conversations(self, caller: Account, body: Body, now: int) -> list[Conversation]:
        """The matches, in ascending (create_time, seq) order."""
        until = self.lookup.until(body, now)
        created_since = self.lookup.date(body, "createdSince")
        updated_since = self.lookup.updated_since(body)
        tests: list[Callable[[Conversation], bool]] = []
        candidates: Iterable[Conversation]
        single = self.lookup.single_conversation(caller, body)
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
        tests += self.lookup.party_filters(caller, body, lambda c: c.retailer_id, lambda c: c.supplier_id)
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
        return _matching(candidates, now, body, tests, stored=self.store.last_seq())  # all stored now

    def _query_messages(
        self, caller: Account, body: Body, now: int, stored: int, after: Key | None, size: int
    ) -> tuple[Message, ...]:
        """The first ``size`` matches as of ``now`` among the messages stored by ``stored``, in the
        query's order, starting past the key ``after``. Messages never change, so the same
        arguments give the same messages whenever they are read."""
        until = self.lookup.until(body, now)
        is_descending = descending(body)
        created_since = self.lookup.date(body, "createdSince")
        tests: list[Callable[[Message], bool]] = []
        candidates: Iterable[Message]
        single = self.lookup.single_conversation(caller, body)
        if body.get("dscoMessageId") is not None:
            message = self.store.message(body["dscoMessageId"])
            if message is None or caller.id not in (message.sender_id, message.recipient_id):
                raise InvalidRequest.at(
                    "dscoMessageId",
                    f"{body['dscoMessageId']!r} is not a message of a conversation you take part in",
                    code="message_not_found",
                )
            candidates = _page_of((message,), after, is_descending, 1)
        elif single is not None:
            candidates = _page_of(tuple(self.store.messages_in(single.id)), after, is_descending, None)
        else:
            candidates = self.store.messages_of(caller.id, created_since, until, is_descending, after)
        if body.get("dscoMessageId") is not None or single is not None:
            tests.append(
                lambda m: (created_since is None or m.create_time >= created_since) and m.create_time < until
            )
        if single is not None:
            tests.append(lambda m: m.conversation_id == single.id)
        tests += self.lookup.party_filters(
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
        return tuple(_matching(candidates, now, body, tests, stored, size))


_Record = TypeVar("_Record", Conversation, Message)


def _page_of(
    ordered: tuple[_Record, ...], after: Key | None, is_descending: bool, size: int | None
) -> tuple[_Record, ...]:
    """Up to ``size`` (None: all) of ``ordered`` (ascending by key) that follow the key ``after``
    in the query's direction: a keyset seek by bisection."""
    if not is_descending:
        start = 0 if after is None else bisect_right(ordered, after, key=key_of)
        return ordered[start : None if size is None else start + size]
    end = len(ordered) if after is None else bisect_left(ordered, after, key=key_of)
    start = 0 if size is None else max(0, end - size)
    return ordered[start:end][::-1]


def _matching(
    candidates: Iterable[_Record],
    now: int,
    body: Body,
    tests: list[Callable[[_Record], bool]],
    stored: int,
    size: int | None = None,
) -> list[_Record]:
    """The first ``size`` (None: all) of the candidates visible by ``now`` that were stored by the
    time ``stored`` was the last seq (a message scroll's snapshot) and that the ``test`` field and
    every other test accept.

    Every list call filters each of its candidates here, so this is written for speed: one list
    comprehension per chunk of candidates for the checks every query makes, then one per test, so
    no candidate costs a generator step or a call beyond its own tests. A page of ``size`` reads
    only as many candidates as it still needs, chunk by chunk: a message query may walk all of an
    account's messages, and a page is usually full after its first chunk.
    """
    test = body.get("test") or "legit"
    every, wanted = test == "all", test == "test"

    def accepted(chunk: Iterable[_Record]) -> list[_Record]:
        found = [
            x for x in chunk if x.visible_at <= now and x.seq <= stored and (every or x.is_test == wanted)
        ]
        for t in tests:
            found = [x for x in found if t(x)]
        return found

    if size is None:
        return accepted(candidates)
    rest = iter(candidates)
    found: list[_Record] = []
    while len(found) < size and (chunk := list(islice(rest, size - len(found)))):
        found += accepted(chunk)
    return found


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
    if operation == GET_CONVERSATIONS and all(
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
