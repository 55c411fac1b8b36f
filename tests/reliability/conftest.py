"""One served sandbox per server kind, shared by the attacks that leave it as they found it
(each begins with a reset and changes no setting), so the suite starts as few servers as it can."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from reliability_support import SERVERS, serve
from serve_support import Served


@pytest.fixture(scope="session", params=SERVERS)
def shared_server(request: pytest.FixtureRequest) -> Iterator[Served]:
    served = serve(request.param, "--no-rate-limit")
    yield served
    served.stop()


@pytest.fixture
def shared(shared_server: Served) -> Served:
    """The shared server of this kind, reset (no conversations, journal or faults)."""
    assert requests.post(f"{shared_server.base_url}/_sandbox/reset", timeout=10).ok
    return shared_server
