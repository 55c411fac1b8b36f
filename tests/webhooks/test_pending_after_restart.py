"""A webhook delivery on its way when the sandbox stops is part of the saved state, and is made
after a restart: same delivery id, same signed body, at the attempt it had reached."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from webhook_support import SECRET, Receiver, world_with_webhook

from simulator.domain.config import SandboxConfig
from simulator.http.app import PENDING_WEBHOOKS, ServerConfig, create_app
from simulator.webhooks import (
    ATTEMPT_HEADER,
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    PendingDelivery,
    WebhookDispatcher,
    verify,
)

RETAILER = {
    "grant_type": "client_credentials",
    "client_id": "retailer-demo",
    "client_secret": "retailer-demo-secret",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver([500, 204])  # fails first, then works
    yield made
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for app in made:
        with contextlib.suppress(Exception):
            stop(app)


def start(apps: list[Flask], state: Path, world: Path, delay: float) -> Flask:
    config = ServerConfig(
        sandbox=SandboxConfig(rate_limit=False, lag_min=0, lag_max=0),
        state_file=state,
        world_path=world,
        webhook_base_delay=delay,
    )
    app = create_app(config)
    apps.append(app)
    return app


def stop(app: Flask) -> None:
    """The end of a run: the dispatcher stops (dropping what is pending), the database closes."""
    dispatcher: WebhookDispatcher = app.extensions["dsco_webhooks"]
    dispatcher.close(timeout=2.0)
    database = app.extensions.get("dsco_state_database")
    if database is not None:
        database.database.close()


def first_attempt_reported(app: Flask) -> None:
    """Wait until the failed first attempt is counted (the receiver sees it a moment before)."""
    dispatcher: WebhookDispatcher = app.extensions["dsco_webhooks"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if [p.attempt for p in dispatcher.pending()] == [2]:
            return
        time.sleep(0.01)
    raise AssertionError(f"the first attempt was not reported: {dispatcher.pending()}")


def create(app: Flask) -> None:
    client = app.test_client()
    token = client.post("/api/v3/oauth2/token", data=RETAILER).json["access_token"]  # type: ignore[index]
    body = {
        "title": "hello",
        "otherPartyTradingPartnerId": "aaa-bbb-ccc",
        "initialMessage": {"message": "hi"},
    }
    response = client.post("/api/v3/conversation", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("name", ["state.json", "state.db"])
def test_a_pending_delivery_is_made_after_a_restart(
    tmp_path: Path, receiver: Receiver, apps: list[Flask], name: str
) -> None:
    world = world_with_webhook(tmp_path / "world.json", receiver.url)
    state = tmp_path / name
    first = start(apps, state, world, delay=60.0)  # the retry would come long after the stop
    create(first)
    assert receiver.wait_for(1), "the first attempt never came"
    stop(first)
    assert len(receiver.posts) == 1

    second = start(apps, state, None if name.endswith(".db") else world, delay=0.05)  # type: ignore[arg-type]
    assert receiver.wait_for(2), "the pending delivery was not made after the restart"
    dispatcher: WebhookDispatcher = second.extensions["dsco_webhooks"]
    assert dispatcher.wait_idle(10.0)
    (headers, body), (again, body_again) = receiver.posts
    assert body_again == body
    assert again[DELIVERY_HEADER] == headers[DELIVERY_HEADER]
    assert again[ATTEMPT_HEADER] == "2"
    assert verify(SECRET, body_again, again[SIGNATURE_HEADER])
    stop(second)

    third = start(apps, state, None if name.endswith(".db") else world, delay=0.05)  # type: ignore[arg-type]
    third_dispatcher: WebhookDispatcher = third.extensions["dsco_webhooks"]
    assert third_dispatcher.pending() == [], "a delivery made is sent again after another restart"
    assert PENDING_WEBHOOKS not in third.test_client().get("/_sandbox/state").json  # type: ignore[operator]


def test_the_pending_deliveries_round_trip_through_export_and_import(
    tmp_path: Path, receiver: Receiver, apps: list[Flask]
) -> None:
    receiver.statuses = [500]  # never delivered while this test looks
    world = world_with_webhook(tmp_path / "world.json", receiver.url)
    app = start(apps, tmp_path / "state.db", world, delay=60.0)
    create(app)
    assert receiver.wait_for(1)
    first_attempt_reported(app)
    client = app.test_client()
    assert client.post("/_sandbox/clock", json={"freeze": True}).status_code == 200
    document = client.get("/_sandbox/state").json
    assert document is not None
    [(delivery_id, saved)] = document[PENDING_WEBHOOKS].items()
    assert saved["attempt"] == 2 and saved["body"].encode() == receiver.posts[0][1]
    other = start(apps, tmp_path / "other.db", world, delay=60.0)
    response = other.test_client().put("/_sandbox/state", json=document)
    assert response.status_code == 200, response.text
    assert receiver.wait_for(2), "the imported delivery was not sent"
    assert receiver.posts[1][1] == receiver.posts[0][1]
    assert receiver.posts[1][0][ATTEMPT_HEADER] == "2"
    exported = other.test_client().get("/_sandbox/state").json
    assert exported is not None
    [(again_id, again)] = exported[PENDING_WEBHOOKS].items()  # it failed again: still pending
    assert again_id == delivery_id
    assert {**again, "attempt": 2} == saved and again["attempt"] in (2, 3)


@pytest.mark.parametrize(
    ("change", "field"),
    [({"url": "ftp://example.test/x"}, "url"), ({"attempt": 0}, "attempt"), ({"body": 1}, "body")],
)
def test_an_import_with_a_broken_pending_delivery_is_refused_naming_it(
    tmp_path: Path, receiver: Receiver, apps: list[Flask], change: dict[str, object], field: str
) -> None:
    receiver.statuses = [500]
    world = world_with_webhook(tmp_path / "world.json", receiver.url)
    app = start(apps, tmp_path / "state.db", world, delay=60.0)
    create(app)
    assert receiver.wait_for(1)
    first_attempt_reported(app)
    client = app.test_client()
    assert client.post("/_sandbox/clock", json={"freeze": True}).status_code == 200
    document = client.get("/_sandbox/state").json
    assert document is not None
    [delivery_id] = document[PENDING_WEBHOOKS]
    document[PENDING_WEBHOOKS][delivery_id].update(change)
    before = client.get("/_sandbox/state").json
    response = client.put("/_sandbox/state", json=document)
    assert response.status_code == 400, response.text
    assert f"{PENDING_WEBHOOKS}.{delivery_id}" in response.text and field in response.text
    assert client.get("/_sandbox/state").json == before


def test_close_keeps_what_was_pending_for_a_last_save(receiver: Receiver) -> None:
    dispatcher = WebhookDispatcher(base_delay=60.0)
    dispatcher.submit(receiver.url, SECRET, {"n": 1}, "acct/one")
    assert receiver.wait_for(1)
    dispatcher.close(timeout=2.0)
    [pending] = dispatcher.pending()
    assert pending == PendingDelivery("acct/one", receiver.url, '{"n":1}', pending.signature, 2)
    assert verify(SECRET, pending.body.encode(), pending.signature)
