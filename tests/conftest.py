"""Shared fixtures, the Hypothesis profiles (``ci`` is bounded so CI time stays predictable), and
the rule that keeps ``make test-fast`` fast: a test that starts a process is marked ``e2e``.

``make test-fast`` runs ``-m "not slow and not e2e"``. A test left unmarked that starts a process
(a served sandbox, the command line, pip, a browser) fails with a message saying to mark it, in
every run, so the fast loop cannot grow a server start by accident.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from fast_loop_support import long_files_first, processes_only_if_marked
from flask import Flask
from hypothesis import HealthCheck, settings
from redis_support import RedisServer, free_port, require_redis_server
from shared_support import pair

from simulator.contract.validation import Contract
from simulator.http import CompiledRoutes

REPO = Path(__file__).resolve().parents[1]

# stateful_step_count bounds each run of a state machine (tests/property/test_state_machine.py).
settings.register_profile(
    "ci",
    max_examples=50,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=200, stateful_step_count=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def compiled_routes() -> CompiledRoutes:
    """The URL maps compiled once per test session and shared by the apps the tests build with
    it: compiling an app's routes is most of the cost of building it, and the apps are otherwise
    as independent as ever (each has its own sandbox, views and state)."""
    return CompiledRoutes()


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox's wheel, built from this checkout once per test session.

    Building takes seconds of a busy machine; every test that needs the wheel (its contents, an
    install into a fresh environment) reads this one file and must not change it.
    """
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(out.glob("dsco_sandbox-*.whl"))


@pytest.hookimpl(trylast=True)  # after the folders' conftests have added their marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    long_files_first(items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with processes_only_if_marked(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with processes_only_if_marked(item):
        return (yield)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, for the whole session (skips with the reason
    when Debian's redis-server is missing; fails instead under CI=true)."""
    require_redis_server()
    server = RedisServer(tmp_path_factory.mktemp("redis"), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of this test's own, so tests on the one redis-server never see each other's keys."""
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def workers(contract: Contract, redis_server: RedisServer, redis_prefix: str) -> tuple[Flask, Flask]:
    """Two in-process workers: two apps, each its own replica of one sandbox shared on Redis."""
    return pair(contract, redis_server.url, redis_prefix)
