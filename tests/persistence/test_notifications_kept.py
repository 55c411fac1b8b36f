"""Notifications are part of the kept state: a restart (JSON state file or SQLite database) and an
export/import round trip hand back the same notifications, and new ones continue their numbering."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from simulator.domain.config import SandboxConfig
from simulator.domain.sandbox import Sandbox
from simulator.http.app import ServerConfig, create_app

RETAILER = {
    "grant_type": "client_credentials",
    "client_id": "retailer-demo",
    "client_secret": "retailer-demo-secret",
}


def started(path: Path) -> Flask:
    config = ServerConfig(sandbox=SandboxConfig(rate_limit=False, lag_min=0, lag_max=0), state_file=path)
    return create_app(config)


def stopped(app: Flask) -> None:
    database = app.extensions.get("dsco_state_database")
    if database is not None:
        database.database.close()


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for app in made:
        with contextlib.suppress(Exception):
            stopped(app)


def create(app: Flask, title: str) -> str:
    client = app.test_client()
    token = client.post("/api/v3/oauth2/token", data=RETAILER).json["access_token"]  # type: ignore[index]
    body = {"title": title, "otherPartyTradingPartnerId": "aaa-bbb-ccc", "initialMessage": {"message": title}}
    response = client.post("/api/v3/conversation", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return str(response.json["id"])  # type: ignore[index]


def listed(app: Flask) -> list[dict[str, Any]]:
    response = app.test_client().get("/_sandbox/notifications")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json["notifications"]  # type: ignore[index]
    return found


@pytest.mark.parametrize("name", ["state.json", "state.db"])
def test_notifications_survive_a_restart_and_numbering_goes_on(
    tmp_path: Path, apps: list[Flask], name: str
) -> None:
    first = started(tmp_path / name)
    apps.append(first)
    create(first, "one")
    create(first, "two")
    before = listed(first)
    assert len(before) == 2
    stopped(first)
    second = started(tmp_path / name)
    apps.append(second)
    assert listed(second) == before
    create(second, "three")
    after = listed(second)
    assert after[:2] == before
    assert after[2]["seq"] == before[1]["seq"] + 1
    assert after[2]["id"] not in {n["id"] for n in before}


def test_a_notification_dropped_by_the_bound_is_dropped_from_the_database(
    tmp_path: Path, apps: list[Flask]
) -> None:
    first = started(tmp_path / "state.db")
    apps.append(first)
    sandbox: Sandbox = first.extensions["dsco_sandbox"]
    sandbox.notifications._per_account = 2  # a small bound, so that the third drops the first
    for title in ("one", "two", "three"):
        create(first, title)
    kept = listed(first)
    assert [n["seq"] for n in kept] == [2, 3]
    stopped(first)
    second = started(tmp_path / "state.db")
    apps.append(second)
    assert listed(second) == kept


def test_export_import_export_gives_the_same_notifications(tmp_path: Path, apps: list[Flask]) -> None:
    app = started(tmp_path / "state.db")
    apps.append(app)
    create(app, "one")
    client = app.test_client()
    assert client.post("/_sandbox/clock", json={"freeze": True}).status_code == 200
    document = client.get("/_sandbox/state").json
    assert document is not None and len(document["notifications"]) == 1
    assert document["notificationSequence"] == 1
    response = client.put("/_sandbox/state", json=document)
    assert response.status_code == 200, response.text
    again = client.get("/_sandbox/state").json
    assert again is not None
    assert {**again, "exportedAt": None} == {**document, "exportedAt": None}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"messageId": "no-such-message"}, "notifications[0].messageId"),
        ({"accountId": "retailer-demo"}, "notifications[0].accountId"),
        ({"conversationId": "elsewhere"}, "notifications[0].conversationId"),
    ],
)
def test_an_import_with_a_notification_that_does_not_fit_is_refused_and_changes_nothing(
    tmp_path: Path, apps: list[Flask], change: dict[str, str], field: str
) -> None:
    app = started(tmp_path / "state.db")
    apps.append(app)
    create(app, "one")
    client = app.test_client()
    document = client.get("/_sandbox/state").json
    assert document is not None
    document["notifications"][0].update(change)
    response = client.put("/_sandbox/state", data=json.dumps(document), content_type="application/json")
    assert response.status_code == 400, response.text
    assert field in response.text
    assert listed(app)[0]["dscoMessageId"] != "no-such-message"
    assert len(listed(app)) == 1
