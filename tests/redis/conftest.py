"""Fixtures for the shared-store tests: a real redis-server, and two workers on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from redis_support import RedisServer, free_port, require_redis_server
from shared_support import SharedApi, alternating_api, pair

from simulator.contract import Contract

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here talks to the redis-server the session starts: all are end-to-end."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require_redis_server()
    server = RedisServer(tmp_path_factory.mktemp("redis"), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def contract() -> Contract:
    return Contract()


@pytest.fixture
def prefix() -> str:
    """A prefix of this test's own, so tests never see each other's keys."""
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def workers(contract: Contract, redis_server: RedisServer, prefix: str) -> tuple[Flask, Flask]:
    return pair(contract, redis_server.url, prefix)


@pytest.fixture
def api(workers: tuple[Flask, Flask]) -> SharedApi:
    return alternating_api(workers)
