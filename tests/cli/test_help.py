"""Every command explains itself with --help, and the version comes from one place."""

from __future__ import annotations

import pytest
from cli_support import run_cli

from simulator import __version__

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "command",
    [[], ["serve"], ["validate"], ["contract"], ["contract", "diff"]],
    ids=lambda c: " ".join(c) or "top",
)
def test_every_command_has_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert "usage: dsco-sandbox" in result.stdout


def test_version_is_printed() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"dsco-sandbox {__version__}"


def test_bad_arguments_exit_2_with_a_reason() -> None:
    result = run_cli("serve", "--lag", "3,1")
    assert result.returncode == 2
    assert "expected 0 <= MIN <= MAX" in result.stderr
