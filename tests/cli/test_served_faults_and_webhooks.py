"""Faults seen over real HTTP, webhook delivery to a real receiver, and serve's refusal to expose
an unguarded control plane.

Everything listens on 127.0.0.1 only, and every wait is bounded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cli_support import run_cli
from flask import Flask
from serve_support import Served, start

from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig, create_app
from simulator.loading.resources import default_world_path
from simulator.webhooks import SIGNATURE_HEADER, WebhookDispatcher, verify

TIMEOUT = 10


# --- faults over real HTTP -------------------------------------------------------------------------
@pytest.fixture
def served() -> Iterator[Served]:
    server = start("--no-rate-limit")
    yield server
    server.stop()


@pytest.fixture
def session(served: Served) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # loopback only: no proxy from the environment
        form = {
            "grant_type": "client_credentials",
            "client_id": "supplier-demo",
            "client_secret": "supplier-demo-secret",
        }
        token = session.post(f"{served.base_url}/api/v3/oauth2/token", data=form, timeout=TIMEOUT).json()
        session.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield session


def configure(served: Served, session: requests.Session, changes: dict[str, Any]) -> None:
    response = session.put(f"{served.base_url}/_sandbox/config", json=changes, timeout=TIMEOUT)
    assert response.status_code == 200, response.text


@pytest.mark.e2e
def test_drop_next_breaks_the_connection_over_http_and_the_next_call_succeeds(
    served: Served, session: requests.Session
) -> None:
    configure(served, session, {"faults": {"getConversations": {"dropNext": 1}}})
    url = f"{served.base_url}/api/v3/conversation/list"
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        session.post(url, json={}, timeout=TIMEOUT)
    response = session.post(url, json={}, timeout=TIMEOUT)
    assert (response.status_code, response.json()) == (200, {"conversations": []})


@pytest.mark.e2e
def test_forced_statuses_reach_a_real_client_then_normal_answers_resume(
    served: Served, session: requests.Session
) -> None:
    configure(served, session, {"faults": {"getConversations": {"forceStatus": 503, "forceCount": 2}}})
    url = f"{served.base_url}/api/v3/conversation/list"
    answers = [session.post(url, json={}, timeout=TIMEOUT) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert [a.headers.get("X-Sandbox-Fault") for a in answers] == ["forced status", "forced status", None]


@pytest.mark.e2e
def test_serve_refuses_a_non_loopback_host_without_an_admin_token() -> None:
    result = run_cli("serve", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0" in result.stderr
    assert "--admin-token" in result.stderr
    assert result.stdout == ""  # no banner: it never started listening


# --- webhooks ----------------------------------------------------------------------------------------
@dataclass
class Receiver:
    """A webhook receiver on loopback that fails the first ``failures`` posts with 500."""

    failures: int
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    got_all: threading.Event = field(default_factory=threading.Event)
    expected: int = 0

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.posts.append((headers, body))
            count = len(self.posts)
        if count >= self.expected:
            self.got_all.set()
        return 500 if count <= self.failures else 204


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver(failures=2, expected=3)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.answer(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=TIMEOUT)


def world_with_webhook(path: Path, url: str) -> Path:
    """The default world, with a webhook for Acme (2000001)."""
    world = json.loads(default_world_path().read_text("utf-8"))
    [acme] = [a for a in world["accounts"] if a["dscoAccountId"] == "2000001"]
    acme["webhook"] = {"url": url, "secret": "whsec-test"}
    path.write_text(json.dumps(world), "utf-8")
    return path


def test_a_webhook_receiver_gets_a_correctly_signed_post_and_a_failing_receiver_is_retried(
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    config = ServerConfig(
        sandbox=SandboxConfig(rate_limit=False),
        world_path=world_with_webhook(tmp_path / "world.json", url),
        webhook_base_delay=0.05,
    )
    app: Flask = create_app(config)
    dispatcher: WebhookDispatcher = app.extensions["dsco_webhooks"]
    try:
        client = app.test_client()
        form = {
            "grant_type": "client_credentials",
            "client_id": "retailer-demo",
            "client_secret": "retailer-demo-secret",
        }
        token = client.post("/api/v3/oauth2/token", data=form).json["access_token"]  # type: ignore[index]
        created = client.post(
            "/api/v3/conversation",
            json={
                "title": "Where is my parcel?",
                "otherPartyTradingPartnerId": "aaa-bbb-ccc",
                "initialMessage": {"message": "It is late"},
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201
        assert state.got_all.wait(TIMEOUT), f"only {len(state.posts)} posts arrived"
        assert dispatcher.wait_idle(TIMEOUT)
    finally:
        dispatcher.close(timeout=TIMEOUT)

    assert len(state.posts) == 3
    [notification] = client.get("/_sandbox/notifications?account=2000001").json["notifications"]  # type: ignore[index]
    for attempt, (headers, body) in enumerate(state.posts, start=1):
        assert verify("whsec-test", body, headers[SIGNATURE_HEADER])
        assert not verify("another-secret", body, headers[SIGNATURE_HEADER])
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Dsco-Sandbox-Attempt"] == str(attempt)
        payload = json.loads(body)
        assert payload == notification
        assert payload["event"] == "conversation.message.created"
        assert payload["dscoAccountId"] == "2000001"
        assert payload["dscoConversationId"] == created.json["id"]  # type: ignore[index]
        assert payload["message"]["message"] == "It is late"
    assert len({headers["X-Dsco-Sandbox-Delivery"] for headers, _ in state.posts}) == 1

    attempts = client.get("/_sandbox/events?kind=webhook").json["events"]  # type: ignore[index]
    assert [e["delivery"]["attempt"] for e in attempts] == [1, 2, 3]
    assert [e["delivery"]["delivered"] for e in attempts] == [False, False, True]
    assert [e["delivery"]["status"] for e in attempts] == [500, 500, 204]
    assert attempts[-1]["delivery"]["final"] is True
    assert {e["account"] for e in attempts} == {"2000001"}
    assert {e["delivery"]["id"] for e in attempts} == {notification["id"]}
    assert {e["delivery"]["url"] for e in attempts} == {url}
    # Northwind, the sender, has no webhook and no notification.
    assert client.get("/_sandbox/notifications?account=1000001").json["notifications"] == []  # type: ignore[index]
