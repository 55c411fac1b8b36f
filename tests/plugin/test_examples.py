"""The two example integrations run against the ``dsco_sandbox`` fixture and do their job."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulator.harness import SandboxHandle

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(script: str, sandbox: SandboxHandle, role: str, *args: str) -> str:
    who = sandbox.credentials[role]
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / script),
            "--base-url",
            sandbox.base_url,
            "--client-id",
            who.client_id,
            "--client-secret",
            who.client_secret,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def iso(sandbox: SandboxHandle) -> str:
    now = sandbox.clock.now()
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


@pytest.mark.dsco(lag=(1, 1))
def test_the_retailer_forwards_the_supplier_answers_and_the_retailer_relays(
    dsco_sandbox: SandboxHandle,
) -> None:
    dsco_sandbox.clock.freeze()
    start = iso(dsco_sandbox)
    forwarded = run(
        "retailer_integration.py",
        dsco_sandbox,
        "retailer",
        "forward",
        "--supplier",
        "aaa-bbb-ccc",
        "--po",
        "123-456-789",
        "--consumer",
        "12345",
        "--message",
        "Why is my order late?",
    )
    assert "forwarded to aaa-bbb-ccc as conversation" in forwarded
    dsco_sandbox.clock.advance(30)
    answered = run(
        "supplier_integration.py",
        dsco_sandbox,
        "supplier",
        "--once",
        "--since",
        start,
        "--now",
        iso(dsco_sandbox),
    )
    assert "answered and closed" in answered and "(consumer 12345)" in answered
    dsco_sandbox.clock.advance(30)
    relayed = run(
        "retailer_integration.py",
        dsco_sandbox,
        "retailer",
        "responses",
        "--since",
        start,
        "--now",
        iso(dsco_sandbox),
        "--once",
    )
    assert relayed.startswith("to consumer 12345: Thank you for writing about your order.")


@pytest.mark.dsco(lag=(1, 1), page_size=2)
def test_the_supplier_answers_every_message_across_pages_exactly_once(dsco_sandbox: SandboxHandle) -> None:
    dsco_sandbox.clock.freeze()
    start = iso(dsco_sandbox)
    for consumer in ("c1", "c2", "c3"):
        run(
            "retailer_integration.py", dsco_sandbox, "retailer", "forward", "--supplier", "aaa-bbb-ccc",
            "--po", "123-456-789", "--consumer", consumer, "--message", f"Hello from {consumer}",
        )  # fmt: skip
    dsco_sandbox.clock.advance(30)
    answered = run(
        "supplier_integration.py",
        dsco_sandbox,
        "supplier",
        "--once",
        "--since",
        start,
        "--now",
        iso(dsco_sandbox),
    )
    assert sorted(line.split("(consumer ")[1] for line in answered.splitlines()) == ["c1)", "c2)", "c3)"]
