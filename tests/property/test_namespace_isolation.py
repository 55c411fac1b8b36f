"""Namespaces are isolated: random operations spread over three namespaces of one server leave each
exactly as a sandbox of its own would be after only its share of them.

The model of a namespace is a separate, ordinary sandbox (its own app, same world and seed) that
receives only that namespace's operations. All three namespaces use the same world and seed, so
their account ids, the reference ids chosen from small pools and even the generated conversation
ids overlap: any leak between them would show as a difference from the model. Each operation's
answer must equal the model's, and after each operation the touched namespace's whole state
(conversations, messages, clock, settings, faults, the seeded generators) and notifications must
equal the model's. Access tokens are random, never seeded, so none can work in another namespace (no
token is issued here; the callers use legacy tokens).

Bounded by the registered Hypothesis profile (``ci``: 50 examples).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig, create_app
from simulator.http.namespace_control import create_server_app

pytestmark = pytest.mark.slow

NAMESPACES = ("alpha", "beta", "gamma")
START = "2023-05-01T10:00:00Z"
CONTRACT = Contract()
CONFIG = SandboxConfig(rate_limit=False, lag_min=0.5, lag_max=2.0, seed=3)
CALLERS = {  # legacy token and a trading-partner reference of the caller's
    "northwind": ("retailer-demo-token", "aaa-bbb-ccc"),
    "contoso": ("retailer2-demo-token", "acme-for-contoso"),
    "acme": ("supplier-demo-token", "NW-RETAIL"),
}
CONSUMERS = ("12345", "67890")
ORDERS = ("123-456-789", "PO-1")

operation = st.one_of(
    st.tuples(
        st.just("create"),
        st.sampled_from(NAMESPACES),
        st.sampled_from(sorted(CALLERS)),
        st.sampled_from(CONSUMERS),
        st.sampled_from(ORDERS),
    ),
    st.tuples(
        st.just("message"), st.sampled_from(NAMESPACES), st.integers(0, 5), st.sampled_from(("hi", "ok"))
    ),
    st.tuples(
        st.just("list"),
        st.sampled_from(NAMESPACES),
        st.sampled_from(sorted(CALLERS)),
        st.sampled_from(CONSUMERS),
    ),
    st.tuples(st.just("advance"), st.sampled_from(NAMESPACES), st.sampled_from((1, 3, 30))),
    st.tuples(st.just("config"), st.sampled_from(NAMESPACES), st.integers(1, 3)),
    st.tuples(st.just("fault"), st.sampled_from(NAMESPACES)),
    st.tuples(st.just("reset"), st.sampled_from(NAMESPACES)),
)


def _start(client: FlaskClient, prefix: str) -> None:
    for command in ({"freeze": True}, {"set": START}):
        assert client.post(f"{prefix}/_sandbox/clock", json=command).status_code == 200


def _apply(client: FlaskClient, prefix: str, op: tuple[Any, ...], ids: list[str]) -> tuple[int, Any]:
    """Run one operation on the sandbox at ``prefix``; its status and body (JSON or text)."""
    kind = op[0]
    if kind == "create":
        token, partner = CALLERS[op[2]]
        body = {
            "title": f"about {op[4]}",
            "otherPartyTradingPartnerId": partner,
            "type": {"type": "customer_care", "consumerId": op[3]},
            "context": {"type": "order", "poNumber": op[4]},
            "initialMessage": {"message": "Where is it?"},
        }
        response = client.post(f"{prefix}/api/v3/conversation", json=body, headers=_bearer(token))
        if response.status_code == 201:
            ids.append(response.json["id"])  # type: ignore[index]
    elif kind == "message":
        target = ids[op[2] % len(ids)] if ids else "00000000-0000-4000-8000-000000000000"
        response = client.post(
            f"{prefix}/api/v3/conversation/message",
            json={"dscoConversationId": target, "message": op[3]},
            headers=_bearer(CALLERS["northwind"][0]),
        )
    elif kind == "list":
        response = client.post(
            f"{prefix}/api/v3/conversation/list",
            json={"type": "customer_care", "consumerId": op[3]},
            headers=_bearer(CALLERS[op[2]][0]),
        )
    elif kind == "advance":
        response = client.post(f"{prefix}/_sandbox/clock", json={"advance": op[2]})
    elif kind == "config":
        response = client.put(f"{prefix}/_sandbox/config", json={"pageSize": op[2]})
    elif kind == "fault":
        fault = {"faults": {"getConversations": {"forceStatus": 503, "forceCount": 1}}}
        response = client.put(f"{prefix}/_sandbox/config", json=fault)
    else:
        response = client.post(f"{prefix}/_sandbox/reset")
        ids.clear()
    return response.status_code, response.json if response.is_json else response.get_data(as_text=True)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"bearer {token}"}


def _observed(client: FlaskClient, prefix: str) -> dict[str, Any]:
    """Everything a client can see of one sandbox's state."""
    state = client.get(f"{prefix}/_sandbox/state").json
    assert state is not None
    del state["world"]  # no operation here changes it; comparing 30 KB of it per step only costs time
    return {"state": state, "notifications": client.get(f"{prefix}/_sandbox/notifications").json}


def _model() -> Flask:
    return create_app(ServerConfig(sandbox=SandboxConfig(**vars(CONFIG))), contract=CONTRACT)


@given(st.lists(operation, min_size=1, max_size=25))
def test_each_namespace_behaves_as_a_sandbox_of_its_own(operations: list[tuple[Any, ...]]) -> None:
    server = create_server_app(
        ServerConfig(sandbox=SandboxConfig(**vars(CONFIG))), contract=CONTRACT
    ).test_client()
    models = {name: _model().test_client() for name in NAMESPACES}
    ids: dict[tuple[str, str], list[str]] = {}
    for name in NAMESPACES:
        assert server.post("/_sandbox/namespaces", json={"name": name}).status_code == 201
        _start(server, f"/ns/{name}")
        _start(models[name], "")
    for op in operations:
        name = op[1]
        got = _apply(server, f"/ns/{name}", op, ids.setdefault(("server", name), []))
        expected = _apply(models[name], "", op, ids.setdefault(("model", name), []))
        assert got == expected, op
        assert _observed(server, f"/ns/{name}") == _observed(models[name], ""), op
    for name in NAMESPACES:
        assert _observed(server, f"/ns/{name}") == _observed(models[name], "")
    assert server.get("/_sandbox/state").json["conversations"] == []  # type: ignore[index]
