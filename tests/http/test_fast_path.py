"""The vendor API's fast path answers exactly as the Flask app's own routes would.

Two apps are built alike, one with the fast path in front and one without, with the same seed and
the same frozen clock; the same requests go to both, one after the other, and every answer (status,
headers, body) and every journal entry must be the same. The requests cover every operation, their
errors, faults, a refused ``Host``, a body too large, and the requests the fast path leaves to
Flask (a ``HEAD``, an ``OPTIONS``, a wrong method, a trailing slash).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request_started
from flask.testing import FlaskClient
from http_support import API, NORTHWIND, START

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.domain.operations import CONTROL_PREFIX, OPERATIONS, api_path
from simulator.domain.sandbox import Sandbox
from simulator.http import CompiledRoutes, ServerConfig, create_app
from simulator.http.bodies import MAX_BODY_BYTES

_TOKEN = re.compile(rb"sbx-[0-9a-f]{40}")
"""An issued access token: random (unguessable) in each app, so answers are compared without it."""
_SET = {"clock": "POST", "config": "PUT"}
AUTH = {"Authorization": "bearer retailer-demo-token"}
CREATE = {
    "otherPartyTradingPartnerId": "aaa-bbb-ccc",
    "title": "Late order",
    "initialMessage": {"message": "Hi"},
}
FORM = {"grant_type": "client_credentials", "client_id": NORTHWIND, "client_secret": f"{NORTHWIND}-secret"}


def _app(contract: Contract, routes: CompiledRoutes, *, fast_path: bool, strict: bool = False) -> Flask:
    config = SandboxConfig(rate_limit=False, lag_min=0, lag_max=0, strict=strict, page_size=2)
    app = create_app(ServerConfig(sandbox=config), contract=contract, routes=routes, fast_path=fast_path)
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    sandbox.clock.freeze()
    sandbox.clock.set(START)
    return app


@pytest.fixture(params=[False, True], ids=["lenient", "strict"])
def both(
    contract: Contract, compiled_routes: CompiledRoutes, request: pytest.FixtureRequest
) -> Iterator[Any]:
    apps = [_app(contract, compiled_routes, fast_path=fast, strict=request.param) for fast in (True, False)]
    yield _Both(*(app.test_client() for app in apps))


class _Both:
    """Sends each request to both apps and checks that the answers are the same."""

    def __init__(self, fast: FlaskClient, flask: FlaskClient) -> None:
        self.clients = (fast, flask)

    def same(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        answers = []
        for client in self.clients:
            response = client.open(path, method=method, **kwargs)
            body = _TOKEN.sub(b"sbx-TOKEN", response.get_data())
            answers.append((response.status_code, dict(response.headers), body))
        fast, flask = answers
        assert fast == flask, f"{method} {path}: the fast path answered {fast}, Flask {flask}"
        return fast

    def control(self, name: str, body: Any) -> None:
        for client in self.clients:
            assert client.open(f"{CONTROL_PREFIX}/{name}", method=_SET[name], json=body).status_code == 200

    def journals(self) -> list[list[dict[str, Any]]]:
        found = []
        for client in self.clients:
            events = client.get(f"{CONTROL_PREFIX}/events?limit=500").get_json()["events"]
            for event in events:
                event.pop("durationMs", None)  # wall time, the one thing that differs
            found.append(json.loads(_TOKEN.sub(b"sbx-TOKEN", json.dumps(events).encode())))
        return found


def _conversation_id(answer: tuple[int, dict[str, str], bytes]) -> str:
    identifier: str = json.loads(answer[2])["id"]
    return identifier


def test_every_operation_and_error_is_answered_and_journaled_alike(both: _Both) -> None:
    token = api_path("getAccessToken")
    both.same("POST", token, data=FORM)
    both.same("POST", token, data={**FORM, "client_secret": "wrong"})
    both.same("POST", token, json=FORM)  # not a form
    both.same("GET", api_path("getHello"))
    both.same("GET", api_path("getHello"), headers=AUTH)
    both.same("GET", api_path("getHello"), headers={"Authorization": "bearer no-such-token"})

    create = api_path("createConversation")
    created = both.same("POST", create, json=CREATE, headers=AUTH)
    assert created[0] == 201
    identifier = _conversation_id(created)
    both.same("POST", create, json={**CREATE, "surprise": 1}, headers=AUTH)  # unknown field
    both.same("POST", create, json={"title": 5}, headers=AUTH)  # breaks the contract
    both.same("POST", create, data="{not json", headers={**AUTH, "Content-Type": "application/json"})
    both.same("POST", create, data=b"\xff\xfe", headers={**AUTH, "Content-Type": "application/json"})
    both.same("POST", create, data="", headers={**AUTH, "Content-Type": "application/json"})
    both.same("POST", create, data="title=x", headers={**AUTH, "Content-Type": "text/plain"})
    both.same("POST", create, json=CREATE)  # no token
    both.same("POST", create, json=CREATE, headers={"Authorization": "Basic c2VjcmV0"})
    both.same("POST", create, json=CREATE, headers={"Authorization": "bearer unknown"})
    big = {**CREATE, "title": "x" * MAX_BODY_BYTES}
    both.same("POST", create, json=big, headers=AUTH)  # 413
    both.same("POST", create, json=CREATE, headers={**AUTH, "Host": "evil.example"})  # refused Host

    for text in ("One", "Two", "Three"):
        body = {"dscoConversationId": identifier, "message": text}
        both.same("POST", api_path("addConversationMessage"), json=body, headers=AUTH)
    both.same(
        "POST",
        api_path("addConversationMessage"),
        json={"dscoConversationId": "nope", "message": "x"},
        headers=AUTH,
    )
    both.same(
        "PUT",
        api_path("updateConversation"),
        json={"dscoConversationId": identifier, "title": "New"},
        headers=AUTH,
    )
    both.control("clock", {"set": "2023-05-01T10:01:00.000Z"})  # every message visible
    page = both.same(
        "POST", api_path("getConversationMessages"), json={"dscoConversationId": identifier}, headers=AUTH
    )
    scroll = json.loads(page[2])["scrollId"]
    both.same(
        "POST", api_path("getConversationMessages"), json={"scrollId": scroll, "until": "x"}, headers=AUTH
    )
    both.same("POST", api_path("getConversations"), json={}, headers=AUTH)

    # What the fast path leaves to Flask: near misses of a path, other methods, HEAD and OPTIONS.
    both.same("HEAD", api_path("getHello"))
    both.same("OPTIONS", create)
    both.same("GET", create, headers=AUTH)
    both.same("DELETE", create, headers=AUTH)
    both.same("POST", create + "/", json=CREATE, headers=AUTH)
    both.same("POST", f"{API}/conversations", json=CREATE, headers=AUTH)

    fast, flask = both.journals()
    assert len(fast) >= 25  # every call above that reached a route is journaled
    assert fast == flask


def test_faults_are_applied_alike(both: _Both) -> None:
    faults = {
        "createConversation": {"forceStatus": 503, "forceCount": 2},
        "getAccessToken": {"forceStatus": 401},
        "getConversations": {"forceStatus": 429},
        "getConversationMessages": {"dropNext": 1},
    }
    both.control("config", {"faults": faults})
    both.same("POST", api_path("getAccessToken"), data=FORM)
    for _ in range(3):
        both.same("POST", api_path("createConversation"), json=CREATE, headers=AUTH)
    both.same("POST", api_path("getConversations"), json={}, headers=AUTH)
    both.same("POST", api_path("getConversationMessages"), json={}, headers=AUTH)  # dropped
    fast, flask = both.journals()
    assert fast == flask


def test_the_fast_path_takes_every_vendor_route_and_nothing_else(
    contract: Contract, compiled_routes: CompiledRoutes
) -> None:
    """A request the fast path answers never reaches Flask (no request context is pushed)."""
    app = _app(contract, compiled_routes, fast_path=True)
    client = app.test_client()
    reached_flask: list[str] = []

    def started(sender: Flask, **extra: Any) -> None:
        from flask import request

        reached_flask.append(f"{request.method} {request.path}")

    with request_started.connected_to(started, app):
        for operation in OPERATIONS.values():
            client.open(api_path(operation.operation_id), method=operation.method, json={}, headers=AUTH)
        assert reached_flask == []
        client.head(api_path("getHello"))
        client.get(f"{CONTROL_PREFIX}/health")
    assert reached_flask == [f"HEAD {api_path('getHello')}", f"GET {CONTROL_PREFIX}/health"]


def test_no_request_hook_on_the_vendor_routes_is_skipped_by_the_fast_path(
    contract: Contract, compiled_routes: CompiledRoutes
) -> None:
    """The fast path runs the one hook the app has before every request (the site guard's ``Host``
    check) itself. Any other hook that would run on a vendor route (before or after a request, on
    teardown, on the URL values) would be skipped by it: add it to the fast path, then here."""
    app = _app(contract, compiled_routes, fast_path=True)
    scopes = (None, "api")
    before = [f.__qualname__ for scope in scopes for f in app.before_request_funcs.get(scope, [])]
    assert before == ["install_site_guard.<locals>._guard"]
    for hooks in (
        app.after_request_funcs,
        app.teardown_request_funcs,
        app.url_value_preprocessors,
        app.url_default_functions,
    ):
        assert [f for scope in scopes for f in hooks.get(scope, [])] == []
