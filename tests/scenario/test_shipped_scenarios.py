"""Every scenario under scenarios/ passes in-process and against a real ``dsco-sandbox serve``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from scenario_support import SHIPPED, shipped_scenarios
from serve_support import Served, start

from simulator.contract.validation import Contract
from simulator.scenario.loader import load_scenario
from simulator.scenario.replay import run_in_process
from simulator.scenario.report import format_result
from simulator.scenario.runner import run_scenario
from simulator.scenario.transport import HttpTransport

FILES = shipped_scenarios()
IDS = [path.relative_to(SHIPPED).as_posix() for path in FILES]


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract()


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """One server for the module, with serve's own defaults (rate limit on, random lag)."""
    server = start()
    yield server
    server.stop()


def test_the_promised_stories_are_shipped() -> None:
    names = {path.relative_to(SHIPPED).as_posix() for path in FILES}
    assert {
        "late-order-loop.yaml",
        "damaged-line-item.yaml",
        "second-consumer-message.yaml",
        "reopen-closed-conversation.yaml",
        "polling-across-pages.yaml",
        "five-second-rule.yaml",
        "non-participant-refused.yaml",
        "rate-limited-burst.yaml",
        "errors/400-contract-violation.yaml",
        "errors/400-malformed-json.yaml",
        "errors/401-unauthorized.yaml",
        "errors/404-expired-scroll.yaml",
        "errors/413-body-too-large.yaml",
        "errors/415-unsupported-media-type.yaml",
        "errors/oauth-400-invalid-request.yaml",
        "errors/oauth-401-invalid-client.yaml",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_shipped_scenario_has_a_description(path: Path, contract: Contract) -> None:
    assert load_scenario(path, contract=contract).description.strip()


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_shipped_scenario_passes_in_process(path: Path, contract: Contract) -> None:
    result = run_in_process(load_scenario(path, contract=contract), contract=contract)
    assert result.passed, format_result(result)
    assert not any(step.status == "skipped" for step in result.steps), format_result(result)


@pytest.mark.e2e
@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_shipped_scenario_passes_against_a_served_sandbox(
    path: Path, contract: Contract, served: Served
) -> None:
    reset = requests.post(f"{served.base_url}/_sandbox/reset", timeout=10)
    assert reset.status_code == 200
    transport = HttpTransport(served.base_url)
    try:
        assert transport.has_control_plane
        result = run_scenario(load_scenario(path, contract=contract), transport)
    finally:
        transport.close()
    assert result.passed, format_result(result)
    assert not any(step.status == "skipped" for step in result.steps), format_result(result)
