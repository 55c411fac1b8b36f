"""A whole sandbox as one JSON document, and back.

Export captures everything that decides what the API answers next: the world, conversations and
messages (with their reference ids), issued tokens, the clock, the settings and the id and lag
generators. Import builds the new state completely and checks it before anything is replaced, so a
refused document leaves the running sandbox exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any

from .errors import InvalidRequest, Problem
from .models import Conversation, Message, References
from .notifications import Notification
from .store import MemoryStore
from .world import World

STATE_FORMAT = "dsco-sandbox-state"
STATE_VERSION = 1


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_CONVERSATION_FIELDS = tuple((f.name, _camel(f.name)) for f in fields(Conversation))
_MESSAGE_FIELDS = tuple((f.name, _camel(f.name)) for f in fields(Message))


def conversation_to_json(conversation: Conversation) -> dict[str, Any]:
    return {camel: getattr(conversation, name) for name, camel in _CONVERSATION_FIELDS}


def message_to_json(message: Message) -> dict[str, Any]:
    return {camel: getattr(message, name) for name, camel in _MESSAGE_FIELDS}


def conversation_from_json(raw: Mapping[str, Any]) -> Conversation:
    return Conversation(**{name: raw[camel] for name, camel in _CONVERSATION_FIELDS if camel in raw})


def message_from_json(raw: Mapping[str, Any]) -> Message:
    return Message(**{name: raw[camel] for name, camel in _MESSAGE_FIELDS if camel in raw})


def notification_to_json(notification: Notification) -> dict[str, Any]:
    """What a saved state keeps of a notification: who it is for, when, and the message it is
    about; its payload is made again from that message."""
    return {
        "id": notification.id,
        "seq": notification.seq,
        "accountId": notification.account_id,
        "created": notification.created,
        "conversationId": notification.conversation_id,
        "messageId": notification.message_id,
    }


def notifications_from_json(
    document: Mapping[str, Any],
    store: MemoryStore,
    payload: Callable[[Message, References], Callable[[], dict[str, Any]]],
) -> list[Notification]:
    """The document's notifications, checked against the messages of ``store``: each about a
    message of the state, for that message's recipient, with an id and a sequence number of its own.
    ``payload`` makes a notification's payload from its message and the reference ids shown."""
    found: list[Notification] = []
    problems: list[Problem] = []
    ids: set[str] = set()
    seqs: set[int] = set()
    for i, raw in enumerate(document.get("notifications", [])):
        where = f"notifications[{i}]"
        message = store.message(raw["messageId"])
        if raw["id"] in ids:
            problems.append(Problem(f"{where}.id", f"{raw['id']!r} appears more than once"))
        elif raw["seq"] in seqs:
            problems.append(Problem(f"{where}.seq", f"{raw['seq']} appears more than once"))
        elif message is None:
            problems.append(Problem(f"{where}.messageId", f"no message {raw['messageId']!r}"))
        elif message.conversation_id != raw["conversationId"]:
            problems.append(
                Problem(f"{where}.conversationId", f"{message.id!r} is in {message.conversation_id!r}")
            )
        elif message.recipient_id != raw["accountId"]:
            problems.append(
                Problem(f"{where}.accountId", f"must be {message.recipient_id!r}, the message's recipient")
            )
        else:
            conversation = store.conversation(message.conversation_id)
            assert conversation is not None  # build_store checked every message's conversation
            references = conversation.references
            found.append(
                Notification(
                    raw["id"],
                    raw["seq"],
                    raw["accountId"],
                    raw["created"],
                    payload(message, references),
                    message.conversation_id,
                    message.id,
                )
            )
        ids.add(raw["id"])
        seqs.add(raw["seq"])
    if problems:
        raise InvalidRequest(*problems, code="invalid_state")
    found.sort(key=lambda n: n.seq)
    return found


def rebuild_store(world: World, document: Mapping[str, Any]) -> MemoryStore:
    """A fresh store holding the document's conversations and messages, after checking that they
    fit the world and each other (ids unique, parties real, messages in existing conversations)."""
    return build_store(
        world,
        map(conversation_from_json, document.get("conversations", [])),
        map(message_from_json, document.get("messages", [])),
    )


