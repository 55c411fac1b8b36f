"""The README's command reference is the commands' own --help, never a stale copy."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cli_support import REPO

pytestmark = pytest.mark.e2e


def test_the_readme_command_reference_matches_every_commands_help() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "docs" / "command_reference.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + " (run `make docs` to regenerate it)"
