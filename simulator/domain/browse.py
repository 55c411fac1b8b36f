"""What a person browsing the sandbox sees: one account's conversations, filtered and paged.

The API answers a program, which pages by time windows and scroll ids; a person wants "page 3 of
this account's open customer-care conversations about order 123". Both apply the same visibility:
an account sees only conversations it is a party to, and only once their post-processing lag has
passed (``Conversation.visible_at``). Browsing may also show those still in lag, marked as such,
since "why don't I see it yet?" is exactly what a developer comes to look at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .models import Conversation
from .store import Store

PAGE_SIZE = 25
"""Conversations per page of the browsing view (small enough to read, and to render quickly)."""


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    """Which conversations to show; ``None`` (or empty) means "any"."""

    status: str | None = None
    kind: str | None = None
    context_type: str | None = None
    is_test: bool | None = None
    search: str | None = None
    """Matches a conversation's id, either reference id or any identifier of its context (an
    order's poNumber, dscoOrderId, ...), exactly or as a case-insensitive part."""
    include_pending: bool = False
    """Also show conversations still in their post-processing lag (not yet visible to the API)."""

    def accepts(self, conversation: Conversation, now: int) -> bool:
        c = conversation
        return (
            (self.include_pending or c.visible_at <= now)
            and (not self.status or c.status == self.status)
            and (not self.kind or c.kind == self.kind)
            and (not self.context_type or c.context.get("type") == self.context_type)
            and (self.is_test is None or c.is_test == self.is_test)
            and (not self.search or _mentions(c, self.search.casefold()))
        )


@dataclass(frozen=True, slots=True)
class BrowsePage:
    conversations: list[Conversation]
    page: int
    """1-based number of this page."""
    pages: int
    total: int


def browse_conversations(
    store: Store, account_id: str, now: int, wanted: ConversationFilter, page: int = 1
) -> BrowsePage:
    """One page of ``account_id``'s conversations that ``wanted`` accepts, latest update first."""
    found = [c for c in store.conversations_of(account_id, None, None) if wanted.accepts(c, now)]
    found.sort(key=lambda c: (c.last_update, c.seq), reverse=True)
    pages = max(1, -(-len(found) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    start = (page - 1) * PAGE_SIZE
    return BrowsePage(found[start : start + PAGE_SIZE], page, pages, len(found))


def _mentions(conversation: Conversation, needle: str) -> bool:
    return any(needle in value.casefold() for value in _identifiers(conversation))


def _identifiers(conversation: Conversation) -> Iterable[str]:
    yield conversation.id
    for reference in conversation.references:
        if reference:
            yield reference
    yield from _strings(conversation.context)


def _strings(value: object) -> Iterable[str]:
    """Every string inside a context (identifiers sit at its top level or in its line item)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
