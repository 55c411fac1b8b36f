"""The conversation rules hold whatever sequence of calls integrators make: the state machine of
conversation_machine.py against one in-process sandbox (its docstring lists the invariants)."""

from __future__ import annotations

import pytest
from conversation_machine import ConversationMachine
from hypothesis import settings

pytestmark = pytest.mark.slow

TestConversationRules = ConversationMachine.TestCase
# The loaded Hypothesis profile (tests/conftest.py) decides how many runs and how many steps each,
# so HYPOTHESIS_PROFILE=ci bounds this test like every other property test. Hypothesis's own
# default for a state machine would instead turn every health check off.
TestConversationRules.settings = settings()


def test_the_state_machine_follows_the_loaded_profile() -> None:
    profile = settings.default
    assert profile is not None
    chosen = TestConversationRules.settings
    assert (chosen.max_examples, chosen.stateful_step_count) == (
        profile.max_examples,
        profile.stateful_step_count,
    )
    assert chosen.suppress_health_check == profile.suppress_health_check
