"""A subset of the HTTP suite (lists and paging: scrolls, lags, criteria) against two workers on one Redis.

The HTTP tests' own fixtures are replaced: the app is the first worker, whose test client sends
each request to the next worker in turn, and time moves through the clock command.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

sys.path.insert(0, str(Path(__file__).parent.parent / "http"))

from shared_support import AlternatingClient, SharedApi, alternating_api
from test_lists_and_paging import *  # noqa: F403


@pytest.fixture
def app(workers: tuple[Flask, Flask]) -> Flask:
    first = workers[0]
    first.test_client_class = AlternatingClient
    AlternatingClient.workers = workers
    return first


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api(workers: tuple[Flask, Flask]) -> SharedApi:
    return alternating_api(workers)
