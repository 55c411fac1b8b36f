"""ScrollRegistry: scroll records paged through with scrollIds, owned and expiring.

The registry keeps records and positions; what a page holds is read by the lists (``listing.py``).
These tests page through a frozen tuple of stand-in records the way a conversation scroll does, so
they pin the registry's own rules: scrollIds, retries, ownership, expiry, the cap, export/restore.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

import pytest

from simulator.domain.clock import MICROS, seconds
from simulator.domain.errors import NotFound, SandboxError
from simulator.domain.paging import OPEN_SCROLLS_PER_ACCOUNT, Scroll, ScrollRegistry, key_of

T0 = 1_682_933_395_000_000
TTL = seconds(300)
OWNER, STRANGER = "1000001", "2000002"
OP, OTHER_OP = "getConversations", "getConversationMessages"


@dataclass(frozen=True)
class Item:
    """A stand-in record: item ``n`` sits at key (n, n)."""

    create_time: int
    seq: int
    id: str = ""


@dataclass(frozen=True)
class Page:
    items: tuple[int, ...]
    scroll_id: str | None


class Pager:
    """Pages of a frozen tuple through a registry, as the lists page a conversation scroll."""

    def __init__(self, registry: ScrollRegistry) -> None:
        self.registry = registry

    def open(self, owner: str, op: str, items: Any, page_size: int, now: int, ttl: int) -> Page:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        matches: Any = tuple(Item(i, i, str(i)) for i in items)
        page = matches[:page_size]
        if len(page) < page_size:
            return Page(tuple(i.seq for i in page), None)
        scroll = Scroll(owner, op, {}, now, 0, page_size, now + ttl, matches)
        self.registry.open(scroll, now)
        return Page(tuple(i.seq for i in page), self.registry.hand_out(scroll, key_of(page[-1])))

    def next(self, scroll_id: str, owner: str, op: str, now: int) -> Page:
        scroll, after = self.registry.find(scroll_id, owner, op, now)
        assert scroll.matches is not None
        page = tuple(m for m in scroll.matches if key_of(m) > after)[: scroll.page_size]
        if len(page) < scroll.page_size:
            return Page(tuple(i.seq for i in page), None)
        return Page(tuple(i.seq for i in page), self.registry.hand_out(scroll, key_of(page[-1])))

    def __len__(self) -> int:
        return len(self.registry)

    @property
    def scroll_ids(self) -> int:
        return self.registry.scroll_ids

    def clear(self) -> None:
        self.registry.clear()


@pytest.fixture
def scrolls() -> Pager:
    return Pager(ScrollRegistry(random.Random(0)))


def open_(scrolls: Pager, items: range | tuple[int, ...], page_size: int = 3) -> Page:
    return scrolls.open(OWNER, OP, tuple(items), page_size, T0, TTL)


def all_pages(scrolls: Pager, first: Page, now: int = T0) -> list[Page]:
    pages = [first]
    while pages[-1].scroll_id is not None:
        scroll_id = pages[-1].scroll_id
        assert scroll_id is not None
        pages.append(scrolls.next(scroll_id, OWNER, OP, now))
    return pages


def test_seven_items_in_pages_of_three_come_as_3_3_1(scrolls: Pager) -> None:
    pages = all_pages(scrolls, open_(scrolls, range(7)))
    assert [p.items for p in pages] == [(0, 1, 2), (3, 4, 5), (6,)]
    assert [p.scroll_id is not None for p in pages] == [True, True, False]


def test_six_items_in_pages_of_three_end_with_an_empty_page_without_scroll_id(
    scrolls: Pager,
) -> None:
    pages = all_pages(scrolls, open_(scrolls, range(6)))
    assert [p.items for p in pages] == [(0, 1, 2), (3, 4, 5), ()]
    assert [p.scroll_id is not None for p in pages] == [True, True, False]


def test_no_items_give_one_empty_page_without_scroll_id(scrolls: Pager) -> None:
    page = open_(scrolls, ())
    assert page == Page((), None)


def test_a_short_first_page_has_no_scroll_id_and_keeps_nothing_open(scrolls: Pager) -> None:
    page = open_(scrolls, range(2))
    assert page == Page((0, 1), None)
    assert len(scrolls) == 0


def test_a_full_first_page_keeps_its_scroll_open(scrolls: Pager) -> None:
    open_(scrolls, range(3))
    assert len(scrolls) == 1


def test_pages_cover_every_item_exactly_once_in_order(scrolls: Pager) -> None:
    items = tuple(range(23))
    pages = all_pages(scrolls, open_(scrolls, items, page_size=4))
    assert tuple(i for p in pages for i in p.items) == items


def test_each_page_hands_out_a_fresh_scroll_id(scrolls: Pager) -> None:
    pages = all_pages(scrolls, open_(scrolls, range(9)))
    scroll_ids = [p.scroll_id for p in pages if p.scroll_id is not None]
    assert len(set(scroll_ids)) == len(scroll_ids) == 3


def test_a_retried_scroll_id_returns_the_same_page_again(scrolls: Pager) -> None:
    first = open_(scrolls, range(7))
    assert first.scroll_id is not None
    second = scrolls.next(first.scroll_id, OWNER, OP, T0)
    retried = scrolls.next(first.scroll_id, OWNER, OP, T0 + MICROS)
    assert retried.items == second.items == (3, 4, 5)
    assert second.scroll_id is not None and retried.scroll_id is not None
    # either next scrollId leads on to the same last page
    assert scrolls.next(second.scroll_id, OWNER, OP, T0).items == (6,)
    assert scrolls.next(retried.scroll_id, OWNER, OP, T0).items == (6,)


def test_the_items_are_frozen_when_the_scroll_opens(scrolls: Pager) -> None:
    source = [0, 1, 2, 3]
    first = scrolls.open(OWNER, OP, tuple(source), 2, T0, TTL)
    source.insert(0, -1)  # a write after the first page
    assert first.scroll_id is not None
    assert scrolls.next(first.scroll_id, OWNER, OP, T0).items == (2, 3)


def test_several_scrolls_page_independently(scrolls: Pager) -> None:
    a = open_(scrolls, range(0, 6))
    b = open_(scrolls, range(100, 106))
    assert a.scroll_id is not None and b.scroll_id is not None
    assert scrolls.next(b.scroll_id, OWNER, OP, T0).items == (103, 104, 105)
    assert scrolls.next(a.scroll_id, OWNER, OP, T0).items == (3, 4, 5)
    assert len(scrolls) == 2


def test_another_account_cannot_use_a_scroll_id(scrolls: Pager) -> None:
    first = open_(scrolls, range(7))
    assert first.scroll_id is not None
    with pytest.raises(NotFound) as caught:
        scrolls.next(first.scroll_id, STRANGER, OP, T0)
    assert caught.value.code == "scroll_not_found"
    assert caught.value.problems[0].field == "scrollId"


def test_a_scroll_id_is_not_valid_for_another_operation(scrolls: Pager) -> None:
    first = open_(scrolls, range(7))
    assert first.scroll_id is not None
    with pytest.raises(NotFound):
        scrolls.next(first.scroll_id, OWNER, OTHER_OP, T0)


def test_a_foreign_attempt_does_not_spoil_the_scroll_for_its_owner(scrolls: Pager) -> None:
    first = open_(scrolls, range(7))
    assert first.scroll_id is not None
    with pytest.raises(NotFound):
        scrolls.next(first.scroll_id, STRANGER, OP, T0)
    assert scrolls.next(first.scroll_id, OWNER, OP, T0).items == (3, 4, 5)


@pytest.mark.parametrize("scroll_id", ["", "nonsense", "0" * 32])
def test_an_unknown_scroll_id_is_not_found(scrolls: Pager, scroll_id: str) -> None:
    open_(scrolls, range(7))
    with pytest.raises(NotFound) as caught:
        scrolls.next(scroll_id, OWNER, OP, T0)
    assert isinstance(caught.value, SandboxError)
    assert caught.value.code == "scroll_not_found"


def test_a_scroll_works_until_its_ttl_and_is_not_found_from_then_on(scrolls: Pager) -> None:
    first = open_(scrolls, range(7))
    assert first.scroll_id is not None
    assert scrolls.next(first.scroll_id, OWNER, OP, T0 + TTL - 1000).items == (3, 4, 5)
    with pytest.raises(NotFound):
        scrolls.next(first.scroll_id, OWNER, OP, T0 + TTL)


def test_the_ttl_counts_from_the_first_page_not_the_latest(scrolls: Pager) -> None:
    first = open_(scrolls, range(9))
    assert first.scroll_id is not None
    second = scrolls.next(first.scroll_id, OWNER, OP, T0 + TTL - MICROS)
    assert second.scroll_id is not None
    with pytest.raises(NotFound):
        scrolls.next(second.scroll_id, OWNER, OP, T0 + TTL)


def test_expired_scrolls_are_dropped(scrolls: Pager) -> None:
    open_(scrolls, range(7))
    open_(scrolls, range(7))
    assert len(scrolls) == 2
    later = scrolls.open(OWNER, OP, tuple(range(7)), 3, T0 + TTL, TTL)
    assert len(scrolls) == 1
    assert later.scroll_id is not None
    assert scrolls.next(later.scroll_id, OWNER, OP, T0 + TTL).items == (3, 4, 5)


def test_a_failed_next_also_drops_expired_scrolls(scrolls: Pager) -> None:
    open_(scrolls, range(7))
    with pytest.raises(NotFound):
        scrolls.next("unknown", OWNER, OP, T0 + TTL)
    assert len(scrolls) == 0


def test_a_scroll_opened_after_the_clock_was_set_back_still_expires_on_time(
    scrolls: Pager,
) -> None:
    scrolls.open(OWNER, OP, tuple(range(7)), 3, T0 + 3600 * MICROS, TTL)  # expires an hour later
    early = scrolls.open(OWNER, OP, tuple(range(7)), 3, T0, TTL)  # the clock was set back an hour
    assert early.scroll_id is not None
    with pytest.raises(NotFound):
        scrolls.next(early.scroll_id, OWNER, OP, T0 + TTL)
    assert len(scrolls) == 1


def test_clear_forgets_every_scroll(scrolls: Pager) -> None:
    first = open_(scrolls, range(7))
    assert first.scroll_id is not None
    scrolls.clear()
    assert len(scrolls) == 0
    with pytest.raises(NotFound):
        scrolls.next(first.scroll_id, OWNER, OP, T0)


def test_scroll_ids_are_repeatable_for_the_same_seed() -> None:
    def run() -> list[str | None]:
        registry = Pager(ScrollRegistry(random.Random(7)))
        return [p.scroll_id for p in all_pages(registry, open_(registry, range(10)))]

    assert run() == run()


@pytest.mark.parametrize("page_size", [0, -1])
def test_a_page_size_below_one_is_refused(scrolls: Pager, page_size: int) -> None:
    with pytest.raises(ValueError, match="page_size"):
        open_(scrolls, range(3), page_size=page_size)


def test_an_expired_scroll_takes_every_scroll_id_it_handed_out_along(scrolls: Pager) -> None:
    long = all_pages(scrolls, open_(scrolls, range(30)))  # ten pages, ten scrollIds
    short = open_(scrolls, range(7))
    assert len(long) == 11 and scrolls.scroll_ids == 11
    later = scrolls.open(OWNER, OP, tuple(range(7)), 3, T0 + TTL, TTL)
    assert len(scrolls) == 1 and scrolls.scroll_ids == 1  # only the new scroll's first scrollId
    assert short.scroll_id is not None and later.scroll_id is not None
    with pytest.raises(NotFound):
        scrolls.next(short.scroll_id, OWNER, OP, T0 + TTL)
    assert scrolls.next(later.scroll_id, OWNER, OP, T0 + TTL).items == (3, 4, 5)


def test_a_live_scroll_keeps_every_scroll_id_valid_however_many_pages_it_has(
    scrolls: Pager,
) -> None:
    pages = all_pages(scrolls, open_(scrolls, range(300)))
    for _ in range(5):
        open_(scrolls, range(2))  # other calls come and go
    retried = [scrolls.next(p.scroll_id, OWNER, OP, T0).items for p in pages if p.scroll_id is not None]
    assert retried == [page.items for page in pages[1:]]


def test_an_exported_scroll_restored_elsewhere_continues_identically(scrolls: Pager) -> None:
    first = open_(scrolls, range(10))
    second = all_pages(scrolls, first)[1]
    assert first.scroll_id is not None and second.scroll_id is not None
    exported = json.loads(json.dumps(scrolls.registry.export()))  # plain JSON data
    elsewhere = Pager(ScrollRegistry(random.Random(99)))
    elsewhere.registry.restore(exported, lambda cid: Item(int(cid), int(cid), cid))  # type: ignore[arg-type,return-value]
    for scroll_id in (first.scroll_id, second.scroll_id):
        here = all_pages(scrolls, scrolls.next(scroll_id, OWNER, OP, T0))
        there = all_pages(elsewhere, elsewhere.next(scroll_id, OWNER, OP, T0))
        assert [p.items for p in there] == [p.items for p in here]
    assert len(elsewhere) == 1
    with pytest.raises(NotFound):  # with its owner, operation and expiry
        elsewhere.next(first.scroll_id, STRANGER, OP, T0)
    with pytest.raises(NotFound):
        elsewhere.next(first.scroll_id, OWNER, OP, T0 + TTL)


def test_a_restored_registry_keeps_the_cap_and_eviction_order() -> None:
    pager = Pager(ScrollRegistry(random.Random(0)))
    ids = [pager.open(OWNER, OP, range(3), 1, T0, TTL).scroll_id for _ in range(100)]
    restored = Pager(ScrollRegistry(random.Random(1)))
    restored.registry.restore(pager.registry.export(), lambda cid: Item(int(cid), int(cid), cid))  # type: ignore[arg-type,return-value]
    restored.open(OWNER, OP, range(3), 1, T0, TTL)  # one past the cap: the oldest goes
    assert ids[0] is not None and ids[1] is not None
    with pytest.raises(NotFound):
        restored.next(ids[0], OWNER, OP, T0)
    assert restored.next(ids[1], OWNER, OP, T0).items == (1,)


def test_the_oldest_scroll_of_an_account_is_dropped_past_the_cap() -> None:
    scrolls = Pager(ScrollRegistry(random.Random(0)))
    ids = [scrolls.open("A", "getConversations", range(3), 1, 0, 10**9).scroll_id for _ in range(3)]
    others = scrolls.open("B", "getConversations", range(3), 1, 0, 10**9).scroll_id
    for _ in range(OPEN_SCROLLS_PER_ACCOUNT - 3):
        scrolls.open("A", "getConversations", range(3), 1, 0, 10**9)
    assert scrolls.next(str(ids[0]), "A", "getConversations", 1).items == (1,)  # still open at the cap
    scrolls.open("A", "getConversations", range(3), 1, 0, 10**9)  # one more: the oldest goes
    with pytest.raises(NotFound) as evicted:
        scrolls.next(str(ids[0]), "A", "getConversations", 1)
    assert evicted.value.code == "scroll_not_found"
    assert scrolls.next(str(ids[1]), "A", "getConversations", 1).items == (1,)
    assert scrolls.next(str(others), "B", "getConversations", 1).items == (1,)  # another account's stays
    assert len(scrolls) == OPEN_SCROLLS_PER_ACCOUNT + 1
