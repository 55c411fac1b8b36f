"""Scrolling returns every match exactly once, in order, whatever the page size and the writes.

For random data sets (0-25 conversations or messages, some of them invisible to the caller), page
sizes 1-50, filters and sort directions, and random writes (creates, replies, closes, clock jumps)
made between pages:

* the pages, concatenated, are exactly the filtered result as it stood when the first page was
  served: each match once, in sort order, with the state it had then (a scroll is a snapshot);
* every page but the last is full and carries a scrollId; the last one is not full and has none, so
  an empty last page appears exactly when the total is a non-zero multiple of the page size, and a
  total of 0 is one empty first page without scrollId;
* a scroll expires 300 s of sandbox time after its first page: 404 from then on, never before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from property_support import ACME, ACTORS, CONTOSO, GLOBEX, MARGIN, NORTHWIND, Actor, Harness, iso

from simulator.domain.clock import parse_rfc3339, seconds

pytestmark = pytest.mark.slow

# (initiator, other party); the last two are invisible to Northwind, and Globex's to Acme.
PAIRS = ((NORTHWIND, ACME), (NORTHWIND, GLOBEX), (ACME, NORTHWIND), (GLOBEX, NORTHWIND), (CONTOSO, ACME))
LISTERS = (NORTHWIND, ACME)
STATUSES = ("new", "in_progress", "closed")
GAPS_MS = (0, 0, 1, 7, 250, 1000, 2500)


@dataclass
class Record:
    """What the test knows about one conversation (or one message)."""

    id: str
    seq: int
    parties: tuple[Actor, Actor]  # (retailer, supplier)
    initiator: str
    kind: str
    create_time: int
    last_update: int
    status: str = "new"
    conversation: str = ""  # messages: the conversation's id
    sender: str = ""  # messages: retailer or supplier

    def sees(self, actor: Actor) -> bool:
        return actor in self.parties


def retailer_and_supplier(a: Actor, b: Actor) -> tuple[Actor, Actor]:
    return (a, b) if a.role == "retailer" else (b, a)


def partner_body(b: Actor) -> dict[str, Any]:
    return {"otherPartyDscoAccountId": b.account_id}


class World:
    """A harness plus the records the test created, with helpers that keep the two in step."""

    def __init__(self) -> None:
        self.h = Harness(page_size=10, lag=(0.1, 1.0))
        self.conversations: list[Record] = []
        self.messages: list[Record] = []
        self.seq = 0

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def create(self, pair: int, care: bool) -> Record:
        initiator, other = PAIRS[pair]
        kind = "customer_care" if care and initiator.role == "retailer" else "standard"
        body: dict[str, Any] = {"title": "Paging", **partner_body(other)}
        if kind == "customer_care":
            body["type"] = {"type": "customer_care", "consumerId": "C-1"}
        view = self.h.expect(201, "createConversation", initiator, body).json
        now = self.h.now()
        record = Record(
            view["id"],
            self._next(),
            retailer_and_supplier(initiator, other),
            initiator.role,
            kind,
            now,
            now,
        )
        self.conversations.append(record)
        return record

    def post(self, conversation: Record, by: str) -> Record | None:
        """The retailer or supplier posts; None when the conversation is closed (a 400)."""
        actor = conversation.parties[0] if by == "retailer" else conversation.parties[1]
        body = {"dscoConversationId": conversation.id, "message": f"message {len(self.messages)}"}
        if conversation.status == "closed":
            self.h.expect(400, "addConversationMessage", actor, body)
            return None
        view = self.h.expect(201, "addConversationMessage", actor, body).json
        now = self.h.now()
        if conversation.status == "new" and by != conversation.initiator:
            conversation.status = "in_progress"
        conversation.last_update = now
        message = Record(
            view["dscoMessageId"],
            self._next(),
            conversation.parties,
            conversation.initiator,
            conversation.kind,
            now,
            now,
            conversation=conversation.id,
            sender=by,
        )
        self.messages.append(message)
        return message

    def close(self, conversation: Record, by: str) -> None:
        actor = conversation.parties[0] if by == "retailer" else conversation.parties[1]
        self.h.expect(
            200, "updateConversation", actor, {"dscoConversationId": conversation.id, "status": "closed"}
        )
        if conversation.status != "closed":
            conversation.status = "closed"
            conversation.last_update = self.h.now()

    def write(self, op: tuple[str, int, int]) -> None:
        """One of the writes made between pages."""
        what, index, extra = op
        if what == "create":
            self.create(index % len(PAIRS), bool(extra % 2))
        elif what == "advance":
            self.h.advance_micros(seconds(extra % 60) + 1000)
        elif self.conversations:
            conversation = self.conversations[index % len(self.conversations)]
            by = "retailer" if extra % 2 else "supplier"
            if what == "post":
                self.post(conversation, by)
            else:
                self.close(conversation, by)

    def scroll(
        self,
        operation: str,
        key: str,
        lister: Actor,
        body: dict[str, Any],
        size: int,
        writes: list[list[tuple[str, int, int]]],
    ) -> list[list[dict[str, Any]]]:
        """Every page of the query, making the given writes between pages; checks page shapes.

        The writes may advance the clock by up to a minute each, so a long scroll could outlive
        the default five-minute scroll TTL; expiry has tests of its own, so here scrolls live a day.
        """
        self.h.set_page_size(size)
        self.h.set_scroll_ttl(86_400.0)
        pages: list[list[dict[str, Any]]] = []
        request = dict(body)
        for number in range(1000):
            page = self.h.expect(200, operation, lister, request).json
            pages.append(page[key])
            if "scrollId" not in page:
                assert len(page[key]) < size, f"page {number}: full ({size}) but no scrollId"
                return pages
            assert len(page[key]) == size, (
                f"page {number}: {len(page[key])} items (size {size}) and a scrollId"
            )
            for op in writes[number] if number < len(writes) else []:
                self.write(op)
                event("a write between pages")
            request = {"scrollId": page["scrollId"]}
        raise AssertionError("a scroll that never ends")


write_ops = st.tuples(
    st.sampled_from(["create", "post", "close", "advance"]), st.integers(0, 30), st.integers(0, 120)
)
writes_between_pages = st.lists(st.lists(write_ops, min_size=1, max_size=3), min_size=1, max_size=30)


def build(world: World, specs: list[tuple[int, bool, int, str]]) -> None:
    """Create the data set: conversations some gap apart, then each one's fate (reply, close)."""
    for pair, care, gap, _ in specs:
        world.h.advance_micros(gap * 1000)
        world.create(pair, care)
    for record, (_, _, gap, fate) in zip(world.conversations, specs, strict=True):
        world.h.advance_micros(gap * 1000)
        other = "supplier" if record.initiator == "retailer" else "retailer"
        if fate in ("reply", "reply_close"):
            world.post(record, other)
        if fate in ("close", "reply_close"):
            world.close(record, other)
    world.h.advance(7)  # everything is now older than lag + 5 s


