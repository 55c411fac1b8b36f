"""Fixtures for the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory outside the repository, to prove nothing depends on the cwd."""
    return tmp_path
