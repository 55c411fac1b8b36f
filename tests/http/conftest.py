"""Fixtures for the HTTP tests: one app per test around the default world, with a frozen clock.

The app is built with the rate limit off (so a test's burst of calls never meets a 429 it did not
ask for), a fixed post-processing lag of ``LAG`` seconds, and its clock frozen at ``START``; every
request goes through :class:`http_support.CheckedClient`, which fails the test on any 5xx or
contract break.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from http_support import LAG, START, Api, CheckedClient, Control
from shared_support import AlternatingClient, alternating_api

from simulator.contract.validation import Contract
from simulator.domain.clock import ControllableClock
from simulator.domain.config import SandboxConfig
from simulator.domain.sandbox import Sandbox
from simulator.http import CompiledRoutes, ServerConfig, create_app


@pytest.fixture(scope="session")
def contract() -> Contract:
    return Contract()


SHARED_STORE = "two workers on one Redis"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module marked ``shared_store`` runs twice: against one in-process sandbox, and against two
    workers on one Redis whose client sends each request to the other worker than the last."""
    if metafunc.definition.get_closest_marker("shared_store") and "app" in metafunc.fixturenames:
        shared = pytest.param(SHARED_STORE, marks=pytest.mark.e2e, id="redis")
        metafunc.parametrize("app", [pytest.param("memory", id="memory"), shared], indirect=True)


@pytest.fixture
def app(
    contract: Contract, compiled_routes: CompiledRoutes, request: pytest.FixtureRequest
) -> Iterator[Flask]:
    if getattr(request, "param", None) == SHARED_STORE:
        workers: tuple[Flask, Flask] = request.getfixturevalue("workers")
        first = workers[0]
        first.test_client_class = AlternatingClient
        AlternatingClient.workers = workers
        first.extensions["test_workers"] = workers
        yield first
        return
    config = SandboxConfig(rate_limit=False, lag_min=LAG, lag_max=LAG)
    app = create_app(ServerConfig(sandbox=config), contract=contract, routes=compiled_routes)
    app.test_client_class = CheckedClient
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    sandbox.clock.freeze()
    sandbox.clock.set(START)
    yield app


@pytest.fixture
def sandbox(app: Flask) -> Sandbox:
    found: Sandbox = app.extensions["dsco_sandbox"]
    return found


@pytest.fixture
def clock(sandbox: Sandbox) -> ControllableClock:
    return sandbox.clock


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api(app: Flask, client: FlaskClient, sandbox: Sandbox) -> Api:
    """Calls as any account of the default world (tokens fetched once each), plus time control
    (through the clock command on a shared store, so every worker follows it)."""
    if "test_workers" in app.extensions:
        return alternating_api(app.extensions["test_workers"])
    return Api(client, sandbox)


@pytest.fixture
def control(api: Api) -> Control:
    """The control plane (``/_sandbox``) of the same app, through the same checked client as ``api``."""
    return Control(api.client)
