"""What changed in a sandbox's state since a store last saved it: the seam every store follows.

A store that keeps the state change by change (the SQLite state database; a shared store later)
needs, after each change, the records each collection part gained or lost and the small parts'
values. :class:`ChangeTracker` collects them, so no store follows the sandbox's objects itself:

* conversations and messages as the store reports them (:class:`~.store.StoreObserver`);
* notifications as the notification center reports them (:class:`~.notifications.NotificationObserver`);
* tokens by position: issuing appends to the table of live tokens, and only a sweep of expired
  ones or a restore makes a new table (see :attr:`~.auth.Authenticator.issued`);
* a new store (an import, a restore, the first save) as "everything": every record of every
  collection, to be written in place of what the store held.

The small parts are given whole, every time (taking them is cheap: a generator's position is
encoded again only when it moved); each store compares them with what it holds at the grain it
keeps them. The collections are those of the definition (``state_parts.py``): a collection part
the tracker cannot follow is refused when a tracker is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from .auth import IssuedToken
from .models import Conversation, Message
from .notifications import Notification
from .state_parts import Kind, derived_names, parts_of

if TYPE_CHECKING:
    from .sandbox import Sandbox

FOLLOWED = ("conversations", "messages", "tokens", "notifications")
"""The collections a tracker follows; a collection part added to the state must be followed too."""


@dataclass
class CollectionChanges:
    """What one collection gained and lost since the last take."""

    written: dict[str, Any] = field(default_factory=dict)
    """Records added or replaced, by their key (the part's ``key``), in the order first written."""
    removed: set[str] = field(default_factory=set)
    """Keys of records gone (a notification dropped past its account's bound)."""
    cleared: bool = False
    """Every record held before is gone; ``written`` then holds what came after."""

    def write(self, key: str, record: Any) -> None:
        self.written[key] = record

    def remove(self, key: str) -> None:
        self.written.pop(key, None)
        self.removed.add(key)

    def clear(self) -> None:
        self.cleared = True
        self.written.clear()
        self.removed.clear()

    def __bool__(self) -> bool:
        return bool(self.written or self.removed or self.cleared)


@dataclass
class StateChanges:
    everything: bool
    """The state was replaced (or is taken for the first time): each collection is ``cleared``
    and holds all its records, and the sections are to be written in place of the old ones."""
    sections: dict[str, Any]
    """Every small part's value now (header and sections; derived parts left out), by name."""
    collections: dict[str, CollectionChanges]
    """By part name, every collection the definition lists."""


class ChangeTracker:
    """Follows one sandbox for one store; call :meth:`take` under the sandbox's lock."""

    def __init__(self, sandbox: Sandbox) -> None:
        collections = [part.name for part in parts_of(sandbox) if part.kind is Kind.COLLECTION]
        if sorted(collections) != sorted(FOLLOWED):
            raise TypeError(f"the state's collections {collections} are not those followed: {FOLLOWED}")
        self.sandbox = sandbox
        self._store: object = None
        self._tokens: dict[str, IssuedToken] | None = None
        self._tokens_known = 0
        self._collected = self._nothing_yet()

    @staticmethod
    def _nothing_yet() -> dict[str, CollectionChanges]:
        return {name: CollectionChanges() for name in FOLLOWED}

    # --- the store's observer ----------------------------------------------------------------
    def conversation_written(self, conversation: Conversation) -> None:
        self._collected["conversations"].write(conversation.id, conversation)

    def message_written(self, message: Message) -> None:
        self._collected["messages"].write(message.id, message)

    def cleared(self) -> None:
        self._collected["conversations"].clear()
        self._collected["messages"].clear()

    # --- the notification center's observer ---------------------------------------------------
    def notification_added(self, notification: Notification) -> None:
        self._collected["notifications"].write(notification.id, notification)

    def notification_dropped(self, notification: Notification) -> None:
        self._collected["notifications"].remove(notification.id)

    def notifications_cleared(self) -> None:
        self._collected["notifications"].clear()

    # --- taking the changes -------------------------------------------------------------------
    def take(self) -> StateChanges:
        """What changed since the last take (or :meth:`saved`), and start collecting afresh."""
        sandbox = self.sandbox
        everything = sandbox.store is not self._store
        if everything:
            collections: dict[str, CollectionChanges] = {}
            for part in parts_of(sandbox):
                if part.records is not None:
                    every = {part.key(record): record for record in part.records(sandbox)}
                    collections[part.name] = CollectionChanges(every, cleared=True)
        else:
            collections = self._collected
            collections["tokens"] = self._token_changes()
        derived = derived_names()
        small = sandbox.export_state(collections=False)
        sections = {name: value for name, value in small.items() if name not in derived}
        self.saved()
        return StateChanges(everything, sections, collections)

    def saved(self) -> None:
        """Take the sandbox as it is now as what the store holds (after a take, or a restore from
        the store), and follow it from here with nothing collected."""
        sandbox = self.sandbox
        store = sandbox.store
        if hasattr(store, "observer"):
            store.observer = self
        self._store = store
        sandbox.notifications.observer = self
        self._tokens = sandbox.auth.issued
        self._tokens_known = len(self._tokens)
        self._collected = self._nothing_yet()

    def _token_changes(self) -> CollectionChanges:
        issued = self.sandbox.auth.issued
        if issued is not self._tokens or len(issued) < self._tokens_known:
            return CollectionChanges(dict(issued), cleared=True)
        added = len(issued) - self._tokens_known
        newest = reversed(list(islice(reversed(issued.items()), added))) if added else ()
        return CollectionChanges(dict(newest))
