"""The journal: every API request and response, every notification and webhook attempt, in order.

It answers the question integrators ask most when a test fails — "what did my code actually send,
and what did the sandbox answer?" — without a proxy or a debugger. It is a ring buffer, so a long
load test cannot make it grow without bound; ``seq`` keeps increasing, so a reader can ask for
"everything after the last entry I saw" even after older entries have been dropped.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .clock import format_rfc3339


@runtime_checkable
class Deferred(Protocol):
    """A detail rendered only when the journal is read (most entries never are)."""

    def to_json(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class JsonText:
    """A body kept as the text that went over the wire.

    Recording text costs nothing (the answer was encoded anyway) and keeps no object trees alive,
    which a journal of a thousand 100-item pages would otherwise do. Text that is not JSON reads
    back as the text itself.
    """

    text: str

    def to_json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return self.text


@runtime_checkable
class DeferredDetails(Protocol):
    """An entry's details kept as the one object that already holds them (an API call's record),
    made into a dict only when the journal is read: every request is journaled, few are read."""

    def details(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int
    time: int
    kind: str
    """``request``, ``notification`` or ``webhook``."""
    account: str | None
    operation: str | None
    recorded: dict[str, Any] | DeferredDetails
    """The details as recorded: a dict, or an object that makes one when read (``details``)."""

    @property
    def details(self) -> dict[str, Any]:
        recorded = self.recorded
        return recorded if isinstance(recorded, dict) else recorded.details()

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": format_rfc3339(self.time),
            "kind": self.kind,
            "account": self.account,
            "operation": self.operation,
            **{
                name: value.to_json() if isinstance(value, Deferred) else value
                for name, value in self.details.items()
            },
        }


class Journal:
    """A bounded, thread-safe, append-only log (written by request threads and webhook workers)."""

    def __init__(self, size: int = 1000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[JournalEntry] = deque(maxlen=size)
        self._seq = 0
        self._listeners: list[Callable[[JournalEntry], None]] = []

    def listen(self, listener: Callable[[JournalEntry], None]) -> None:
        """Call ``listener`` with every entry as it is recorded (a served sandbox's call log)."""
        self._listeners.append(listener)

    @property
    def size(self) -> int:
        return self._entries.maxlen or 0

    def resize(self, size: int) -> None:
        with self._lock:
            self._entries = deque(self._entries, maxlen=size)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def record(
        self,
        kind: str,
        time: int,
        *,
        account: str | None = None,
        operation: str | None = None,
        **details: Any,
    ) -> JournalEntry:
        return self.record_deferred(kind, time, details, account=account, operation=operation)

    def record_deferred(
        self,
        kind: str,
        time: int,
        details: dict[str, Any] | DeferredDetails,
        *,
        account: str | None = None,
        operation: str | None = None,
    ) -> JournalEntry:
        """Record an entry whose details stay as given (a :class:`DeferredDetails` until read)."""
        with self._lock:
            self._seq += 1
            entry = JournalEntry(self._seq, time, kind, account, operation, details)
            self._entries.append(entry)
        for listener in self._listeners:
            listener(entry)
        return entry

    def entries(
        self,
        *,
        account: str | None = None,
        operation: str | None = None,
        kind: str | None = None,
        since: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """Matching entries, oldest first; ``limit`` keeps the newest ones."""
        with self._lock:
            snapshot = list(self._entries)
        found = [entry for entry in snapshot if _matches(entry, account, operation, kind, since, after)]
        return found[-limit:] if limit else found

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries())


def _matches(
    entry: JournalEntry,
    account: str | None,
    operation: str | None,
    kind: str | None,
    since: int | None,
    after: int | None,
) -> bool:
    return (
        (account is None or entry.account == account)
        and (operation is None or entry.operation == operation)
        and (kind is None or entry.kind == kind)
        and (since is None or entry.time >= since)
        and (after is None or entry.seq > after)
    )
