"""Whatever the persona configuration, every persona action would have been accepted over HTTP.

Configurations are drawn over every field of the persona schema (rates, delays, chances, accounts,
complaint and answer lists with templates using any placeholders, long titles included), and the
integration under test is simulated too: between clock advances, the other party closes, reopens or
answers conversations at random. Every persona call must pass the contract and the domain.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from persona_support import START, frozen_sandbox, persona_entries

from simulator.contract.validation import Contract
from simulator.domain.errors import SandboxError
from simulator.domain.sandbox import Sandbox
from simulator.personas.config import PLACEHOLDERS

pytestmark = pytest.mark.slow

chance = st.floats(min_value=0, max_value=1)
delay = st.tuples(st.integers(0, 7200), st.integers(0, 7200)).map(lambda d: {"min": min(d), "max": max(d)})
words = st.sampled_from(["Order", "late", "where is", "damaged", "size", "return", "?", "thanks", "x" * 60])
template = st.lists(
    st.one_of(words, st.sampled_from(sorted(PLACEHOLDERS)).map(lambda name: "{" + name + "}")),
    min_size=1,
    max_size=8,
).map(" ".join)
kind = st.sampled_from(["late_order", "damaged_item", "wrong_size", "other", "general"])


def weighs_something(entry: dict[str, Any]) -> bool:
    """Every drawn complaint can be picked, since a file needs at least one with a weight above 0."""
    return bool(entry.get("weight", 1) > 0)


complaint = st.fixed_dictionaries(
    {
        "kind": kind,
        "title": template,
        "message": template,
        "followUp": template,
        "thanks": template,
        "reply": template,
        "reopen": template,
    },
    optional={"weight": st.floats(0, 10), "lineItem": st.booleans(), "standard": st.booleans()},
).filter(weighs_something)
answer = st.fixed_dictionaries(
    {"kind": kind, "message": template, "question": template, "reminder": template},
    optional={"keywords": st.lists(words, max_size=3)},
)
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
        "complaints": st.lists(complaint, min_size=1, max_size=3),
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
        "answers": st.lists(answer, min_size=1, max_size=3),
    },
)
documents = st.fixed_dictionaries(
    {}, optional={"seed": st.integers(0, 10**6), "retailer": retailer, "supplier": supplier}
)
interference = st.sampled_from(["none", "close", "reopen", "answer"])


def interfere(sandbox: Sandbox, how: str, pick: int) -> None:
    """The integration under test acting as the other party of one conversation (it may be refused:
    only the personas' calls are judged)."""
    conversations = sorted(sandbox.store.all_conversations(), key=lambda c: c.seq)
    if how == "none" or not conversations:
        return
    conversation = conversations[pick % len(conversations)]
    party = sandbox.world.account(conversation.supplier_id if pick % 2 else conversation.retailer_id)
    assert party is not None
    if how == "answer":
        operation, body = "addConversationMessage", {"message": "Noted."}
    else:
        operation, body = "updateConversation", {"status": "closed" if how == "close" else "in_progress"}
    with contextlib.suppress(SandboxError):
        sandbox.call(operation, party, {"dscoConversationId": conversation.id, **body})


@given(
    document=documents,
    steps=st.lists(
        st.tuples(st.integers(60, 2 * 3600), interference, st.integers(0, 1000)), min_size=1, max_size=4
    ),
)
def test_every_persona_action_is_one_the_api_accepts(
    contract: Contract, document: dict[str, Any], steps: list[tuple[int, str, int]]
) -> None:
    assert contract.validate(contract.schema_uri("schemas/sandbox-personas.json"), document) == []
    sandbox, personas = frozen_sandbox(contract)
    personas.replace(document)
    for seconds, how, pick in steps:
        sandbox.control_clock({"advance": seconds})
        interfere(sandbox, how, pick)
    for entry in persona_entries(sandbox):
        assert "refused" not in entry, entry
        # The body sent is one the contract accepts, as the HTTP pipeline checks first.
        assert contract.validate_request(entry["operation"], entry["request"]) == []
    assert sandbox.clock_state()["now"] > START
