"""Notifications: the guide's "Dsco notifies the supplier of the new message" step, made visible.

Every new message produces one notification for its recipient (none for test conversations, which
production never notifies about). They are listed per account, and where the world gives the
account a webhook the sandbox also POSTs them there; delivery itself is I/O and lives outside the
domain, subscribed through :meth:`NotificationCenter.subscribe`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .clock import format_rfc3339


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    seq: int
    account_id: str
    created: int
    render: Callable[[], dict[str, Any]]
    """Builds the payload; deferred because most notifications are never read or delivered."""
    conversation_id: str = ""
    message_id: str = ""
    """The message it is about: what a saved state keeps of it (the payload is made from them)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seq": self.seq,
            "dscoAccountId": self.account_id,
            "createDate": format_rfc3339(self.created),
            **self.render(),
        }


Listener = Callable[[Notification], None]


class NotificationObserver(Protocol):
    """Told of every notification kept or dropped, so a durable copy follows change by change (as
    :class:`~.store.StoreObserver` does for records): the lists grow with every message."""

    def notification_added(self, notification: Notification) -> None: ...
    def notification_dropped(self, notification: Notification) -> None: ...
    def notifications_cleared(self) -> None: ...


class NotificationCenter:
    """Per-account notification lists (bounded) and the listeners told about each new one."""

    def __init__(self, per_account: int = 1000) -> None:
        self._lock = threading.Lock()
        self._per_account = per_account
        self._by_account: dict[str, deque[Notification]] = {}
        self._listeners: list[Listener] = []
        self._seq = 0
        self.observer: NotificationObserver | None = None
        """Told of each change; set by whoever keeps a durable copy (none by default)."""

    @property
    def seq(self) -> int:
        """The last sequence number handed out (it goes on across a clear, so a reader's ``after``
        never skips a notification published later)."""
        return self._seq

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def clear(self) -> None:
        with self._lock:
            self._by_account.clear()
            if self.observer is not None:
                self.observer.notifications_cleared()

    def restore(self, notifications: list[Notification], seq: int) -> None:
        """Replace the lists with saved notifications (in ``seq`` order) without telling the
        listeners: they were told, or their deliveries saved, when these were first published."""
        with self._lock:
            self._by_account.clear()
            if self.observer is not None:
                self.observer.notifications_cleared()
            self._seq = seq
            for notification in notifications:
                self._keep(notification)

    def publish(
        self,
        notification_id: str,
        account_id: str,
        created: int,
        render: Callable[[], dict[str, Any]],
        subject: tuple[str, str] = ("", ""),
    ) -> Notification:
        """Keep a new notification for ``account_id`` and tell the listeners; ``subject`` is the
        conversation and message it is about."""
        with self._lock:
            self._seq += 1
            notification = Notification(notification_id, self._seq, account_id, created, render, *subject)
            self._keep(notification)
        for listener in list(self._listeners):
            listener(notification)
        return notification

    def _keep(self, notification: Notification) -> None:
        """Append to its account's list, dropping the oldest past the bound (caller holds the lock)."""
        queue = self._by_account.get(notification.account_id)
        if queue is None:
            queue = self._by_account[notification.account_id] = deque(maxlen=self._per_account)
        observer = self.observer
        if observer is not None and len(queue) == queue.maxlen:
            observer.notification_dropped(queue[0])
        queue.append(notification)
        if observer is not None:
            observer.notification_added(notification)

    def for_account(self, account_id: str, after: int | None = None) -> list[Notification]:
        with self._lock:
            found = list(self._by_account.get(account_id, ()))
        return [n for n in found if after is None or n.seq > after]

    def all(self) -> list[Notification]:
        with self._lock:
            return sorted((n for q in self._by_account.values() for n in q), key=lambda n: n.seq)
