"""Helpers for the HTTP tests: the default world's names, a checking test client and an API driver.

Every request goes through :class:`CheckedClient`, which fails the test on any 5xx and checks every
answer of a vendor operation against ``contracts/``: the status must be documented for that
operation, a JSON body must match its schema, and a documented non-JSON answer must be text/plain.
The app checks its own successful bodies too (and answers 500 on a violation), so a contract break
anywhere surfaces as a failed test rather than a silent pass.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from simulator.client import DscoClient
from simulator.contract.validation import Contract
from simulator.control_client import ControlClient
from simulator.domain.clock import MICROS, format_rfc3339, parse_rfc3339, seconds
from simulator.domain.operations import API_PREFIX, CONTROL_PREFIX, CONVERSATION_OPERATIONS
from simulator.domain.operations import OPERATIONS as ALL_OPERATIONS
from simulator.domain.sandbox import Sandbox
from simulator.transport import InProcessTransport, Reply

API = API_PREFIX
START_TEXT = "2023-05-01T10:00:00.000Z"
_start = parse_rfc3339(START_TEXT)
assert _start is not None
START: int = _start

# The four accounts of the default world, by client id.
NORTHWIND = "retailer-demo"
CONTOSO = "retailer2-demo"
ACME = "supplier-demo"
GLOBEX = "supplier2-demo"
ACCOUNT_IDS = {NORTHWIND: "1000001", CONTOSO: "1000002", ACME: "2000001", GLOBEX: "2000002"}
LEGACY_TOKENS = {who: f"{who}-token" for who in ACCOUNT_IDS}
# Each account's trading-partner id for its default partner in these tests.
DEFAULT_PARTNER = {
    NORTHWIND: "aaa-bbb-ccc",
    CONTOSO: "acme-for-contoso",
    ACME: "NW-RETAIL",
    GLOBEX: "NORTHWIND",
}

LAG = 1.0
"""Post-processing lag used by the fixtures: fixed, so visibility is exact."""
SETTLE = 6.0
"""Seconds after which anything written is visible with the default ``until`` (lag 1 s, margin 5 s)."""

OPERATIONS = {
    operation: (ALL_OPERATIONS[operation].method, ALL_OPERATIONS[operation].path)
    for operation in CONVERSATION_OPERATIONS
}
"""The conversation operations' method and path under ``API``, from the one operations table."""


