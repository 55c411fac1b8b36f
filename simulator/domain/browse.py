"""What a person browsing the sandbox sees: one account's conversations, filtered and paged.

The API answers a program, which pages by time windows and scroll ids; a person wants "page 3 of
this account's open customer-care conversations about order 123". Both apply the same visibility:
an account sees only conversations it is a party to, and only once their post-processing lag has
passed (``Conversation.visible_at``). Browsing may also show those still in lag, marked as such,
since "why don't I see it yet?" is exactly what a developer comes to look at.
"""

from __future__ import annotations

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
    return needle in _haystack(conversation)


def _haystack(conversation: Conversation) -> str:
    """The conversation's identifiers as one case-folded text: its id, its reference ids, and every
    identifier of its context (top level, or one level down as in an order's line item)."""
    c = conversation
    parts = [c.id]
    if c.retailer_reference_id is not None:
        parts.append(c.retailer_reference_id)
    if c.supplier_reference_id is not None:
        parts.append(c.supplier_reference_id)
    for key, value in c.context.items():
        if isinstance(value, str):
            if key != "type":
                parts.append(value)
        elif isinstance(value, dict):
            parts.extend(str(item) for item in value.values() if isinstance(item, str | int))
    return "\x00".join(parts).casefold()
