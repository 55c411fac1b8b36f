"""Fixtures of the persona tests."""

from __future__ import annotations

import pytest

from simulator.contract.validation import Contract


@pytest.fixture(scope="session")
def contract() -> Contract:
    return Contract()