conversation_specs = st.integers(0, 25).flatmap(
    lambda n: st.lists(
        st.tuples(
            st.integers(0, len(PAIRS) - 1),
            st.booleans(),
            st.sampled_from(GAPS_MS),
            st.sampled_from(["new", "reply", "close", "reply_close"]),
        ),
        min_size=n,
        max_size=n,
    )
)
RARELY = st.sampled_from([False, False, False, True])
"""For the filters that pin a single item or a time window (they make most results small)."""
page_sizes = st.one_of(st.integers(1, 4), st.integers(1, 50))
"""Small sizes half of the time, so that long scrolls are common."""


def sparse(filters: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """No filter, one filter, or any mix: each a third of the time (a mix often matches nothing)."""
    one = st.sampled_from(sorted(filters)).flatmap(lambda name: st.fixed_dictionaries({name: filters[name]}))
    return st.one_of(st.just({}), one, st.fixed_dictionaries({}, optional=filters))


def instant(world: World, records: list[Record], pick: int, field: str, nudge: int) -> str | None:
    """A boundary right at (or 1 ms around) one record's timestamp, to probe inclusive/exclusive."""
    if not records:
        return None
    record = records[pick % len(records)]
    return iso(getattr(record, field) + nudge * 1000)


@given(
    specs=conversation_specs,
    lister=st.sampled_from(LISTERS),
    size=page_sizes,
    data=st.data(),
    writes=writes_between_pages,
)
def test_conversation_pages_hold_each_match_once_in_order_despite_writes(
    specs: list[tuple[int, bool, int, str]],
    lister: Actor,
    size: int,
    data: st.DataObject,
    writes: list[list[tuple[str, int, int]]],
) -> None:
    world = World()
    build(world, specs)
    records = world.conversations
    body: dict[str, Any] = data.draw(
        sparse(
            {
                "statuses": st.lists(st.sampled_from(STATUSES), unique=True),
                "type": st.sampled_from(
                    [
                        {"type": "standard"},
                        {"type": "customer_care"},
                        {"type": "customer_care", "consumerId": "C-1"},
                    ]
                ),
                "initiatedBy": st.sampled_from(["retailer", "supplier"]),
                "dscoAccountIds": st.lists(st.sampled_from([a.account_id for a in ACTORS]), unique=True),
                "sort": st.fixed_dictionaries(
                    {"field": st.just("create_date"), "direction": st.sampled_from(["asc", "desc"])}
                ),
            }
        ),
        label="filters",
    )
    for name, field in (
        ("createdSince", "create_time"),
        ("until", "create_time"),
        ("updatedSince", "last_update"),
    ):
        if data.draw(RARELY, label=f"use {name}"):
            value = instant(
                world, records, data.draw(st.integers(0, 30)), field, data.draw(st.integers(-1, 1))
            )
            if value is not None:
                body[name] = value
    single = None
    if len(records) > 0 and data.draw(RARELY, label="use dscoConversationId"):
        single = records[data.draw(st.integers(0, len(records) - 1), label="conversation")]
        body["dscoConversationId"] = single.id

    now = world.h.now()
    if single is not None and not single.sees(lister):
        world.h.expect(400, "getConversations", lister, body)  # other people's: as if unknown
        return
    expected = expected_conversations(records, lister, body, now)
    snapshot = {r.id: (r.status, r.last_update) for r in expected}

    pages = world.scroll("getConversations", "conversations", lister, body, size, writes)

    found = [c for page in pages for c in page]
    event(f"conversations: {min(len(expected), 10)}+ matches, {min(len(pages), 5)}+ pages")
    assert [c["id"] for c in found] == [r.id for r in expected], "not every match exactly once, in order"
    for view in found:
        assert (view["status"], parse_rfc3339(view["lastUpdate"])) == snapshot[view["id"]], (
            "a later page shows a change made after the first page"
        )
    assert len(pages) == len(expected) // size + 1
    assert (pages[-1] == []) == (len(expected) % size == 0)


def expected_conversations(
    records: list[Record], lister: Actor, body: dict[str, Any], now: int
) -> list[Record]:
    def at(name: str) -> int | None:
        return parse_rfc3339(body[name]) if name in body else None

    created_since, updated_since = at("createdSince"), at("updatedSince")
    until = at("until") or now - MARGIN
    found = []
    for r in sorted(records, key=lambda r: (r.create_time, r.seq)):
        bounded = r.last_update if updated_since is not None else r.create_time
        other = r.parties[1] if lister.role == "retailer" else r.parties[0]
        if (
            r.sees(lister)
            and (created_since is None or r.create_time >= created_since)
            and (updated_since is None or r.last_update >= updated_since)
            and bounded < until
            and r.status in body.get("statuses", STATUSES)
            and ("type" not in body or r.kind == body["type"]["type"])
            and ("initiatedBy" not in body or r.initiator == body["initiatedBy"])
            and other.account_id in body.get("dscoAccountIds", [other.account_id])
            and ("dscoConversationId" not in body or r.id == body["dscoConversationId"])
        ):
            found.append(r)
    return found[::-1] if body.get("sort", {}).get("direction") == "desc" else found


@given(
    specs=st.lists(st.tuples(st.integers(0, len(PAIRS) - 1), st.booleans()), min_size=1, max_size=6),
    posts=st.integers(0, 25).flatmap(
        lambda n: st.lists(
            st.tuples(st.integers(0, 30), st.booleans(), st.sampled_from(GAPS_MS)), min_size=n, max_size=n
        )
    ),
    lister=st.sampled_from(LISTERS),
    size=page_sizes,
    data=st.data(),
    writes=writes_between_pages,
)
def test_message_pages_hold_each_match_once_in_order_despite_writes(
    specs: list[tuple[int, bool]],
    posts: list[tuple[int, bool, int]],
    lister: Actor,
    size: int,
    data: st.DataObject,
    writes: list[list[tuple[str, int, int]]],
) -> None:
    world = World()
    for pair, care in specs:
        world.create(pair, care)
    for index, by_retailer, gap in posts:
        if world.conversations:
            world.h.advance_micros(gap * 1000)
            world.post(
                world.conversations[index % len(world.conversations)],
                "retailer" if by_retailer else "supplier",
            )
    world.h.advance(7)
    messages = world.messages
    body: dict[str, Any] = data.draw(
        sparse(
            {
                "type": st.sampled_from(
                    [
                        {"type": "customer_care"},
                        {"type": "customer_care", "customerCareType": "message_from_consumer"},
                        {"type": "customer_care", "customerCareType": "response_to_consumer"},
                    ]
                ),
                "dscoAccountIds": st.lists(st.sampled_from([a.account_id for a in ACTORS]), unique=True),
                "sort": st.fixed_dictionaries(
                    {"field": st.just("create_date"), "direction": st.sampled_from(["asc", "desc"])}
                ),
            }
        ),
        label="filters",
    )
    for name in ("createdSince", "until"):
        if data.draw(RARELY, label=f"use {name}"):
            value = instant(
                world, messages, data.draw(st.integers(0, 30)), "create_time", data.draw(st.integers(-1, 1))
            )
            if value is not None:
                body[name] = value
    single = None
    if len(world.conversations) > 0 and data.draw(RARELY, label="use dscoConversationId"):
        single = world.conversations[data.draw(st.integers(0, len(world.conversations) - 1))]
        body["dscoConversationId"] = single.id
    if single is not None and not single.sees(lister):
        world.h.expect(400, "getConversationMessages", lister, body)
        return

    now = world.h.now()
    created_since = parse_rfc3339(body["createdSince"]) if "createdSince" in body else None
    until = parse_rfc3339(body["until"]) if "until" in body else now - MARGIN
    assert until is not None, body  # the body's "until" was formatted from an instant
    care_filter: dict[str, str] | None = body.get("type")
    expected = [
        m
        for m in sorted(messages, key=lambda m: (m.create_time, m.seq))
        if m.sees(lister)
        and (created_since is None or m.create_time >= created_since)
        and m.create_time < until
        and (single is None or m.conversation == single.id)
        and (care_filter is None or m.kind == "customer_care")
        and (
            care_filter is None
            or "customerCareType" not in care_filter
            or (m.sender == "retailer") == (care_filter["customerCareType"] == "message_from_consumer")
        )
        and (m.parties[1] if lister.role == "retailer" else m.parties[0]).account_id
        in body.get(
            "dscoAccountIds", [(m.parties[1] if lister.role == "retailer" else m.parties[0]).account_id]
        )
    ]
    if body.get("sort", {}).get("direction") == "desc":
        expected.reverse()

    pages = world.scroll("getConversationMessages", "messages", lister, body, size, writes)

    found = [m["dscoMessageId"] for page in pages for m in page]
    event(f"messages: {min(len(expected), 10)}+ matches, {min(len(pages), 5)}+ pages")
    assert found == [m.id for m in expected], "not every match exactly once, in order"
    assert len(pages) == len(expected) // size + 1
    assert (pages[-1] == []) == (len(expected) % size == 0)


@given(
    count=st.integers(1, 12),
    size=st.integers(1, 6),
    pause_ms=st.one_of(st.integers(0, 600_000), st.sampled_from([299_999, 300_000, 300_001])),
    messages=st.booleans(),
)
def test_a_scroll_expires_300_seconds_after_its_first_page(
    count: int, size: int, pause_ms: int, messages: bool
) -> None:
    world = World()
    for _ in range(count):
        world.post(world.create(0, False), "supplier")
    world.h.advance(7)
    world.h.set_page_size(size)
    operation, key = (
        ("getConversationMessages", "messages") if messages else ("getConversations", "conversations")
    )
    first = world.h.expect(200, operation, NORTHWIND, {}).json
    if count < size:
        assert "scrollId" not in first
        return
    world.h.advance_micros(pause_ms * 1000)
    body = {"scrollId": first["scrollId"]}
    if pause_ms >= 300_000:
        world.h.expect(404, operation, NORTHWIND, body)
    else:
        following = world.h.expect(200, operation, NORTHWIND, body).json
        assert len(following[key]) == min(size, count - size)


def test_no_data_is_one_empty_page_without_scroll_id() -> None:
    world = World()
    world.h.advance(7)
    for operation, key in (("getConversations", "conversations"), ("getConversationMessages", "messages")):
        assert world.h.expect(200, operation, NORTHWIND, {}).json == {key: []}
