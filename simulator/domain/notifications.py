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
from typing import Any

from .clock import format_rfc3339


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    seq: int
    account_id: str
    created: int
    render: Callable[[], dict[str, Any]]
    """Builds the payload; deferred because most notifications are never read or delivered."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seq": self.seq,
            "dscoAccountId": self.account_id,
            "createDate": format_rfc3339(self.created),
            **self.render(),
        }


Listener = Callable[[Notification], None]


class NotificationCenter:
    """Per-account notification lists (bounded) and the listeners told about each new one."""

    def __init__(self, per_account: int = 1000) -> None:
        self._lock = threading.Lock()
        self._per_account = per_account
        self._by_account: dict[str, deque[Notification]] = {}
        self._listeners: list[Listener] = []
        self._seq = 0

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def clear(self) -> None:
        with self._lock:
            self._by_account.clear()

    def publish(
        self,
        notification_id: str,
        account_id: str,
        created: int,
        render: Callable[[], dict[str, Any]],
    ) -> Notification:
        with self._lock:
            self._seq += 1
            notification = Notification(notification_id, self._seq, account_id, created, render)
            queue = self._by_account.get(account_id)
            if queue is None:
                queue = self._by_account[account_id] = deque(maxlen=self._per_account)
            queue.append(notification)
        for listener in list(self._listeners):
            listener(notification)
        return notification

    def for_account(self, account_id: str, after: int | None = None) -> list[Notification]:
        with self._lock:
            found = list(self._by_account.get(account_id, ()))
        return [n for n in found if after is None or n.seq > after]

    def all(self) -> list[Notification]:
        with self._lock:
            return sorted((n for q in self._by_account.values() for n in q), key=lambda n: n.seq)
