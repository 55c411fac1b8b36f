"""What the five operations answer: the records themselves, not their JSON.

The domain has one path: each operation returns one of these, and whoever answers renders it
(HTTP as JSON text in ``http/presenter.py``, reusing each record's cached encoding; tests and tools
as dicts through :func:`simulator.domain.views.answer_view`). Records are immutable, so an answer
stays true to the moment it was made however long it is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .models import Conversation, Message


@dataclass(frozen=True, slots=True)
class ShownMessage:
    """A message with its conversation as it is when answered: the message shows that record's
    reference ids, and nothing else of it."""

    message: Message
    conversation: Conversation


@dataclass(frozen=True, slots=True)
class ConversationPage:
    conversations: tuple[Conversation, ...]
    scroll_id: str | None
    """Present only while the page is full (the next one may be the empty last page)."""


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: tuple[Message, ...]
    conversations: Mapping[str, Conversation]
    """The messages' conversations by id, as they are when the page is read: each message shows
    its conversation's reference ids. A page holds many messages of few conversations, so each is
    looked up once, not once per message."""
    scroll_id: str | None


Answer = Conversation | ShownMessage | ConversationPage | MessagePage
"""createConversation and updateConversation answer a conversation, addConversationMessage a
message, and the two lists a page."""


@dataclass(frozen=True, slots=True)
class Planned:
    """A checked operation, not yet stored: its answer, and what stores it.

    The sandbox renders the answer for its caller before it calls :attr:`store`, so an answer that
    cannot be rendered (a bug) fails the call with nothing stored: an error answer never leaves a
    write behind, though the rendering lives outside the domain.
    """

    answer: Answer
    store: Callable[[], None]


def nothing_to_store() -> None:
    """What a read stores (its scroll, if any, is opened when the page is read)."""
