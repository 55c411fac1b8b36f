"""Where conversations and messages live, behind a small interface.

The service only talks to :class:`Store`, so a shared engine (Redis, for a multi-process team
sandbox) can replace :class:`MemoryStore` without touching a rule. The store holds no locks of its
own: the sandbox serialises every operation with one lock, which keeps compound operations (check a
reference id, then write) atomic without a second locking scheme here.

Indexes are what the list calls need: by participant and create time (a sorted key list, searched
with bisect, so a time-bounded query costs O(log n + k)), by reference id, by message id, and the
messages of each conversation.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Protocol

from .models import Conversation, Message, Role


class StoreObserver(Protocol):
    """Told about every record a store writes, so a durable copy can follow change by change
    (persistence writes just these records, not the whole state, after each call)."""

    def conversation_written(self, conversation: Conversation) -> None: ...
    def message_written(self, message: Message) -> None: ...
    def cleared(self) -> None: ...


Key = tuple[int, int]  # (create_time, seq): a total order that breaks same-millisecond ties


class Store(Protocol):
    """Storage of conversations and messages; callers serialise access."""

    def next_seq(self) -> int: ...
    def add_conversation(self, conversation: Conversation) -> None: ...
    def replace_conversation(self, conversation: Conversation) -> None: ...
    def conversation(self, conversation_id: str) -> Conversation | None: ...
    def conversations_by_id(self, conversation_ids: Iterable[str]) -> dict[str, Conversation]:
        """The conversations of these ids, each of which names a stored one (a list page's
        messages' conversations: a message is stored with its conversation, and both stay)."""
        ...

    def conversation_by_reference(
        self, role: Role, owner_id: str, reference_id: str
    ) -> Conversation | None: ...
    def add_message(self, message: Message) -> None: ...
    def message(self, message_id: str) -> Message | None: ...
    def messages_in(self, conversation_id: str) -> list[Message]: ...  # (create_time, seq) order
    def conversations_of(
        self, account_id: str, since: int | None, until: int | None
    ) -> Iterator[Conversation]: ...
    def messages_of(
        self,
        account_id: str,
        since: int | None,
        until: int | None,
        descending: bool = False,
        after: Key | None = None,
    ) -> Iterator[Message]:
        """Lazily, in (create_time, seq) order or its reverse, starting just past the key ``after``
        (where a scroll's previous page ended); read it before the next write."""
        ...

    def last_seq(self) -> int:
        """The last sequence number handed out: a scroll's snapshot bound."""
        ...

    def all_conversations(self) -> Iterator[Conversation]: ...
    def all_messages(self) -> Iterator[Message]: ...
    def counts(self) -> tuple[int, int]: ...
    def clear(self) -> None: ...


@dataclass
class _TimeIndex:
    """Ids kept in (create_time, seq) order, searchable by time range."""

    keys: list[Key] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def add(self, key: Key, item_id: str) -> None:
        if not self.keys or self.keys[-1] < key:  # the usual case: time moves forward
            self.keys.append(key)
            self.ids.append(item_id)
            return
        position = bisect_left(self.keys, key)
        self.keys.insert(position, key)
        self.ids.insert(position, item_id)

    def between(self, since: int | None, until: int | None) -> list[str]:
        """Ids with ``since <= create_time < until`` (either bound optional), in order."""
        lo = 0 if since is None else bisect_left(self.keys, (since, -1))
        hi = len(self.keys) if until is None else bisect_left(self.keys, (until, -1))
        return self.ids[lo:hi]

    def walk(
        self, since: int | None, until: int | None, descending: bool, after: Key | None = None
    ) -> Iterator[str]:
        """:meth:`between`, lazily, starting just past the key ``after`` when given: a keyset seek,
        O(log n) wherever the page starts. Nothing is kept between calls, so an insert made before
        the next call cannot confuse it; the caller reads it before writing again."""
        keys, ids = self.keys, self.ids
        lo = 0 if since is None else bisect_left(keys, (since, -1))
        hi = len(keys) if until is None else bisect_left(keys, (until, -1))
        if not descending:
            if after is not None:
                lo = max(lo, bisect_right(keys, after))
            return map(ids.__getitem__, range(lo, hi))
        if after is not None:
            hi = min(hi, bisect_left(keys, after))
        return map(ids.__getitem__, range(hi - 1, lo - 1, -1))


class MemoryStore:
    """The in-process store: dictionaries plus sorted per-account indexes."""

    def __init__(self) -> None:
        self.observer: StoreObserver | None = None
        """Told of each write; set by whoever keeps a durable copy (none by default)."""
        self.clear()

    def clear(self) -> None:
        if self.observer is not None:
            self.observer.cleared()
        self._seq = 0
        self._conversations: dict[str, Conversation] = {}
        self._messages: dict[str, Message] = {}
        self._by_reference: dict[tuple[Role, str, str], str] = {}
        self._conversations_by_account: dict[str, _TimeIndex] = {}
        self._messages_by_account: dict[str, _TimeIndex] = {}
        self._messages_by_conversation: dict[str, _TimeIndex] = {}

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def last_seq(self) -> int:
        return self._seq

    def continue_after(self, seq: int) -> None:
        """Hand out sequence numbers after ``seq`` from now on (a restored state's last one, which a
        change of reference ids can leave above every record's own)."""
        self._seq = max(self._seq, seq)

    # --- conversations ---------------------------------------------------------------------
    def add_conversation(self, conversation: Conversation) -> None:
        self._conversations[conversation.id] = conversation
        self._index_references(None, conversation)
        key = (conversation.create_time, conversation.seq)
        for account_id in (conversation.retailer_id, conversation.supplier_id):
            _index(self._conversations_by_account, account_id).add(key, conversation.id)
        _index(self._messages_by_conversation, conversation.id)
        self._seq = max(self._seq, conversation.seq)
        if self.observer is not None:
            self.observer.conversation_written(conversation)

    def replace_conversation(self, conversation: Conversation) -> None:
        previous = self._conversations[conversation.id]
        self._conversations[conversation.id] = conversation
        self._index_references(previous, conversation)
        if self.observer is not None:
            self.observer.conversation_written(conversation)

    def _index_references(self, old: Conversation | None, new: Conversation) -> None:
        sides: tuple[tuple[Role, str], ...] = (("retailer", new.retailer_id), ("supplier", new.supplier_id))
        for role, owner in sides:
            before = old.reference_id(role) if old else None
            after = new.reference_id(role)
            if before == after:
                continue
            if before is not None:
                self._by_reference.pop((role, owner, before), None)
            if after is not None:
                self._by_reference[(role, owner, after)] = new.id

    def conversation(self, conversation_id: str) -> Conversation | None:
        return self._conversations.get(conversation_id)

    def conversations_by_id(self, conversation_ids: Iterable[str]) -> dict[str, Conversation]:
        conversations = self._conversations
        return {conversation_id: conversations[conversation_id] for conversation_id in conversation_ids}

    def conversation_by_reference(self, role: Role, owner_id: str, reference_id: str) -> Conversation | None:
        found = self._by_reference.get((role, owner_id, reference_id))
        return self._conversations[found] if found else None

    def conversations_of(
        self, account_id: str, since: int | None, until: int | None
    ) -> Iterator[Conversation]:
        index = self._conversations_by_account.get(account_id)
        if index is None:
            return iter(())
        return map(self._conversations.__getitem__, index.between(since, until))

    def all_conversations(self) -> Iterator[Conversation]:
        return iter(sorted(self._conversations.values(), key=lambda c: c.seq))

    # --- messages --------------------------------------------------------------------------
    def add_message(self, message: Message) -> None:
        self._messages[message.id] = message
        key = (message.create_time, message.seq)
        for account_id in (message.sender_id, message.recipient_id):
            _index(self._messages_by_account, account_id).add(key, message.id)
        _index(self._messages_by_conversation, message.conversation_id).add(key, message.id)
        self._seq = max(self._seq, message.seq)
        if self.observer is not None:
            self.observer.message_written(message)

    def add_messages(self, messages: list[Message]) -> None:
        """:meth:`add_message` for many at once: a start from a saved state, with 10^6 of them.

        The one place the store is filled in bulk. The same indexes come out, built in a few
        passes instead of three sorted inserts per message: each index's keys and ids are gathered
        in plain lists (saved messages come conversation by conversation, so the lists of the
        conversation, sender and recipient are looked up again only when those change), then each
        list is sorted only if it is out of order, which for a saved state it is not.
        """
        if not messages:
            return
        self._messages.update(zip(map(attrgetter("id"), messages), messages, strict=True))
        by_account: dict[str, tuple[list[Key], list[str]]] = {}
        by_conversation: dict[str, tuple[list[Key], list[str]]] = {}

        def gathered(
            groups: dict[str, tuple[list[Key], list[str]]], name: str
        ) -> tuple[Callable[[Any], None], Callable[[Any], None]]:
            found = groups.get(name)
            if found is None:
                found = groups[name] = ([], [])
            return found[0].append, found[1].append

        conversation_id = sender_id = recipient_id = ""
        add: Callable[[Any], None] = _nothing
        add_key_c = add_id_c = add_key_s = add_id_s = add_key_r = add_id_r = add
        for m in messages:
            if (
                m.conversation_id != conversation_id
                or m.sender_id != sender_id
                or m.recipient_id != recipient_id
            ):
                conversation_id, sender_id, recipient_id = m.conversation_id, m.sender_id, m.recipient_id
                add_key_c, add_id_c = gathered(by_conversation, conversation_id)
                add_key_s, add_id_s = gathered(by_account, sender_id)
                add_key_r, add_id_r = gathered(by_account, recipient_id)
            key, item = (m.create_time, m.seq), m.id
            add_key_c(key)
            add_id_c(item)
            add_key_s(key)
            add_id_s(item)
            add_key_r(key)
            add_id_r(item)
        for indexes, groups in (
            (self._messages_by_account, by_account),
            (self._messages_by_conversation, by_conversation),
        ):
            for name, (keys, ids) in groups.items():
                index = _index(indexes, name)
                if index.keys:
                    keys[:0], ids[:0] = index.keys, index.ids
                if keys != sorted(keys):  # one pass in C when already in order
                    pairs = sorted(zip(keys, ids, strict=True))
                    keys[:], ids[:] = [key for key, _ in pairs], [item for _, item in pairs]
                index.keys, index.ids = keys, ids
        self._seq = max(self._seq, max(m.seq for m in messages))
        if self.observer is not None:
            for message in messages:
                self.observer.message_written(message)

    def message(self, message_id: str) -> Message | None:
        return self._messages.get(message_id)

    def messages_in(self, conversation_id: str) -> list[Message]:
        """The conversation's messages in (create_time, seq) order, the order every list call uses."""
        index = self._messages_by_conversation.get(conversation_id)
        return [] if index is None else [self._messages[i] for i in index.between(None, None)]

    def messages_of(
        self,
        account_id: str,
        since: int | None,
        until: int | None,
        descending: bool = False,
        after: Key | None = None,
    ) -> Iterator[Message]:
        index = self._messages_by_account.get(account_id)
        if index is None:
            return iter(())
        return map(self._messages.__getitem__, index.walk(since, until, descending, after))

    def all_messages(self) -> Iterator[Message]:
        return iter(sorted(self._messages.values(), key=lambda m: m.seq))

    def counts(self) -> tuple[int, int]:
        return len(self._conversations), len(self._messages)


def _nothing(_: Any) -> None:
    """A placeholder until :meth:`MemoryStore.add_messages` has looked up its first lists."""


def _index(indexes: dict[str, _TimeIndex], key: str) -> _TimeIndex:
    """The index under ``key``, made on first use (``setdefault`` would build one on every call)."""
    index = indexes.get(key)
    if index is None:
        index = indexes[key] = _TimeIndex()
    return index
