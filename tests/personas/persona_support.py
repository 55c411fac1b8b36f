"""A sandbox with personas, frozen at a fixed instant, and ways to read what the personas did."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from simulator.contract.validation import Contract
from simulator.domain.clock import parse_rfc3339
from simulator.domain.config import SandboxConfig
from simulator.domain.sandbox import Sandbox
from simulator.loading.bootstrap import build_sandbox
from simulator.personas import PersonaRole, Personas, attach_personas

START = "2023-05-01T09:00:00.000Z"
QUARTER = 900


def frozen_sandbox(
    contract: Contract,
    options: Sequence[tuple[PersonaRole, list[str] | None]] = (),
    seed: int = 7,
) -> tuple[Sandbox, Personas]:
    sandbox = build_sandbox(contract, SandboxConfig(seed=seed, rate_limit=False))
    sandbox.control_clock({"freeze": True})
    sandbox.control_clock({"set": START})
    personas = attach_personas(sandbox, contract, options=options)
    return sandbox, personas


def persona_entries(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [e.to_json() for e in sandbox.journal.entries(kind="request") if "persona" in e.details]


def action_counts(sandbox: Sandbox) -> dict[str, int]:
    """``role action`` -> how many succeeded (a refused one counts under ``refused``)."""
    counts: Counter[str] = Counter()
    for entry in persona_entries(sandbox):
        persona: Mapping[str, str] = entry["persona"]
        key = "refused" if "refused" in entry else f"{persona['role']} {persona['action']}"
        counts[key] += 1
    return dict(sorted(counts.items()))


def instant(text: str) -> int:
    parsed = parse_rfc3339(text)
    assert parsed is not None
    return parsed
