"""``dsco-sandbox contract test``: the contract checks against any URL, from the command line."""

from __future__ import annotations

import io
import sys
import tomllib
from typing import Any

import pytest
from cli_support import REPO, run_cli
from serve_support import start


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_contract_test_exits_2_when_the_target_cannot_be_reached() -> None:
    result = run_cli("contract", "test", "--target", "http://127.0.0.1:1", "--token", "t")
    assert result.returncode == 2
    assert "cannot reach" in result.stdout + result.stderr


def test_the_seed_option_reaches_schemathesis(monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator import cli, conformance

    assert (
        conformance.load_contract(token=None, max_examples=1, stateful=False, seed=1234).config.seed == 1234
    )
    seen: dict[str, Any] = {}
    monkeypatch.setattr(conformance, "run_conformance", lambda target, **kwargs: seen.update(kwargs) or 0)
    assert cli.main(["contract", "test", "--target", "http://127.0.0.1:1", "--seed", "1234"]) == 0
    assert seen["seed"] == 1234


def test_without_schemathesis_the_hint_names_the_light_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator import conformance

    monkeypatch.setitem(sys.modules, "schemathesis", None)  # as if it were not installed
    out = io.StringIO()
    code = conformance.run_conformance(
        "http://127.0.0.1:1", token="t", client_id=None, client_secret=None, max_examples=1, stateful=False,
        out=out,
    )  # fmt: skip
    assert code == 2
    assert "pip install 'dsco-sandbox[contract]'" in out.getvalue()
    extras = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]
    assert [dep.split(">")[0] for dep in extras["contract"]] == ["schemathesis"]
