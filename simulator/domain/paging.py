"""Scrolls: frozen result sets that a client pages through with an opaque ``scrollId``.

The first list call fixes its result (the immutable records it matched, or a snapshot query that
yields exactly those), so writes made while a client is paging can never add, drop or repeat an
item. Results are read a page at a time as they are asked for, so a first page costs the same over
a thousand stored messages as over a million. Every page hands out a fresh
scrollId that points at the next page, and old ones stay valid until the scroll expires: a client
that retries a page after a network error gets the same page again instead of skipping one.

A page comes with a scrollId only while it is full; the page after the last full one is empty and
has none, exactly as the vendor describes ("it is possible that you will get back an empty array on
the last page").

Each account keeps at most ``OPEN_SCROLLS_PER_ACCOUNT`` scrolls open: a client that opens scroll
after scroll without finishing them (a poller starting over every second) would otherwise hold a
result set per call for the whole lifetime of a scroll. Past the cap the oldest is dropped, and its
scrollIds then answer exactly as an expired scroll's do.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Generic, TypeVar

from .errors import NotFound

T = TypeVar("T")
SCROLL_ID = "scrollId"


def continuation(body: object) -> tuple[object, tuple[str, ...]]:
    """A list request reduced to its scrollId when it carries one, and the names of what was dropped.

    The vendor's query schemas say of ``scrollId``: "Any other attributes will be ignored if
    scrollId is provided." So a next-page request is answered from the scroll even when a client
    resends its first query beside the scrollId, malformed or not; only a scrollId that is not a
    string leaves the body as it is (and validation names it).
    """
    if isinstance(body, dict) and isinstance(body.get(SCROLL_ID), str):
        return {SCROLL_ID: body[SCROLL_ID]}, tuple(str(name) for name in body if name != SCROLL_ID)
    return body, ()


OPEN_SCROLLS_PER_ACCOUNT = 100
"""How many scrolls one account may hold open at once (both list operations together)."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    scroll_id: str | None


@dataclass(slots=True)
class _Scroll(Generic[T]):
    owner: str
    operation: str
    read: list[T]
    """The items read so far after the first page, so that a page asked for again is the same
    page. No scrollId leads back to the first page, so its items are not kept."""
    rest: Iterator[T] | None
    """Where the next items come from; ``None`` once it is exhausted."""
    page_size: int
    expires_at: int
    tokens: list[str]
    """Every scrollId handed out for this scroll, forgotten with it when it expires."""

    def slice(self, offset: int) -> tuple[T, ...]:
        start = offset - self.page_size  # where this page's items are in ``read``
        wanted = start + self.page_size
        if self.rest is not None and len(self.read) < wanted:
            self.read.extend(islice(self.rest, wanted - len(self.read)))
            if len(self.read) < wanted:
                self.rest = None
        return tuple(self.read[start:wanted])


class ScrollRegistry(Generic[T]):
    """Open scrolls, each owned by one account and one list operation, expiring by sandbox time."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._scrolls: dict[str, _Scroll[T]] = {}
        self._cursors: dict[str, tuple[str, int]] = {}  # scrollId -> (scroll key, offset)
        self._expiry: list[tuple[int, str]] = []  # a heap: the next scroll to expire comes first
        self._owned: dict[str, dict[str, None]] = {}  # owner -> keys of its open scrolls, oldest first

    def clear(self) -> None:
        self._scrolls.clear()
        self._cursors.clear()
        self._expiry.clear()
        self._owned.clear()

    def __len__(self) -> int:
        return len(self._scrolls)

    @property
    def scroll_ids(self) -> int:
        """How many scrollIds are held (every page's id stays valid until its scroll expires)."""
        return len(self._cursors)

    def open(
        self, owner: str, operation: str, items: Iterable[T], page_size: int, now: int, ttl: int
    ) -> Page[T]:
        """Keep ``items`` (read lazily, page by page) and return the first page.

        A result that fits on a first page that is not full has no next page, so nothing is kept.
        """
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        self._expire(now)
        rest = iter(items)
        first = list(islice(rest, page_size + 1))  # one more tells whether anything follows
        if len(first) < page_size:
            return Page(tuple(first), None)
        # When nothing follows, the scroll keeps no query (nor the objects the query holds on to):
        # its next page is simply the empty last page.
        following = first[page_size:]
        key = self._token()
        owned = self._owned.setdefault(owner, {})
        while len(owned) >= OPEN_SCROLLS_PER_ACCOUNT:
            self._drop(next(iter(owned)))  # the oldest; its heap entry is skipped when it comes up
        self._scrolls[key] = _Scroll(
            owner, operation, following, rest if following else None, page_size, now + ttl, []
        )
        owned[key] = None
        heapq.heappush(self._expiry, (now + ttl, key))
        if len(self._expiry) > 2 * len(self._scrolls) + 1024:
            # Evicted scrolls leave their entries behind; rebuild from the open ones now and then
            # (amortised O(1)), so a long scroll lifetime cannot make the heap grow without bound.
            self._expiry = [(scroll.expires_at, k) for k, scroll in self._scrolls.items()]
            heapq.heapify(self._expiry)
        return self._paged(key, tuple(first[:page_size]), page_size)

    def next(self, scroll_id: str, owner: str, operation: str, now: int) -> Page[T]:
        """The page a scrollId points at; unknown, foreign or expired ids are all simply not found."""
        self._expire(now)
        cursor = self._cursors.get(scroll_id)
        scroll = self._scrolls.get(cursor[0]) if cursor else None
        if (
            cursor is None
            or scroll is None
            or scroll.expires_at <= now
            or scroll.owner != owner
            or scroll.operation != operation
        ):
            raise NotFound.at(
                "scrollId",
                f"{scroll_id!r} is not an open scroll of yours (scrolls expire 5 minutes of sandbox time "
                f"after their first page, and past {OPEN_SCROLLS_PER_ACCOUNT} open ones an account's "
                "oldest is dropped; start a new query)",
                code="scroll_not_found",
            )
        return self._page(cursor[0], cursor[1])

    def _page(self, key: str, offset: int) -> Page[T]:
        scroll = self._scrolls[key]
        return self._paged(key, scroll.slice(offset), offset + scroll.page_size)

    def _paged(self, key: str, items: tuple[T, ...], next_offset: int) -> Page[T]:
        """``items`` as a page, with a scrollId for the page at ``next_offset`` when it is full."""
        scroll = self._scrolls[key]
        if len(items) < scroll.page_size:
            return Page(items, None)
        token = self._token()
        self._cursors[token] = (key, next_offset)
        scroll.tokens.append(token)
        return Page(items, token)

    def _token(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"

    def _expire(self, now: int) -> None:
        """Drop every scroll whose time is up (amortised: the heap yields the earliest expiry first,
        whatever order the scrolls were opened in, so a clock set back cannot hide one). A scroll
        takes its own scrollIds along, so no call ever sweeps the scrollIds of scrolls still open,
        however many pages a long scroll has handed out."""
        while self._expiry and self._expiry[0][0] <= now:
            _, key = heapq.heappop(self._expiry)
            self._drop(key)

    def _drop(self, key: str) -> None:
        """Forget one scroll, its scrollIds and its place among its owner's open scrolls."""
        scroll = self._scrolls.pop(key, None)
        if scroll is None:
            return
        for token in scroll.tokens:
            del self._cursors[token]
        owned = self._owned[scroll.owner]
        del owned[key]
        if not owned:
            del self._owned[scroll.owner]
