"""The shared-store tests: each talks to two workers on the redis-server the session starts
(``redis_server`` and ``workers`` are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from shared_support import SharedApi, alternating_api
from webhook_support import Receiver

from simulator.contract.validation import Contract

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here talks to the redis-server the session starts: all are end-to-end."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def contract() -> Contract:
    return Contract()


@pytest.fixture
def api(workers: tuple[Flask, Flask]) -> SharedApi:
    return alternating_api(workers)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback webhook receiver that answers 204 to every delivery."""
    made = Receiver([204])
    yield made
    made.server.shutdown()
    made.server.server_close()
