"""What an installed package and the Makefile offer a new user: examples, extras, ``make serve ARGS``."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from cli_support import REPO

from simulator.cli import main


def test_examples_lists_the_installed_scripts_and_copies_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["examples"]) == 0
    out = capsys.readouterr().out
    assert "supplier_integration.py" in out and "retailer_integration.py" in out
    assert "A supplier's Customer Care integration" in out
    assert main(["examples", "--copy", str(tmp_path / "mine")]) == 0
    copied = tmp_path / "mine" / "supplier_integration.py"
    assert copied.read_text("utf-8") == (REPO / "examples" / "supplier_integration.py").read_text("utf-8")
    capsys.readouterr()
    assert main(["examples", "--copy", str(tmp_path / "mine")]) == 2  # never overwrites
    assert "already exist" in capsys.readouterr().err


def test_extras_name_what_the_plugin_and_contract_test_need() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]
    assert [dep.split(">")[0] for dep in extras["pytest"]] == ["pytest"]
    readme = (REPO / "README.md").read_text("utf-8")
    assert "pip install 'dsco-sandbox[pytest]'" in readme
    assert "dsco-sandbox examples" in readme


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_serve_passes_args_to_serve() -> None:
    result = subprocess.run(
        # --no-print-directory: under `make test` this make is a sub-make, which names its folder.
        ["make", "--no-print-directory", "-n", "-o", ".venv/.installed", "serve", "ARGS=--page-size 3 --log"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(".venv/bin/dsco-sandbox serve --page-size 3 --log")


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_fast_leaves_out_the_slow_and_e2e_tests_it_registers() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", ".venv/.installed", "test-fast", "PYTEST_ARGS=-x"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    command = result.stdout.strip()
    assert '-m "not slow and not e2e" -x tests/domain tests/contract tests/http' in command
    markers = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["pytest"]["ini_options"]
    assert {"slow", "e2e"} <= {line.split(":")[0] for line in markers["markers"]}
    assert "--strict-markers" in markers["addopts"]