class CheckedClient(FlaskClient):
    """A test client that fails on any 5xx and on any answer the contract does not allow."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        check_response(self.application, response)
        return response


def check_response(app: Flask, response: TestResponse) -> None:
    text = response.get_data(as_text=True)
    assert response.status_code < 500, f"server error {response.status}: {text}"
    request = response.request
    if not request.path.startswith(API):
        return
    contract: Contract = app.extensions["dsco_contract"]
    route = request.path[len(API) :]
    matched = next(
        (op for op in contract.operations.values() if op.method == request.method and op.path == route),
        None,
    )
    if matched is None:
        return
    status = str(response.status_code)
    assert status in matched.responses, (
        f"{matched.operation_id} answered {status}, which its contract does not document: {text}"
    )
    if matched.responses[status] is not None:
        assert response.mimetype == "application/json", f"{matched.operation_id} {status}: {text}"
        violations = contract.validate_response(matched.operation_id, response.status_code, response.json)
        assert not violations, f"{matched.operation_id} {status} breaks the contract: {violations}"
    else:
        assert response.mimetype == "text/plain", f"{matched.operation_id} {status}: {response.mimetype}"


def iso(micros: int) -> str:
    return format_rfc3339(micros)


def error_lines(response: TestResponse) -> list[str]:
    """The problems of a text/plain error answer, one per line."""
    assert response.mimetype == "text/plain", response.mimetype
    return response.get_data(as_text=True).strip().splitlines()


class Api:
    """Calls of the vendor API as one of the default world's accounts, plus control of time."""

    def __init__(self, client: FlaskClient, sandbox: Sandbox) -> None:
        self.client = client
        self.sandbox = sandbox
        self._clients: dict[str, DscoClient] = {}

    # --- time --------------------------------------------------------------------------------
    def now(self) -> int:
        return self.sandbox.clock.now()

    def now_iso(self, offset: float = 0.0) -> str:
        return iso(self.now() + seconds(offset))

    def advance(self, secs: float) -> None:
        self.sandbox.clock.advance(seconds(secs))

    def settle(self) -> None:
        """Let everything written so far become visible to list calls with the default ``until``."""
        self.advance(SETTLE)

    # --- credentials -------------------------------------------------------------------------
    def fetch_token(self, who: str, secret: str | None = None) -> TestResponse:
        form = {
            "grant_type": "client_credentials",
            "client_id": who,
            "client_secret": secret or f"{who}-secret",
        }
        token = ALL_OPERATIONS["getAccessToken"]
        return self.client.open(f"{API}{token.path}", method=token.method, data=form)

    def api_client(self, who: str) -> DscoClient:
        """``who``'s typed client through this test client: its token is fetched once and cached."""
        if who not in self._clients:
            self._clients[who] = DscoClient.in_process(
                self.client.application, who, f"{who}-secret", client=self.client
            )
        return self._clients[who]

    def token(self, who: str) -> str:
        return self.api_client(who).access_token()

    def tokens(self) -> dict[str, str]:
        """The tokens fetched so far, by account."""
        return {who: client.access_token() for who, client in self._clients.items()}

    def adopt_tokens(self, tokens: Mapping[str, str]) -> None:
        """Use ``tokens`` (another :class:`Api`'s) as if this one had fetched them."""
        for who, token in tokens.items():
            self.api_client(who).adopt_token({"access_token": token})

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"bearer {self.token(who)}"}

    # --- raw calls ---------------------------------------------------------------------------
    def call(self, operation: str, who: str, body: Any, **kwargs: Any) -> TestResponse:
        method, path = OPERATIONS[operation]
        headers = {**self.auth(who), **kwargs.pop("headers", {})}
        return self.client.open(f"{API}{path}", method=method, json=body, headers=headers, **kwargs)

    def create(self, who: str, body: Mapping[str, Any]) -> TestResponse:
        return self.call("createConversation", who, dict(body))

    def update(self, who: str, body: Mapping[str, Any]) -> TestResponse:
        return self.call("updateConversation", who, dict(body))

    def post_message(self, who: str, body: Mapping[str, Any]) -> TestResponse:
        return self.call("addConversationMessage", who, dict(body))

    def list_conversations(self, who: str, body: Mapping[str, Any] | None = None) -> TestResponse:
        return self.call("getConversations", who, dict(body or {}))

    def list_messages(self, who: str, body: Mapping[str, Any] | None = None) -> TestResponse:
        return self.call("getConversationMessages", who, dict(body or {}))

    # --- checked shortcuts -------------------------------------------------------------------
    def conversation(self, who: str = NORTHWIND, **fields: Any) -> dict[str, Any]:
        """Create a conversation (with the caller's default partner unless told) and return it."""
        body: dict[str, Any] = {"title": "A question"}
        if "otherPartyDscoAccountId" not in fields:
            body["otherPartyTradingPartnerId"] = DEFAULT_PARTNER[who]
        body.update(fields)
        response = self.create(who, body)
        assert response.status_code == 201, response.get_data(as_text=True)
        return _json_object(response)

    def customer_care(self, consumer_id: str = "12345", **fields: Any) -> dict[str, Any]:
        fields.setdefault("type", {"type": "customer_care", "consumerId": consumer_id})
        return self.conversation(NORTHWIND, **fields)

    def message(self, who: str, conversation_id: str, text: str = "Hello") -> dict[str, Any]:
        response = self.post_message(who, {"dscoConversationId": conversation_id, "message": text})
        assert response.status_code == 201, response.get_data(as_text=True)
        return _json_object(response)

    def changed(self, who: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = self.update(who, body)
        assert response.status_code == 200, response.get_data(as_text=True)
        return _json_object(response)

    def conversations(self, who: str, body: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """All conversations a query finds (following scrollIds)."""
        return self._all("getConversations", "conversations", who, body)

    def messages(self, who: str, body: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """All messages a query finds (following scrollIds)."""
        return self._all("getConversationMessages", "messages", who, body)

    def conversation_ids(self, who: str, body: Mapping[str, Any] | None = None) -> list[str]:
        return [c["id"] for c in self.conversations(who, body)]

    def message_ids(self, who: str, body: Mapping[str, Any] | None = None) -> list[str]:
        return [m["dscoMessageId"] for m in self.messages(who, body)]

    def _all(
        self, operation: str, key: str, who: str, body: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        pages = 0
        for reply in self.api_client(who).pages(operation, dict(body or {}), raw=True, renew=False):
            assert reply.status == 200, reply.text
            found.extend(reply.body[key])
            pages += 1
        assert pages < 1000, "a scroll that never ends"
        return found

    def snapshot(self) -> str:
        """Everything every account can see, for checking that a refused request changed nothing."""
        self.advance(SETTLE)
        seen = {
            who: (
                # updatedSince from long ago finds every conversation, in strict mode too.
                self.conversations(who, {"test": "all", "updatedSince": "2000-01-01T00:00:00Z"}),
                self.messages(who, {"test": "all"}),
            )
            for who in ACCOUNT_IDS
        }
        return json.dumps({"counts": self.sandbox.store.counts(), "seen": seen}, sort_keys=True)


def _json_object(response: TestResponse) -> dict[str, Any]:
    body = response.json
    assert isinstance(body, dict), body
    return body


__all__ = [
    "ACCOUNT_IDS",
    "ACME",
    "API",
    "CONTOSO",
    "DEFAULT_PARTNER",
    "GLOBEX",
    "LAG",
    "LEGACY_TOKENS",
    "MICROS",
    "NORTHWIND",
    "OPERATIONS",
    "SETTLE",
    "START",
    "START_TEXT",
    "Api",
    "CheckedClient",
    "check_response",
    "error_lines",
    "iso",
]


# --- the control plane (/_sandbox) -------------------------------------------------------------
CONTROL = CONTROL_PREFIX


def plain_client(app: Flask) -> FlaskClient:
    """A test client that checks nothing: for tests that inject a 5xx (or another status the
    contract does not document) on purpose, which :class:`CheckedClient` would fail."""
    return FlaskClient(app, app.response_class, use_cookies=True)


def schema_problems(app: Flask, schema: str, document: Any) -> list[str]:
    """Why ``document`` breaks ``contracts/schemas/<schema>``, one line each (empty when it fits)."""
    contract: Contract = app.extensions["dsco_contract"]
    return [str(v) for v in contract.validate(contract.schema_uri(f"schemas/{schema}"), document)]


class Control(ControlClient):
    """The control-plane client through a test client (a checking one, usually): the raw calls
    answer the test client's response; the shortcuts require a 200 and return its JSON."""

    def __init__(self, client: FlaskClient) -> None:
        super().__init__(InProcessTransport(client.application, client=client))
        self.client = client

    # --- raw calls ---------------------------------------------------------------------------
    def clock_command(self, body: Any) -> TestResponse:
        return _response(self.request("controlClock", json=body))

    def put_config(self, body: Any) -> TestResponse:
        return _response(self.request("updateConfig", json=body))

    def put_state(self, document: Any) -> TestResponse:
        return _response(self.request("importState", json=document))

    def get(self, route: str, **query: Any) -> TestResponse:
        return self.client.get(f"{CONTROL}/{route}", query_string=query)

    # --- checked shortcuts -------------------------------------------------------------------
    def _ok(self, operation_id: str, reply: Reply, name: str | None = None) -> Any:
        assert reply.status == 200, reply.text
        return reply.body

    def configure(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("updateConfig", json=dict(changes))
        return found

    def export(self) -> dict[str, Any]:
        return self.export_state()


def _response(reply: Reply) -> TestResponse:
    response = reply.raw
    assert isinstance(response, TestResponse)
    return response


__all__ += ["CONTROL", "Control", "plain_client", "schema_problems"]
