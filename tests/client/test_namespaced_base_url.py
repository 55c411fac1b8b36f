"""The client and the scenario transport take a namespace's root (``.../ns/NAME``) as they take any
server's: no option, no special case."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from simulator.client import DscoClient
from simulator.domain.config import SandboxConfig
from simulator.harness import BackgroundServer
from simulator.http import ServerConfig
from simulator.http.namespace_control import create_server_app
from simulator.scenario.transport import HttpTransport

BODY = {"title": "Late order", "otherPartyTradingPartnerId": "aaa-bbb-ccc"}


@pytest.fixture(scope="module")
def root() -> Iterator[str]:
    served = BackgroundServer(create_server_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False))))
    requests.post(
        f"{served.base_url}/_sandbox/namespaces", json={"name": "team-c"}, timeout=10
    ).raise_for_status()
    yield served.base_url
    served.stop()


def _titles(url: str) -> list[str]:
    return [c["title"] for c in requests.get(f"{url}/_sandbox/state", timeout=10).json()["conversations"]]


@pytest.mark.parametrize("suffix", ["", "/api/v3"])
def test_the_client_works_in_a_namespace(root: str, suffix: str) -> None:
    client = DscoClient(
        f"{root}/ns/team-c{suffix}", client_id="retailer-demo", client_secret="retailer-demo-secret"
    )
    created = client.create_conversation(BODY)
    assert created["title"] == "Late order"
    assert created["id"] in [
        c["id"] for c in requests.get(f"{root}/ns/team-c/_sandbox/state", timeout=10).json()["conversations"]
    ]
    assert _titles(root) == []


def test_the_scenario_transport_finds_the_namespaces_control_plane(root: str) -> None:
    transport = HttpTransport(f"{root}/ns/team-c")
    try:
        assert transport.has_control_plane
        reply = transport.request("POST", "/_sandbox/clock", json={"advance": 60})
        assert reply.status == 200
        created = transport.request(
            "POST", "/api/v3/conversation", json=BODY, headers={"Authorization": "bearer retailer-demo-token"}
        )
        assert created.status == 201
    finally:
        transport.close()
    assert (
        requests.get(f"{root}/_sandbox/clock", timeout=10).json()
        != requests.get(f"{root}/ns/team-c/_sandbox/clock", timeout=10).json()
    )
