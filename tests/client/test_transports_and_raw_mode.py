"""The client and the control-plane client on the in-process transport, and the client's raw mode.

The same protocol code runs over HTTP (``test_client.py``) and against a Flask app in this process;
the raw mode shows a 429, a 401 or a refusal as it came, where the checked mode retries, renews or
raises.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from simulator.client import DscoApiError, DscoClient
from simulator.control_client import ControlClient, ControlError
from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig, create_app

NORTHWIND = ("retailer-demo", "retailer-demo-secret")
BODY = {"title": "Late order", "otherPartyTradingPartnerId": "aaa-bbb-ccc"}


@pytest.fixture
def app() -> Iterator[Flask]:
    app = create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False, lag_min=0, lag_max=0)))
    control = ControlClient.in_process(app)
    control.clock({"freeze": True})
    yield app


def test_the_client_works_in_process_and_fetches_one_token(app: Flask) -> None:
    client = DscoClient.in_process(app, *NORTHWIND, sleep=lambda _: None)
    created = client.create_conversation(BODY)
    assert created["status"] == "new"
    client.add_message({"dscoConversationId": created["id"], "message": "hi"})
    control = ControlClient.in_process(app)
    control.advance(6)
    assert [c["id"] for c in client.iter_conversations({})] == [created["id"]]
    assert len(control.events(operation="getAccessToken")) == 1


def test_raw_mode_shows_a_429_that_the_checked_mode_retries(app: Flask) -> None:
    control = ControlClient.in_process(app)
    delays: list[float] = []
    client = DscoClient.in_process(app, *NORTHWIND, sleep=delays.append)
    control.faults({"createConversation": {"forceStatus": 429, "forceCount": 1}})
    reply = client.request("POST", "/conversation", json=BODY)
    assert reply.status == 429 and delays == []
    control.faults({"createConversation": {"forceStatus": 429, "forceCount": 1}})
    assert client.create_conversation(BODY)["status"] == "new"
    assert delays == [1.0]


def test_raw_mode_shows_a_401_that_the_checked_mode_renews(app: Flask) -> None:
    control = ControlClient.in_process(app)
    client = DscoClient.in_process(app, *NORTHWIND)
    client.access_token()
    control.advance(3601)  # the cached token has expired on the sandbox's clock
    assert client.request("POST", "/conversation", json=BODY).status == 401
    assert client.create_conversation(BODY)["status"] == "new"
    assert client.request("POST", "/conversation", json=BODY).status == 201  # the renewed token stays


def test_raw_mode_sends_an_explicit_authorization_as_is(app: Flask) -> None:
    client = DscoClient.in_process(app, *NORTHWIND)
    reply = client.request(
        "POST", "/conversation", json=BODY, headers={"Authorization": "bearer nope"}, renew=True
    )
    assert reply.status == 401
    assert client.request("POST", "/conversation", json=BODY, authorize=False).status == 401


def test_raw_pages_yield_a_refusal_where_checked_pages_raise(app: Flask) -> None:
    client = DscoClient.in_process(app, *NORTHWIND)
    refused = list(client.pages("getConversations", {"until": "yesterday"}, raw=True))
    assert [reply.status for reply in refused] == [400]
    with pytest.raises(DscoApiError) as caught:
        list(client.pages("getConversations", {"until": "yesterday"}))
    assert caught.value.status == 400 and caught.value.reply is not None


def test_the_control_client_drives_every_kind_of_route(app: Flask) -> None:
    control = ControlClient.in_process(app)
    assert control.health()["status"] == "ok"
    assert control.config({"pageSize": 3})["pageSize"] == 3
    assert (
        control.faults({"getConversations": {"forceStatus": 503}})["getConversations"]["forceStatus"] == 503
    )
    assert control.faults(None) == {}
    frozen = control.clock()
    assert frozen["frozen"] is True
    DscoClient.in_process(app, *NORTHWIND).create_conversation(BODY)
    state = control.export_state()
    assert len(state["conversations"]) == 1
    control.reset()
    assert control.export_state()["conversations"] == []
    control.import_state(state)
    assert len(control.export_state()["conversations"]) == 1
    assert control.notifications(account="2000001") == []
    assert control.personas({}) == control.personas()
    control.reset(restore_settings=True)
    assert control.config()["pageSize"] == 100


def test_a_refused_control_call_raises_with_what_it_answered(app: Flask) -> None:
    control = ControlClient.in_process(app)
    with pytest.raises(ControlError) as caught:
        control.config({"pageSize": 0})
    assert caught.value.status == 400
    assert str(caught.value).startswith("PUT /_sandbox/config answered 400: ")
    assert control.request("updateConfig", json={"pageSize": 0}).status == 400
