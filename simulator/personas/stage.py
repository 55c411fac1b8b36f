"""One run of the personas: the schedule, its generators and the means to act.

A run starts when personas are configured, reset, imported or the clock is set back, and holds
everything that a new run must forget: the heap of due actions (ordered by time, then by order of
scheduling), the seeded generators and each role's conversations. The roles
(:mod:`.retailer`, :mod:`.supplier`) schedule and act only through a stage.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..domain.clock import seconds
from ..domain.sandbox import Sandbox
from .calls import ApiCaller
from .config import Delay, PersonaRole, PersonaSettings
from .templates import Filler


@dataclass(order=True)
class Due:
    time: int
    order: int
    label: str = field(compare=False)
    run: Callable[[], None] = field(compare=False)


class Stage:
    def __init__(self, sandbox: Sandbox, settings: PersonaSettings, caller: ApiCaller, texts: Filler) -> None:
        self.sandbox = sandbox
        self.settings = settings
        self.caller = caller
        self.texts = texts
        self.random = random.Random(f"{settings.seed}:personas")
        """Every decision of a reaction (delays, chances) draws from this one seeded generator."""
        self.heap: list[Due] = []
        self._order = 0

    def now(self) -> int:
        return self.sandbox.clock.now()

    def at(self, when: int, label: str, run: Callable[[], None]) -> None:
        self._order += 1
        heapq.heappush(self.heap, Due(when, self._order, label, run))

    def draw(self, delay: Delay) -> int:
        rng = self.random
        value = (
            rng.uniform(delay.low, delay.high)
            if delay.mode is None
            else rng.triangular(delay.low, delay.high, delay.mode)
        )
        return seconds(value)

    def act(
        self, role: PersonaRole, action: str, account_id: str, operation: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        return self.caller.call(role, action, account_id, operation, body)

    def send(self, role: PersonaRole, action: str, account_id: str, conversation_id: str, text: str) -> bool:
        body = {"dscoConversationId": conversation_id, "message": text}
        return self.act(role, action, account_id, "addConversationMessage", body) is not None

    def set_status(
        self, role: PersonaRole, action: str, account_id: str, conversation_id: str, status: str
    ) -> bool:
        body = {"dscoConversationId": conversation_id, "status": status}
        return self.act(role, action, account_id, "updateConversation", body) is not None
