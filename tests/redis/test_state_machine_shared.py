"""The conversation rules' state machine (tests/property) against two workers on one Redis.

Every call goes to the other worker than the one before, so each step starts with a catch-up;
the clock and settings move through the sandbox's commands (replicated), never behind its back.
The model checks the same rules as against one in-memory process; the bound is short, since every
step costs a few Redis round trips.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conversation_machine import PAGE_SIZE, ConversationMachine
from hypothesis import settings
from property_support import CONTRACT, START, Harness
from redis_support import RedisServer
from shared_support import pair

from simulator.domain.clock import MICROS, format_rfc3339
from simulator.domain.sandbox import Sandbox


class SharedHarness(Harness):
    """:class:`Harness` over two workers on one Redis, alternating between them."""

    url = ""

    def __init__(self, *, page_size: int = 100, lag: tuple[float, float] = (0.1, 1.0)) -> None:
        prefix = f"machine-{uuid.uuid4().hex[:12]}:"
        self.workers = pair(CONTRACT, self.url, prefix, page_size=page_size, lag_min=lag[0], lag_max=lag[1])
        self.turn = 0
        self._first: Sandbox = self.workers[0].extensions["dsco_sandbox"]
        self._first.control_clock({"set": format_rfc3339(START)})
        self.app = self.workers[0]
        self.client = self.app.test_client()

    @property
    def sandbox(self) -> Sandbox:
        """The first worker's replica, caught up (the invariants read its store)."""
        with self._first.lock:
            return self._first

    @sandbox.setter
    def sandbox(self, value: Sandbox) -> None:
        self._first = value

    def call(self, operation: str, actor: Any, body: Any) -> Any:
        self.turn += 1
        self.client = self.workers[self.turn % 2].test_client()
        return super().call(operation, actor, body)

    def advance(self, secs: float) -> None:
        self._first.control_clock({"advance": secs})

    def advance_micros(self, micros: int) -> None:
        self._first.control_clock({"advance": micros / MICROS})

    def set_page_size(self, size: int) -> None:
        self._first.update_config({"pageSize": size})

    def set_scroll_ttl(self, seconds: float) -> None:
        self._first.update_config({"scrollTtl": seconds})

    def set_lag(self, low: float, high: float) -> None:
        self._first.update_config({"lag": {"min": low, "max": high}})


class SharedMachine(ConversationMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h = SharedHarness(page_size=PAGE_SIZE, lag=(0.1, 1.0))


@pytest.fixture(autouse=True)
def _shared_url(redis_server: RedisServer) -> Iterator[None]:
    SharedHarness.url = redis_server.url
    yield


TestConversationRulesOnTwoWorkers = SharedMachine.TestCase
TestConversationRulesOnTwoWorkers.settings = settings(
    settings.default, max_examples=15, stateful_step_count=30, deadline=None
)
