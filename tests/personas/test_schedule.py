"""Personas on the sandbox clock: due actions run in order at their own times, repeatably."""

from __future__ import annotations

from typing import Any

import pytest
from persona_support import QUARTER, START, action_counts, frozen_sandbox, instant, persona_entries

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.domain.errors import InvalidRequest
from simulator.domain.sandbox import Sandbox
from simulator.loading.bootstrap import world_from_document
from simulator.personas import attach_personas


def run_eight_hours(contract: Contract, seed: int = 7) -> list[dict[str, Any]]:
    sandbox, _ = frozen_sandbox(contract, [("retailer", None), ("supplier", None)], seed=seed)
    for _ in range(32):
        sandbox.control_clock({"advance": QUARTER})
    return [{k: v for k, v in e.to_json().items() if k != "durationMs"} for e in sandbox.journal.entries()]


def test_two_runs_with_the_same_seed_and_a_frozen_clock_give_identical_journals(contract: Contract) -> None:
    first, second = run_eight_hours(contract), run_eight_hours(contract)
    assert len(first) > 50
    assert first == second


def test_another_seed_gives_another_run(contract: Contract) -> None:
    assert run_eight_hours(contract, seed=7) != run_eight_hours(contract, seed=8)


def test_an_advance_runs_each_action_at_its_own_scheduled_time(contract: Contract) -> None:
    sandbox, personas = frozen_sandbox(contract, [("retailer", ["1000001"]), ("supplier", None)])
    first_due = personas.next_due()
    assert first_due is not None
    sandbox.control_clock({"advance": 4 * 3600})
    entries = persona_entries(sandbox)
    times = [instant(e["time"]) for e in entries]
    end = instant(START) + 4 * 3600 * 1_000_000
    assert times == sorted(times)
    assert times[0] == first_due
    assert len(set(times)) > len(entries) // 2  # spread over the hours, not piled at the end
    assert all(instant(START) < t <= end for t in times)
    # Each stored record carries the time of its action, not the time of the advance.
    opened = [e for e in entries if e["persona"]["action"] == "open"]
    assert opened and all(e["response"]["createDate"] == e["time"] for e in opened)
    assert sandbox.clock_state() == {"now": "2023-05-01T13:00:00.000Z", "frozen": True}


def test_nothing_acts_until_someone_asks(contract: Contract) -> None:
    sandbox, personas = frozen_sandbox(contract)
    sandbox.control_clock({"advance": 8 * 3600})
    assert persona_entries(sandbox) == [] and not personas.active
    assert "personas" not in sandbox.export_state()


def test_the_retailer_persona_acts_only_for_the_accounts_named(contract: Contract) -> None:
    sandbox, _ = frozen_sandbox(contract, [("retailer", ["1000002"])])
    sandbox.control_clock({"advance": 8 * 3600})
    entries = persona_entries(sandbox)
    assert entries and {e["account"] for e in entries} == {"1000002"}


def test_persona_messages_raise_notifications_like_api_calls(contract: Contract) -> None:
    sandbox, _ = frozen_sandbox(contract, [("retailer", None)])
    sandbox.control_clock({"advance": 3 * 3600})
    opened = [e for e in persona_entries(sandbox) if e["persona"]["action"] == "open"]
    notified = sandbox.journal.entries(kind="notification")
    assert opened and len(notified) >= len(opened)
    assert {n.operation for n in notified} >= {"createConversation"}


def test_reset_keeps_the_configuration_and_restarts_the_schedule_from_now(contract: Contract) -> None:
    sandbox, personas = frozen_sandbox(contract, [("retailer", None)])
    sandbox.control_clock({"advance": 3600})
    before = personas.settings
    sandbox.reset()
    assert personas.settings is before and persona_entries(sandbox) == []
    first_due = personas.next_due()
    assert first_due is not None and first_due > instant(START) + 3600 * 1_000_000
    # The schedule is drawn afresh from the same seed: the same gaps as at the start.
    _fresh, fresh_personas = frozen_sandbox(contract, [("retailer", None)])
    fresh_due = fresh_personas.next_due()
    assert fresh_due is not None
    assert first_due - (instant(START) + 3600 * 1_000_000) == fresh_due - instant(START)


