"""Answers as the JSON text HTTP sends, built from each record's cached encoding.

The domain answers with records (``domain/answers.py``); rendering them is this layer's job. A page
of 100 items costs far more to build and encode than anything else a call does, and the same items
are listed again and again (every poll, every page of every scroll), so the text of each (record,
viewer) pair is kept in a bounded cache and a page is joined from those texts.
"""

from __future__ import annotations

import weakref
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from typing import Any

from ..domain.answers import Answer, ConversationPage, MessagePage, ShownMessage
from ..domain.models import Account, Conversation, Message
from ..domain.sandbox import Sandbox
from ..domain.views import conversation_view, encode_json, message_view
from ..domain.world import World


class Presenter:
    """Runs an operation on one sandbox and answers with its JSON text."""

    def __init__(self, sandbox: Sandbox, cache_size: int = 4096) -> None:
        self._sandbox = sandbox
        self._cache_size = cache_size
        self._views: weakref.WeakKeyDictionary[object, EncodedViews] = weakref.WeakKeyDictionary()
        """The cache, held by the sandbox's services it was made for. A reset or an import rebuilds
        them, and the old services' cache goes with them at once: kept across, it would hold the
        records of up to ``cache_size`` entries alive that the sandbox no longer has."""

    def call(self, operation: str, caller: Account, body: Mapping[str, Any]) -> str:
        """``Sandbox.answer`` as the JSON text of its answer (encoded under the sandbox's lock, before
        a write is stored: an import swaps the world the text is made from, and an answer that
        cannot be encoded must leave nothing behind)."""
        return self._sandbox.answer(operation, caller, body, lambda answer: self.encode(answer, caller.id))

    def encode(self, answer: Answer, viewer_id: str) -> str:
        views = self._views_of(self._sandbox.world, self._sandbox.conversations)
        match answer:
            case Conversation():
                return views.conversation(answer, viewer_id)
            case ShownMessage(message, conversation):
                return views.message(message, conversation, viewer_id)
            case ConversationPage(conversations, scroll_id):
                return encode_page("conversations", views.conversations(conversations, viewer_id), scroll_id)
            case MessagePage(messages, conversations, scroll_id):
                return encode_page("messages", views.messages(messages, conversations, viewer_id), scroll_id)

    def _views_of(self, world: World, services: object) -> EncodedViews:
        """The cache of the sandbox's current services, made for ``world`` (the partner names a
        view shows come from it)."""
        views = self._views.get(services)
        if views is None or views.world is not world:
            views = self._views[services] = EncodedViews(world, self._cache_size)
        return views


_Entry = tuple[Conversation | Message, Conversation | None, str]
"""A cached text: the record it shows, the conversation record a message's text was made with
(None for a conversation's), and the text."""


class EncodedViews:
    """Views already encoded as JSON text, per record version and viewer, for list pages.

    Records are immutable — an update replaces the record — so the text of a (record, viewer) pair
    never goes stale. An entry is keyed by the record's id and holds the record it was made from,
    which a hit must be (the very object): a conversation's new record replaces the entry of the
    one before, in its place. A message shows its conversation's reference ids and nothing else of
    it, so a message's entry also holds the conversation record it was made with and is checked
    against the record the answer shows: the same record, or a new one with the same reference ids
    (a new conversation record must not make it miss, a change of reference ids must). The cache is
    bounded, oldest entry out first.

    A page looks up 100 entries, so :meth:`conversations` and :meth:`messages` are the one place
    the lookup is written out, as a loop with everything it touches in local names: a method call
    per item cost more than the lookup itself. A single record is a page of one. For the same
    reason the entries are kept per viewer, each viewer's keyed by the record's id alone (a string
    whose hash Python keeps): a page has one viewer, and a (record, viewer) key would be a tuple to
    build and hash per item.
    """

    def __init__(self, world: World, size: int = 4096) -> None:
        self.world = world
        self._size = size
        self._texts: defaultdict[str, dict[str, _Entry]] = defaultdict(dict)
        """viewer id -> id of a record -> (the record, a message's conversation, its text)"""
        self._order: deque[tuple[str, str]] = deque()
        """Every entry's (viewer id, id of the record), oldest first: the one to evict next."""

    def conversation(self, conversation: Conversation, viewer_id: str) -> str:
        return self.conversations((conversation,), viewer_id)[0]

    def message(self, message: Message, conversation: Conversation, viewer_id: str) -> str:
        return self.messages((message,), {message.conversation_id: conversation}, viewer_id)[0]

    def conversations(self, conversations: Iterable[Conversation], viewer_id: str) -> list[str]:
        """The text of each conversation as ``viewer_id`` sees it, in order."""
        entries = self._texts[viewer_id]
        get = entries.get
        texts = []
        for c in conversations:
            hit = get(c.id)
            if hit is not None and hit[0] is c:
                texts.append(hit[2])
            else:
                text = encode_json(conversation_view(self.world, c, viewer_id))
                self._keep(entries, viewer_id, c, None, text)
                texts.append(text)
        return texts

    def messages(
        self, messages: Iterable[Message], conversations: Mapping[str, Conversation], viewer_id: str
    ) -> list[str]:
        """The text of each message as ``viewer_id`` sees it, showing the reference ids of its
        conversation in ``conversations``, in order."""
        entries = self._texts[viewer_id]
        get = entries.get
        texts = []
        for m in messages:
            c = conversations[m.conversation_id]
            hit = get(m.id)
            if hit is not None and hit[0] is m and hit[1] is c:
                texts.append(hit[2])
            elif hit is not None and hit[0] is m and hit[1] is not None and hit[1].references == c.references:
                # A new record of the conversation (its status changed, say) that shows the same
                # reference ids: the text stands, checked against the new record from now on.
                entries[m.id] = (m, c, hit[2])
                texts.append(hit[2])
            else:
                text = encode_json(message_view(self.world, m, c.references, viewer_id))
                self._keep(entries, viewer_id, m, c, text)
                texts.append(text)
        return texts

    def _keep(
        self,
        entries: dict[str, _Entry],
        viewer_id: str,
        record: Conversation | Message,
        shown: Conversation | None,
        text: str,
    ) -> None:
        """Keep ``text`` in ``entries`` (the viewer's), replacing the record's entry if it has one
        (which keeps its place in the order), and evict the oldest entry if the cache is then too
        large."""
        key = record.id
        if key not in entries:
            self._order.append((viewer_id, key))
        entries[key] = (record, shown, text)
        if len(self._order) > self._size:
            oldest_viewer, oldest = self._order.popleft()
            del self._texts[oldest_viewer][oldest]


def encode_page(name: str, texts: list[str], scroll_id: str | None) -> str:
    """A list answer from encoded items: ``{"scrollId": ..., name: [...]}`` as the vendor orders it.

    ``texts`` is the caller's to give away: the opening is added to its first item and the closing
    to its last, so the page's 50-60 kB are copied once, by one join, and not again for each part.
    """
    opening = f'{{"{name}":[' if scroll_id is None else f'{{"scrollId":{encode_json(scroll_id)},"{name}":['
    if not texts:
        return opening + "]}"
    texts[0] = opening + texts[0]
    texts[-1] += "]}"
    return ",".join(texts)