def build_store(
    world: World, conversations: Iterable[Conversation], messages: Iterable[Message]
) -> MemoryStore:
    """:func:`rebuild_store` from records already made (a database's rows, say), with the same checks."""
    store = MemoryStore()
    problems: list[Problem] = []
    references: set[tuple[str, str, str]] = set()
    parties: dict[str, tuple[str, str]] = {}
    for i, conversation in enumerate(conversations):
        where = f"conversations[{i}]"
        if conversation.id in parties:
            problems.append(Problem(f"{where}.id", f"{conversation.id!r} appears more than once"))
            continue
        for role, account_id in (
            ("retailer", conversation.retailer_id),
            ("supplier", conversation.supplier_id),
        ):
            account = world.account(account_id)
            if account is None or account.role != role:
                problems.append(Problem(f"{where}.{role}Id", f"{account_id!r} is not a {role} of the world"))
        for role, owner in (("retailer", conversation.retailer_id), ("supplier", conversation.supplier_id)):
            ref = (
                conversation.retailer_reference_id
                if role == "retailer"
                else conversation.supplier_reference_id
            )
            if ref is not None:
                if (role, owner, ref) in references:
                    problems.append(
                        Problem(f"{where}.{role}ReferenceId", f"{ref!r} is used twice by {owner}")
                    )
                references.add((role, owner, ref))
        store.add_conversation(conversation)
        parties[conversation.id] = (conversation.retailer_id, conversation.supplier_id)
    # The hot loop of a start with many messages: plain dict and tuple operations only, then one
    # bulk load (``MemoryStore.add_messages``); ids seen twice are looked for only if the count is short.
    accepted: list[Message] = []
    rejected: list[int] = []  # their positions, to name the others by theirs
    keep, party_of = accepted.append, parties.get
    # Saved messages come conversation by conversation: a message between the same two accounts
    # in the same conversation as the one before it passes without a look-up.
    last: tuple[str, str, str] = ("", "", "")
    for i, message in enumerate(messages):
        conversation_id, sender, recipient = message.conversation_id, message.sender_id, message.recipient_id
        if conversation_id == last[0] and sender == last[1] and recipient == last[2]:
            keep(message)
            continue
        pair = party_of(conversation_id)
        if pair is not None and (pair == (sender, recipient) or pair == (recipient, sender)):
            keep(message)
            last = (conversation_id, sender, recipient)
            continue
        rejected.append(i)
        where = f"messages[{i}]"
        if pair is None:
            problems.append(
                Problem(f"{where}.conversationId", f"no conversation {message.conversation_id!r}")
            )
        else:
            problems.append(Problem(where, "sender and recipient must be the conversation's two parties"))
    store.add_messages(accepted)  # a fresh store, thrown away if there are problems
    if store.counts()[1] != len(accepted):  # fewer kept than given: an id came twice
        seen: set[str] = set()
        for j, message in enumerate(accepted):
            if message.id in seen:
                i = j  # its position among all the messages, rejected ones included
                for skipped in rejected:
                    i += skipped <= i
                problems.append(Problem(f"messages[{i}].id", f"{message.id!r} appears more than once"))
            seen.add(message.id)
    if problems:
        raise InvalidRequest(*problems, code="invalid_state")
    return store


# --- the seeded generators ---------------------------------------------------------------------
GENERATORS = ("ids", "lags", "scrolls", "notifications", "faults")
"""The sandbox's seeded generators, by the name their state is saved under in ``random``."""

_MT_WORDS = 625  # Mersenne Twister: 624 state words and the position in them


class Generator(random.Random):
    """A seeded generator that counts its draws.

    Its saved position (:func:`generator_to_json`, a few kilobytes of hex) then needs encoding again
    only after it moved: persistence saves the small sections of the state after every write, and
    most generators do not move in a given call.
    """

    draws = 0

    def random(self) -> float:
        self.draws += 1
        return super().random()

    def getrandbits(self, k: int, /) -> int:
        self.draws += 1
        return super().getrandbits(k)

    def setstate(self, state: Any, /) -> None:
        self.draws += 1
        super().setstate(state)


def generator_to_json(rng: random.Random) -> dict[str, Any]:
    """One generator's exact position: the Mersenne Twister's 624 words as one hex string, and the
    position in them.

    They are apart because the words change only once every 624 draws of 32 bits, the position on
    every draw: a copy that saves after each write rewrites a number, and the 5 kB of words rarely.
    (Documents with the older ``state`` field, the 625 words in one string, are still read.)
    """
    version, internal, gauss = rng.getstate()
    *words, position = internal
    # Each word as 8 hex digits, big-endian: packing then one hex() is ~50x faster than formatting
    # word by word.
    hexed = struct.pack(f">{len(words)}I", *words).hex()
    return {"version": version, "words": hexed, "position": position, "gauss": gauss}


def generators_from_json(document: Mapping[str, Any], seed: int) -> dict[str, Generator]:
    """The generators to resume with: as saved in ``random``, else fresh streams for this document.

    A document without a saved position (hand-written, or trimmed) must still never hand out an id
    or a token it already holds, so the missing generators start a new stream seeded by the seed
    and a digest of the document's ids and tokens: repeatable, and not the stream that made them.
    """
    saved = document.get("random") or {}
    problems: list[Problem] = []
    found: dict[str, Generator] = {}
    digest: str | None = None
    for name in GENERATORS:
        raw = saved.get(name)
        if raw is None:
            if digest is None:
                digest = _digest(document)
            found[name] = Generator(f"{seed}:{name}:resumed:{digest}")
            continue
        rng = _generator_from_json(raw)
        if rng is None:
            problems.append(
                Problem(f"random.{name}", "is not a saved generator state (export the state again)")
            )
        else:
            found[name] = rng
    if problems:
        raise InvalidRequest(*problems, code="invalid_state")
    return found


def _generator_from_json(raw: Any) -> Generator | None:
    if not isinstance(raw, Mapping):
        return None
    if isinstance(raw.get("words"), str) and isinstance(raw.get("position"), int):
        text = raw["words"] + f"{raw['position']:08x}" if 0 <= raw["position"] <= _MT_WORDS - 1 else ""
    elif isinstance(raw.get("state"), str):
        text = raw["state"]
    else:
        return None
    version, gauss = raw.get("version"), raw.get("gauss")
    if (
        len(text) != 8 * _MT_WORDS
        or not isinstance(version, int)
        or not (gauss is None or isinstance(gauss, int | float))
    ):
        return None
    try:
        words = tuple(int(text[i : i + 8], 16) for i in range(0, len(text), 8))
        rng = Generator()
        rng.setstate((version, words, gauss))
    except (ValueError, TypeError, OverflowError):
        return None
    return rng


def _digest(document: Mapping[str, Any]) -> str:
    held = {
        "conversations": [c.get("id") for c in document.get("conversations", [])],
        "messages": [m.get("id") for m in document.get("messages", [])],
        "tokens": [t.get("accessToken") for t in document.get("tokens", [])],
    }
    return hashlib.sha256(json.dumps(held, sort_keys=True).encode("utf-8")).hexdigest()
