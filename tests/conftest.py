"""Shared fixtures and the Hypothesis profiles (``ci`` is bounded so CI time stays predictable)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# stateful_step_count bounds each run of a state machine (tests/property/test_state_machine.py).
settings.register_profile(
    "ci",
    max_examples=50,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=200, stateful_step_count=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
