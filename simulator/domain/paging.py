"""Scrolls: snapshots of a list query that a client pages through with an opaque ``scrollId``.

The first list call fixes what the scroll returns and in which order, so writes made while a client
is paging can never add, drop or repeat an item. A scroll is a small record of plain data, not a
live iterator: the query, the snapshot's bounds (the last sequence number stored and the sandbox
time of the first page) and, per scrollId, the key of the last item before that scrollId's page. A
page is read by a keyset seek past that key, so a first page costs the same over a thousand stored
messages as over a million, and a scroll can be exported, restored and continued elsewhere (another
process of a shared store) from its record alone.

Every page hands out a fresh scrollId that points at the next page, and old ones stay valid until
the scroll expires: a client that retries a page after a network error gets the same page again
instead of skipping one.

A page comes with a scrollId only while it is full; the page after the last full one is empty and
has none, exactly as the vendor describes ("it is possible that you will get back an empty array on
the last page").

Each account keeps at most ``OPEN_SCROLLS_PER_ACCOUNT`` scrolls open: a client that opens scroll
after scroll without finishing them (a poller starting over every second) would otherwise hold a
record per call for the whole lifetime of a scroll. Past the cap the oldest is dropped, and its
scrollIds then answer exactly as an expired scroll's do.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import NotFound
from .models import Conversation, Message
from .store import Key

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


def key_of(record: Conversation | Message) -> Key:
    """A conversation's or message's place in list order."""
    return (record.create_time, record.seq)


@dataclass(slots=True)
class Scroll:
    """One open scroll, as plain data (see the module's docstring)."""

    owner: str
    operation: str
    query: Mapping[str, Any]
    """The first page's request body (JSON), with the conversation it named resolved to its id."""
    opened_at: int
    """Sandbox time of the first page: the query's "now", so nothing visible only later shows."""
    stored_seq: int
    """The last sequence number stored at the first page: nothing stored later shows."""
    page_size: int
    expires_at: int
    matches: tuple[Conversation, ...] | None = None
    """A conversation scroll's matches as of its first page, in ascending key order (conversations
    change, so the query cannot simply run again); None for a message scroll, whose messages never
    change, so a seek in the store's time index past the position keeps the snapshot."""
    positions: dict[str, Key] = field(default_factory=dict)
    """scrollId -> key of the last item before that scrollId's page."""
    name: str = ""
    """The registry's key for this scroll."""

    def to_json(self) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "name": self.name,
            "owner": self.owner,
            "operation": self.operation,
            "query": dict(self.query),
            "openedAt": self.opened_at,
            "storedSeq": self.stored_seq,
            "pageSize": self.page_size,
            "expiresAt": self.expires_at,
            "positions": {token: list(key) for token, key in self.positions.items()},
        }
        if self.matches is not None:
            raw["matches"] = [c.id for c in self.matches]
        return raw


class ScrollRegistry:
    """Open scrolls, each owned by one account and one list operation, expiring by sandbox time."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._scrolls: dict[str, Scroll] = {}
        self._cursors: dict[str, str] = {}  # scrollId -> name of its scroll
        self._expiry: list[tuple[int, str]] = []  # a heap: the next scroll to expire comes first
        self._owned: dict[str, dict[str, None]] = {}  # owner -> names of its open scrolls, oldest first

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

    def open(self, scroll: Scroll, now: int) -> None:
        """Keep ``scroll`` (whose first page was full), evicting its owner's oldest past the cap."""
        self._expire(now)
        scroll.name = self._token()
        self._keep(scroll)

    def _keep(self, scroll: Scroll) -> None:
        owned = self._owned.setdefault(scroll.owner, {})
        while len(owned) >= OPEN_SCROLLS_PER_ACCOUNT:
            self._drop(next(iter(owned)))  # the oldest; its heap entry is skipped when it comes up
        self._scrolls[scroll.name] = scroll
        owned[scroll.name] = None
        for token in scroll.positions:
            self._cursors[token] = scroll.name
        heapq.heappush(self._expiry, (scroll.expires_at, scroll.name))
        if len(self._expiry) > 2 * len(self._scrolls) + 1024:
            # Evicted scrolls leave their entries behind; rebuild from the open ones now and then
            # (amortised O(1)), so a long scroll lifetime cannot make the heap grow without bound.
            self._expiry = [(s.expires_at, name) for name, s in self._scrolls.items()]
            heapq.heapify(self._expiry)

    def hand_out(self, scroll: Scroll, after: Key) -> str:
        """A new scrollId for the page of ``scroll`` that follows the item at ``after``."""
        token = self._token()
        scroll.positions[token] = after
        self._cursors[token] = scroll.name
        return token

    def find(self, scroll_id: str, owner: str, operation: str, now: int) -> tuple[Scroll, Key]:
        """The scroll a scrollId belongs to and its position; unknown, foreign or expired ids are all
        simply not found."""
        self._expire(now)
        name = self._cursors.get(scroll_id)
        scroll = self._scrolls.get(name) if name is not None else None
        if (
            scroll is None
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
        return scroll, scroll.positions[scroll_id]

    def export(self) -> list[dict[str, Any]]:
        """Every open scroll as JSON data, oldest first per owner (the order eviction follows)."""
        return [self._scrolls[name].to_json() for names in self._owned.values() for name in names]

    def restore(self, raw: list[dict[str, Any]], conversation: Callable[[str], Conversation | None]) -> None:
        """Replace the open scrolls with exported ones; ``conversation`` finds a conversation
        scroll's matches by id (as they are now: the store keeps only the latest version)."""
        self.clear()
        for item in raw:
            matches = None
            if "matches" in item:
                found = [conversation(cid) for cid in item["matches"]]
                matches = tuple(c for c in found if c is not None)
            self._keep(
                Scroll(
                    owner=item["owner"],
                    operation=item["operation"],
                    query=dict(item["query"]),
                    opened_at=int(item["openedAt"]),
                    stored_seq=int(item["storedSeq"]),
                    page_size=int(item["pageSize"]),
                    expires_at=int(item["expiresAt"]),
                    matches=matches,
                    positions={token: (int(k[0]), int(k[1])) for token, k in item["positions"].items()},
                    name=item["name"],
                )
            )

    def _token(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"

    def _expire(self, now: int) -> None:
        """Drop every scroll whose time is up (amortised: the heap yields the earliest expiry first,
        whatever order the scrolls were opened in, so a clock set back cannot hide one). A scroll
        takes its own scrollIds along, so no call ever sweeps the scrollIds of scrolls still open,
        however many pages a long scroll has handed out."""
        while self._expiry and self._expiry[0][0] <= now:
            _, name = heapq.heappop(self._expiry)
            scroll = self._scrolls.get(name)
            if scroll is not None and scroll.expires_at <= now:
                self._drop(name)

    def _drop(self, name: str) -> None:
        """Forget one scroll, its scrollIds and its place among its owner's open scrolls."""
        scroll = self._scrolls.pop(name, None)
        if scroll is None:
            return
        for token in scroll.positions:
            del self._cursors[token]
        owned = self._owned[scroll.owner]
        del owned[name]
        if not owned:
            del self._owned[scroll.owner]
