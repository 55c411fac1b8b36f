"""Whatever the persona configuration, every persona action would have been accepted over HTTP."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from persona_support import START, frozen_sandbox, persona_entries

from simulator.contract import Contract

chance = st.floats(min_value=0, max_value=1)
delay = st.tuples(st.integers(0, 7200), st.integers(0, 7200)).map(lambda d: {"min": min(d), "max": max(d)})
retailer = st.fixed_dictionaries(
    {},
    optional={
        "accounts": st.sampled_from([["1000001"], ["1000002"], ["1000001", "1000002"]]),
        "conversationsPerHour": st.floats(min_value=0, max_value=20),
        "standardPerHour": st.floats(min_value=0, max_value=5),
        "followUpAfter": st.integers(0, 7200),
        "maxFollowUps": st.integers(0, 4),
        "reactAfter": delay,
        "thanksChance": chance,
        "closeChance": chance,
        "reopenChance": chance,
        "reopenAfter": delay,
    },
)
supplier = st.fixed_dictionaries(
    {},
    optional={
        "accounts": st.sampled_from([["2000001"], ["2000002"], ["2000001", "2000002"]]),
        "answerAfter": delay,
        "questionChance": chance,
        "closeChance": chance,
        "reminderAfter": st.integers(0, 7200),
    },
)
documents = st.fixed_dictionaries(
    {}, optional={"seed": st.integers(0, 10**6), "retailer": retailer, "supplier": supplier}
)


@given(document=documents, steps=st.lists(st.integers(60, 2 * 3600), min_size=1, max_size=4))
def test_every_persona_action_is_one_the_api_accepts(
    contract: Contract, document: dict[str, Any], steps: list[int]
) -> None:
    assert contract.validate(contract.schema_uri("schemas/sandbox-personas.json"), document) == []
    sandbox, personas = frozen_sandbox(contract)
    personas.configure(personas.settings_for(document))
    for step in steps:
        sandbox.control_clock({"advance": step})
    for entry in persona_entries(sandbox):
        assert "refused" not in entry, entry
        # The body sent is one the contract accepts, as the HTTP pipeline checks first.
        assert contract.validate_request(entry["operation"], entry["request"]) == []
    assert sandbox.clock_state()["now"] > START
