"""The documented production limit: 5 calls per second per account per operation.

A sliding one-second window of sandbox time, so a frozen clock makes the sixth call in the same
instant fail deterministically and advancing the clock by a second lets calls through again.
Setting the clock back forgets the calls that now lie in the future, so it cannot lock an account
out for as long as the clock was moved. A refused call is not counted.
"""

from __future__ import annotations

from collections import deque
from math import ceil
from typing import Any

from .clock import MICROS
from .errors import Problem, RateLimited


class RateLimiter:
    def __init__(self, per_second: int = 5) -> None:
        self.per_second = per_second
        self._calls: dict[tuple[str, str], deque[int]] = {}

    def clear(self) -> None:
        self._calls.clear()

    def windows(self) -> list[list[Any]]:
        """The calls counted now, as JSON: ``[account, operation, [instants]]`` per window.

        Not part of the sandbox's state (a restore starts with none counted), but a copy of the
        sandbox that must answer exactly as this one would (a shared store's snapshot) needs them.
        """
        return [
            [account, operation, list(calls)] for (account, operation), calls in self._calls.items() if calls
        ]

    def restore_windows(self, windows: list[list[Any]]) -> None:
        """Count exactly the calls :meth:`windows` gave, and no others."""
        self._calls = {(account, operation): deque(calls) for account, operation, calls in windows}

    def check(self, account_id: str, operation: str, now: int) -> None:
        """Record a call, or raise :class:`RateLimited` with the seconds until one is allowed."""
        window = self._calls.setdefault((account_id, operation), deque())
        while window and window[-1] > now:  # the clock was set back: those calls are in its future
            window.pop()
        while window and window[0] <= now - MICROS:
            window.popleft()
        if len(window) >= self.per_second:
            wait = window[0] + MICROS - now
            raise RateLimited(
                Problem(
                    "",
                    f"rate limit: {operation} allows {self.per_second} calls per second per account; "
                    f"retry in {wait / MICROS:.3f} s",
                ),
                retry_after=max(1, ceil(wait / MICROS)),
            )
        window.append(now)
