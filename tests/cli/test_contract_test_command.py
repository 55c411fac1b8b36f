"""``dsco-sandbox contract test``: the contract checks against any URL, from the command line."""

from __future__ import annotations

from cli_support import run_cli
from serve_support import start


def test_contract_test_passes_against_a_real_sandbox() -> None:
    server = start("--no-rate-limit")
    try:
        result = run_cli(
            "contract", "test", "--target", server.base_url, "--token", "retailer-demo-token",
            "--max-examples", "5", "--no-stateful",
        )  # fmt: skip
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout + result.stderr


def test_contract_test_exits_2_when_the_target_cannot_be_reached() -> None:
    result = run_cli("contract", "test", "--target", "http://127.0.0.1:1", "--token", "t")
    assert result.returncode == 2
    assert "cannot reach" in result.stdout + result.stderr
