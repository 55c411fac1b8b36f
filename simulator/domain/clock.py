"""Sandbox time.

Every timestamp, token expiry, post-processing lag, scroll expiry and rate-limit window reads the
sandbox clock, never ``datetime.now()`` directly, so that a test can freeze time, jump it forward an
hour in a millisecond, or set it to the guide's sample date.

Times are integer microseconds since the Unix epoch (UTC). The clock only ever hands out whole
milliseconds, because timestamps are rendered with millisecond precision: a client that feeds a
rendered ``createDate`` back as ``createdSince`` must address exactly the same instant.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol

MICROS = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST = 0
"""The earliest instant the clock can be set to: the Unix epoch. Nothing of the vendor's API is
older, and it keeps every instant the rules derive from the clock (a margin before it, a lag
after it) inside the calendar the sandbox renders."""
LATEST = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
"""The last instant an RFC 3339 timestamp can show (9999-12-31T23:59:59.999Z). A running clock
stops there rather than run past what it can render."""

# RFC 3339 date-time: full date, 'T', time with optional fraction, and a mandatory offset. ASCII
# digits only (``\d`` would also take other scripts' digits) and matched with ``fullmatch`` (``$``
# would let a trailing newline through).
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class Clock(Protocol):
    """Anything that can tell sandbox time."""

    def now(self) -> int:
        """Current sandbox time in microseconds since the epoch, whole milliseconds."""
        ...


class SystemClock:
    """Wall-clock time, truncated to the millisecond."""

    def now(self) -> int:
        return (time.time_ns() // 1_000_000) * 1000


class ControllableClock:
    """Wall-clock time shifted by an offset, which can also be frozen, set and advanced.

    Unfrozen, it runs at real speed from wherever it was last set; frozen, it only moves when told.
    It never hands out a time earlier than one it handed out before unless someone sets it back on
    purpose (``set`` or a negative ``advance``), even if the source clock steps back (an NTP
    correction), so ``lastUpdate`` stays monotonic in ordinary use. Every time it hands out is a
    whole millisecond, whatever the source's resolution.
    """

    def __init__(self, source: Clock | None = None, *, frozen_at: int | None = None) -> None:
        self._source = source or SystemClock()
        self._lock = threading.Lock()
        self._offset = 0
        self._frozen_at: int | None = None
        self._floor: int | None = None  # the latest time handed out while running
        if frozen_at is not None:
            self._frozen_at = _to_millis(frozen_at)

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def now(self) -> int:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return self._running_now()

    def _running_now(self) -> int:
        """The running time (caller holds the lock): source plus offset, never below the floor."""
        current = min(_to_millis(self._source.now() + self._offset), LATEST)
        if self._floor is not None and current < self._floor:
            current = self._floor
        self._floor = current
        return current

    def freeze(self, frozen: bool = True) -> None:
        with self._lock:
            if frozen and self._frozen_at is None:
                self._frozen_at = self._running_now()
            elif not frozen and self._frozen_at is not None:
                self._offset = self._frozen_at - self._source.now()
                self._floor = self._frozen_at
                self._frozen_at = None

    def set(self, instant: int) -> None:
        instant = _to_millis(instant)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = instant
            else:
                self._offset = instant - self._source.now()
                self._floor = instant

    def restore(self, instant: int, *, frozen: bool) -> None:
        """Put the clock at ``instant``, frozen or running, in one step.

        ``set`` then ``freeze`` on a running clock would read the source twice, and a millisecond
        tick between the two reads would freeze it one millisecond past ``instant``.
        """
        instant = _to_millis(instant)
        with self._lock:
            if frozen:
                self._frozen_at = instant
            else:
                self._frozen_at = None
                self._offset = instant - self._source.now()
                self._floor = instant

    def resume(self) -> None:
        """Back to wall time, running: the source's own time from now on, as at start.

        Setting the clock back this way is on purpose, so the floor kept for monotonic reads is
        dropped with the offset.
        """
        with self._lock:
            self._frozen_at = None
            self._offset = 0
            self._floor = None

    def advance(self, micros: int) -> None:
        micros = _to_millis(micros)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = min(self._frozen_at + micros, LATEST)
            else:
                start = self._running_now()
                self._offset += micros
                self._floor = start + micros


def _to_millis(micros: int) -> int:
    return (micros // 1000) * 1000


def parse_rfc3339(text: str) -> int | None:
    """Parse an RFC 3339 date-time into epoch microseconds, or ``None`` when it is not one.

    Fractions of any length are accepted and truncated to the microsecond. A leap second
    (``:60``) is accepted only where one can occur, at 23:59:60 UTC (after applying the offset),
    and counts as the last instant of 23:59:59, because the epoch scale has no leap seconds.
    """
    # Each date of a request is parsed twice (the contract's format check, then the rule), and
    # pollers send the same bounds again and again; only short texts are remembered.
    return _parse_remembered(text) if len(text) <= 40 else _parse(text)


@lru_cache(maxsize=4096)
def _parse_remembered(text: str) -> int | None:
    return _parse(text)


def _parse(text: str) -> int | None:
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ""
    offset = match.group(8)
    if second > 60:
        return None
    try:
        base = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except ValueError:
        return None
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        try:
            base -= sign * timedelta(hours=hours, minutes=minutes)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            return None
    if second == 60 and (base.hour, base.minute) != (23, 59):
        return None
    micros = int((fraction[1:] + "000000")[:6]) if fraction else 0
    if second == 60:
        micros = MICROS - 1  # the leap second is squeezed into the last microsecond of the day
    return (base - _EPOCH) // timedelta(microseconds=1) + micros


def format_rfc3339(micros: int) -> str:
    """Render epoch microseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC, millisecond precision)."""
    whole, fraction = divmod(micros, MICROS)
    return f"{_second_prefix(whole)}{fraction // 1000:03d}Z"


@lru_cache(maxsize=4096)
def _second_prefix(whole_seconds: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.`` of one second, remembered: a list page renders many timestamps from
    the same few seconds, and building a datetime for each was a third of a page's cost."""
    moment = _EPOCH + timedelta(seconds=whole_seconds)
    # The year is formatted by hand: strftime("%Y") does not pad years before 1000 to 4 digits.
    return f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%S.")


def seconds(value: float) -> int:
    """Seconds (possibly fractional) as whole milliseconds expressed in microseconds."""
    return round(value * 1000) * 1000