def test_the_configuration_travels_with_the_exported_state(contract: Contract) -> None:
    sandbox, _personas = frozen_sandbox(contract, [("supplier", ["2000001"])])
    state = sandbox.export_state()
    assert state["personas"]["supplier"]["enabled"] is True
    assert state["personas"]["supplier"]["accounts"] == ["2000001"]
    assert contract.validate(contract.schema_uri("schemas/sandbox-state.json"), state) == []
    other, other_personas = frozen_sandbox(contract)
    other.import_state(other.world, state)
    assert other_personas.settings.supplier_accounts == ("2000001",)
    assert other_personas.settings.retailer_accounts == ()


def test_an_import_with_impossible_personas_changes_nothing(contract: Contract) -> None:
    sandbox, personas = frozen_sandbox(contract, [("retailer", None)])
    state = sandbox.export_state()
    state["personas"]["supplier"] = {"accounts": ["1000001"]}  # a retailer
    sandbox.control_clock({"advance": 3600})
    kept = sandbox.store.counts()
    with pytest.raises(InvalidRequest) as refused:
        sandbox.import_state(sandbox.world, state)
    assert [p.field for p in refused.value.problems] == ["personas.supplier.accounts[0]"]
    assert sandbox.store.counts() == kept and personas.settings.supplier_accounts == ()


def test_counts_for_a_seed_over_eight_hours(contract: Contract) -> None:
    sandbox, _ = frozen_sandbox(contract, [("retailer", None), ("supplier", None)])
    for _ in range(32):
        sandbox.control_clock({"advance": QUARTER})
    counts = action_counts(sandbox)
    assert "refused" not in counts
    assert counts == PINNED_BOTH


PINNED_BOTH = {
    "retailer again": 4,
    "retailer close": 12,
    "retailer follow-up": 9,
    "retailer open": 29,
    "retailer reopen": 4,
    "retailer reply": 7,
    "retailer thanks": 10,
    "supplier answer": 34,
    "supplier close": 14,
    "supplier question": 7,
}
"""Both personas of the default world for seed 7 over 8 hours; a change here is a behaviour change."""


def test_an_action_overdue_before_an_advance_is_stamped_no_earlier_than_its_start(contract: Contract) -> None:
    sandbox, personas = frozen_sandbox(contract, [("retailer", ["1000001"])])
    first_due = personas.next_due()
    assert first_due is not None
    # Time passed without anyone looking (a running clock between two ticks of the ticker).
    late = first_due + 10_000_000
    sandbox.clock.restore(late, frozen=True)
    sandbox.control_clock({"advance": 1})
    first = persona_entries(sandbox)[0]
    assert instant(first["time"]) == late
    assert instant(first["response"]["createDate"]) == late


def test_an_import_checks_the_personas_against_the_world_it_brings(contract: Contract) -> None:
    source, _ = frozen_sandbox(contract, [("supplier", ["2000001"])], seed=3)
    state = source.export_state()
    tiny = {
        "format": "dsco-sandbox-world",
        "version": 1,
        "accounts": [
            {
                "dscoAccountId": "r1",
                "role": "retailer",
                "name": "R",
                "clientId": "r",
                "clientSecret": "r",
                "legacyToken": "r-token",
            },
            {
                "dscoAccountId": "s1",
                "role": "supplier",
                "name": "S",
                "clientId": "s",
                "clientSecret": "s",
                "legacyToken": "s-token",
            },
        ],
        "tradingPartners": [],
    }
    target = build_sandbox_from(contract, tiny)
    target_personas = attach_personas(target, contract)
    target.import_state(world_from_document(contract, state["world"]), state)
    assert target_personas.settings.supplier_accounts == ("2000001",)
    assert target_personas.settings.seed == 3  # the seed travels with the configuration


def build_sandbox_from(contract: Contract, world: dict[str, Any]) -> Sandbox:
    return Sandbox(world_from_document(contract, world), SandboxConfig(rate_limit=False))


@pytest.mark.parametrize("rate", [5e-324, 1e-310])
def test_a_rate_too_small_to_divide_by_the_hour_never_opens(contract: Contract, rate: float) -> None:
    # rate / 3600 underflows to 0 for the smallest positive floats: "never", not a division by zero.
    sandbox, personas = frozen_sandbox(contract)
    personas.replace(
        {"retailer": {"accounts": ["1000001"], "conversationsPerHour": rate, "standardPerHour": 0}}
    )
    sandbox.control_clock({"advance": 24 * 3600})
    assert action_counts(sandbox) == {}
