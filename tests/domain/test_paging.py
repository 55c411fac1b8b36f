"""ScrollRegistry: frozen result sets paged through with scrollIds, owned and expiring."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from simulator.domain.clock import MICROS, seconds
from simulator.domain.errors import NotFound, SandboxError
from simulator.domain.paging import Page, ScrollRegistry

T0 = 1_682_933_395_000_000
TTL = seconds(300)
OWNER, STRANGER = "1000001", "2000002"
OP, OTHER_OP = "getConversations", "getConversationMessages"


@pytest.fixture
def scrolls() -> ScrollRegistry[int]:
    return ScrollRegistry(random.Random(0))


def open_(scrolls: ScrollRegistry[int], items: range | tuple[int, ...], page_size: int = 3) -> Page[int]:
    return scrolls.open(OWNER, OP, tuple(items), page_size, T0, TTL)


def all_pages(scrolls: ScrollRegistry[int], first: Page[int], now: int = T0) -> list[Page[int]]:
    pages = [first]
    while pages[-1].scroll_id is not None:
        scroll_id = pages[-1].scroll_id
        assert scroll_id is not None
        pages.append(scrolls.next(scroll_id, OWNER, OP, now))
    return pages


def test_seven_items_in_pages_of_three_come_as_3_3_1(scrolls: ScrollRegistry[int]) -> None:
    pages = all_pages(scrolls, open_(scrolls, range(7)))
    assert [p.items for p in pages] == [(0, 1, 2), (3, 4, 5), (6,)]
    assert [p.scroll_id is not None for p in pages] == [True, True, False]


def test_six_items_in_pages_of_three_end_with_an_empty_page_without_scroll_id(
    scrolls: ScrollRegistry[int],
) -> None:
    pages = all_pages(scrolls, open_(scrolls, range(6)))
    assert [p.items for p in pages] == [(0, 1, 2), (3, 4, 5), ()]
    assert [p.scroll_id is not None for p in pages] == [True, True, False]


def test_no_items_give_one_empty_page_without_scroll_id(scrolls: ScrollRegistry[int]) -> None:
    page = open_(scrolls, ())
    assert page == Page((), None)


def test_a_short_first_page_has_no_scroll_id_and_keeps_nothing_open(scrolls: ScrollRegistry[int]) -> None:
    page = open_(scrolls, range(2))
    assert page == Page((0, 1), None)
    assert len(scrolls) == 0


def test_a_full_first_page_keeps_its_scroll_open(scrolls: ScrollRegistry[int]) -> None:
    open_(scrolls, range(3))
    assert len(scrolls) == 1


def test_pages_cover_every_item_exactly_once_in_order(scrolls: ScrollRegistry[int]) -> None:
    items = tuple(range(23))
    pages = all_pages(scrolls, open_(scrolls, items, page_size=4))
    assert tuple(i for p in pages for i in p.items) == items


def test_each_page_hands_out_a_fresh_scroll_id(scrolls: ScrollRegistry[int]) -> None:
    pages = all_pages(scrolls, open_(scrolls, range(9)))
    scroll_ids = [p.scroll_id for p in pages if p.scroll_id is not None]
    assert len(set(scroll_ids)) == len(scroll_ids) == 3


def test_a_retried_scroll_id_returns_the_same_page_again(scrolls: ScrollRegistry[int]) -> None:
    first = open_(scrolls, range(7))
    assert first.scroll_id is not None
    second = scrolls.next(first.scroll_id, OWNER, OP, T0)
    retried = scrolls.next(first.scroll_id, OWNER, OP, T0 + MICROS)
    assert retried.items == second.items == (3, 4, 5)
    assert second.scroll_id is not None and retried.scroll_id is not None
    # either next scrollId leads on to the same last page
    assert scrolls.next(second.scroll_id, OWNER, OP, T0).items == (6,)
    assert scrolls.next(retried.scroll_id, OWNER, OP, T0).items == (6,)


def test_the_items_are_frozen_when_the_scroll_opens(scrolls: ScrollRegistry[int]) -> None:
    source = [0, 1, 2, 3]
    first = scrolls.open(OWNER, OP, tuple(source), 2, T0, TTL)
    source.insert(0, -1)  # a write after the first page
    assert first.scroll_id is not None
    assert scrolls.next(first.scroll_id, OWNER, OP, T0).items == (2, 3)


def test_several_scrolls_page_independently(scrolls: ScrollRegistry[int]) -> None:
    a = open_(scrolls, range(0, 6))
    b = open_(scrolls, range(100, 106))
    assert a.scroll_id is not None and b.scroll_id is not None
    assert scrolls.next(b.scroll_id, OWNER, OP, T0).items == (103, 104, 105)
    assert scrolls.next(a.scroll_id, OWNER, OP, T0).items == (3, 4, 5)
    assert len(scrolls) == 2


def test_another_account_cannot_use_a_scroll_id(scrolls: ScrollRegistry[int]) -> None:
    first = open_(scrolls, range(7))
    assert first.scroll_id is not None
    with pytest.raises(NotFound) as caught:
        scrolls.next(first.scroll_id, STRANGER, OP, T0)
    assert caught.value.code == "scroll_not_found"
    assert caught.value.problems[0].field == "scrollId"


def test_a_scroll_id_is_not_valid_for_another_operation(scrolls: ScrollRegistry[int]) -> None:
    first = open_(scrolls, range(7))
    assert first.scroll_id is not None
    with pytest.raises(NotFound):
        scrolls.next(first.scroll_id, OWNER, OTHER_OP, T0)


def test_a_foreign_attempt_does_not_spoil_the_scroll_for_its_owner(scrolls: ScrollRegistry[int]) -> None:
    first = open_(scrolls, range(7))
    assert first.scroll_id is not None
    with pytest.raises(NotFound):
        scrolls.next(first.scroll_id, STRANGER, OP, T0)
    assert scrolls.next(first.scroll_id, OWNER, OP, T0).items == (3, 4, 5)


@pytest.mark.parametrize("scroll_id", ["", "nonsense", "0" * 32])
def test_an_unknown_scroll_id_is_not_found(scrolls: ScrollRegistry[int], scroll_id: str) -> None:
    open_(scrolls, range(7))
    with pytest.raises(NotFound) as caught:
        scrolls.next(scroll_id, OWNER, OP, T0)
    assert isinstance(caught.value, SandboxError)
    assert caught.value.code == "scroll_not_found"


def test_a_scroll_works_until_its_ttl_and_is_not_found_from_then_on(scrolls: ScrollRegistry[int]) -> None:
    first = open_(scrolls, range(7))
    assert first.scroll_id is not None
    assert scrolls.next(first.scroll_id, OWNER, OP, T0 + TTL - 1000).items == (3, 4, 5)
    with pytest.raises(NotFound):
        scrolls.next(first.scroll_id, OWNER, OP, T0 + TTL)


def test_the_ttl_counts_from_the_first_page_not_the_latest(scrolls: ScrollRegistry[int]) -> None:
    first = open_(scrolls, range(9))
    assert first.scroll_id is not None
    second = scrolls.next(first.scroll_id, OWNER, OP, T0 + TTL - MICROS)
    assert second.scroll_id is not None
    with pytest.raises(NotFound):
        scrolls.next(second.scroll_id, OWNER, OP, T0 + TTL)


def test_expired_scrolls_are_dropped(scrolls: ScrollRegistry[int]) -> None:
    open_(scrolls, range(7))
    open_(scrolls, range(7))
    assert len(scrolls) == 2
    later = scrolls.open(OWNER, OP, tuple(range(7)), 3, T0 + TTL, TTL)
    assert len(scrolls) == 1
    assert later.scroll_id is not None
    assert scrolls.next(later.scroll_id, OWNER, OP, T0 + TTL).items == (3, 4, 5)


def test_a_failed_next_also_drops_expired_scrolls(scrolls: ScrollRegistry[int]) -> None:
    open_(scrolls, range(7))
    with pytest.raises(NotFound):
        scrolls.next("unknown", OWNER, OP, T0 + TTL)
    assert len(scrolls) == 0


def test_a_scroll_opened_after_the_clock_was_set_back_still_expires_on_time(
    scrolls: ScrollRegistry[int],
) -> None:
    scrolls.open(OWNER, OP, tuple(range(7)), 3, T0 + 3600 * MICROS, TTL)  # expires an hour later
    early = scrolls.open(OWNER, OP, tuple(range(7)), 3, T0, TTL)  # the clock was set back an hour
    assert early.scroll_id is not None
    with pytest.raises(NotFound):
        scrolls.next(early.scroll_id, OWNER, OP, T0 + TTL)
    assert len(scrolls) == 1


def test_clear_forgets_every_scroll(scrolls: ScrollRegistry[int]) -> None:
    first = open_(scrolls, range(7))
    assert first.scroll_id is not None
    scrolls.clear()
    assert len(scrolls) == 0
    with pytest.raises(NotFound):
        scrolls.next(first.scroll_id, OWNER, OP, T0)


def test_scroll_ids_are_repeatable_for_the_same_seed() -> None:
    def run() -> list[str | None]:
        registry: ScrollRegistry[int] = ScrollRegistry(random.Random(7))
        return [p.scroll_id for p in all_pages(registry, open_(registry, range(10)))]

    assert run() == run()


@pytest.mark.parametrize("page_size", [0, -1])
def test_a_page_size_below_one_is_refused(scrolls: ScrollRegistry[int], page_size: int) -> None:
    with pytest.raises(ValueError, match="page_size"):
        open_(scrolls, range(3), page_size=page_size)


def test_a_lazy_source_is_read_only_as_far_as_the_pages_asked_for(scrolls: ScrollRegistry[int]) -> None:
    pulled: list[int] = []

    def source() -> Iterator[int]:
        for item in range(1_000_000):
            pulled.append(item)
            yield item

    first = scrolls.open(OWNER, OP, source(), 3, T0, TTL)
    assert first.items == (0, 1, 2) and len(pulled) == 4  # one ahead: does anything follow?
    assert first.scroll_id is not None
    second = scrolls.next(first.scroll_id, OWNER, OP, T0)
    assert second.items == (3, 4, 5) and len(pulled) == 6
    assert second.scroll_id is not None
    third = scrolls.next(second.scroll_id, OWNER, OP, T0)
    again = scrolls.next(second.scroll_id, OWNER, OP, T0)  # a retry: the same page, nothing more read
    assert third.items == again.items == (6, 7, 8) and len(pulled) == 9


def test_an_expired_scroll_takes_every_scroll_id_it_handed_out_along(scrolls: ScrollRegistry[int]) -> None:
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
    scrolls: ScrollRegistry[int],
) -> None:
    pages = all_pages(scrolls, open_(scrolls, range(300)))
    for _ in range(5):
        open_(scrolls, range(2))  # other calls come and go
    retried = [scrolls.next(p.scroll_id, OWNER, OP, T0).items for p in pages if p.scroll_id is not None]
    assert retried == [page.items for page in pages[1:]]
