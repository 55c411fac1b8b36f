"""Faults an integrator can switch on, per operation: what staging never lets you rehearse.

Added latency (fixed or a range), a random error rate with a chosen status, a forced status for the
next N calls, and dropped connections (at random or for the next N calls). Every random choice comes
from one seeded generator, so a run with the same seed and the same calls fails the same way.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .config import LARGEST_COUNT
from .errors import InvalidRequest, Problem

ALL_OPERATIONS = "*"
LONGEST_LATENCY = 600.0
"""The longest latency a fault adds, in seconds: ten minutes outlasts any client's timeout, and a
longer sleep only holds one of the server's threads for nothing."""


@dataclass(frozen=True, slots=True)
class FaultRule:
    latency_min: float = 0.0
    latency_max: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    force_status: int | None = None
    force_count: int = 0
    drop_rate: float = 0.0
    drop_next: int = 0

    def to_json(self) -> dict[str, Any]:
        rule: dict[str, Any] = {}
        if self.latency_max > 0:
            rule["latency"] = {"min": self.latency_min, "max": self.latency_max}
        if self.error_rate > 0:
            rule["errorRate"] = self.error_rate
            rule["errorStatus"] = self.error_status
        if self.force_status is not None and self.force_count > 0:
            rule["forceStatus"] = self.force_status
            rule["forceCount"] = self.force_count
        if self.drop_rate > 0:
            rule["dropRate"] = self.drop_rate
        if self.drop_next > 0:
            rule["dropNext"] = self.drop_next
        return rule

    @property
    def inert(self) -> bool:
        return not self.to_json()


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do to one call: wait ``delay`` seconds, then answer ``status`` or drop, or go on."""

    delay: float = 0.0
    status: int | None = None
    drop: bool = False
    reason: str = ""


NO_FAULT = FaultDecision()


@dataclass
class FaultPlan:
    rng: random.Random
    rules: dict[str, FaultRule] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, operation: str, rule: FaultRule) -> None:
        with self._lock:
            if rule.inert:
                self.rules.pop(operation, None)
            else:
                self.rules[operation] = rule

    def remove(self, operation: str) -> None:
        with self._lock:
            self.rules.pop(operation, None)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {operation: rule.to_json() for operation, rule in sorted(self.rules.items())}

    def decide(self, operation: str) -> FaultDecision:
        """Draw the fault (if any) for one call, counting down forced statuses and drops."""
        with self._lock:
            key = operation if operation in self.rules else ALL_OPERATIONS
            rule = self.rules.get(key)
            if rule is None:
                return NO_FAULT
            delay = rule.latency_min
            if rule.latency_max > rule.latency_min:
                delay = self.rng.uniform(rule.latency_min, rule.latency_max)
            if rule.force_status is not None and rule.force_count > 0:
                self._store(key, replace(rule, force_count=rule.force_count - 1))
                return FaultDecision(delay, rule.force_status, reason="forced status")
            if rule.drop_next > 0:
                self._store(key, replace(rule, drop_next=rule.drop_next - 1))
                return FaultDecision(delay, drop=True, reason="forced drop")
            if rule.drop_rate > 0 and self.rng.random() < rule.drop_rate:
                return FaultDecision(delay, drop=True, reason="random drop")
            if rule.error_rate > 0 and self.rng.random() < rule.error_rate:
                return FaultDecision(delay, rule.error_status, reason="random error")
            return FaultDecision(delay)

    def _store(self, key: str, rule: FaultRule) -> None:
        if rule.inert:
            self.rules.pop(key, None)
        else:
            self.rules[key] = rule


def rule_from_json(path: str, raw: Mapping[str, Any]) -> FaultRule:
    """Build a rule from its JSON form (already schema-checked), checking what a schema cannot:
    the latency range's order, and the bounds of every number (a clear 400, not an overflow)."""
    latency = raw.get("latency", 0)
    if isinstance(latency, Mapping):
        low, high = float(latency.get("min", 0)), float(latency.get("max", latency.get("min", 0)))
    else:
        low = high = float(latency)
    problems = [
        Problem(f"{path}.{name}", f"{value!r:.40} is out of range: {expected}")
        for name, value, ok, expected in (
            ("latency", high, high <= LONGEST_LATENCY, f"at most {LONGEST_LATENCY:g} seconds"),
            *(
                (name, raw[name], raw[name] <= LARGEST_COUNT, f"at most {LARGEST_COUNT}")
                for name in ("forceCount", "dropNext")
                if name in raw
            ),
        )
        if not ok
    ]
    if high < low:
        problems.append(Problem(f"{path}.latency", f"max {high:g} is below min {low:g}"))
    if problems:
        raise InvalidRequest(*problems, code="invalid_config")
    force_status = raw.get("forceStatus")
    force_count = int(raw.get("forceCount", 1 if force_status is not None else 0))
    return FaultRule(
        latency_min=low,
        latency_max=high,
        error_rate=float(raw.get("errorRate", 0)),
        error_status=int(raw.get("errorStatus", 503)),
        force_status=None if force_status is None else int(force_status),
        force_count=force_count,
        drop_rate=float(raw.get("dropRate", 0)),
        drop_next=int(raw.get("dropNext", 0)),
    )
