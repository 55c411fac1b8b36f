"""Cross-site and Host checks, query numbers and 401 wording, in process (no socket).

The served versions of these attacks are in tests/reliability/; these pin the rules themselves.
"""

from __future__ import annotations

import io

import pytest
from flask import Flask
from http_support import plain_client

from simulator.contract.validation import Contract
from simulator.http import ServerConfig, create_app
from simulator.http.site_guard import is_loopback_host


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST:8765", True),
        ("api.localhost:1", True),
        ("127.0.0.1:8765", True),
        ("127.9.9.9", True),
        ("[::1]:8765", True),
        ("[::1]", True),
        ("localhost.", True),
        ("evil.example", False),
        ("evil.example:8765", False),
        ("localhost.evil.example", False),
        ("10.0.0.1", False),
        ("[::2]:80", False),
        ("", False),
    ],
)
def test_which_host_values_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_a_foreign_host_is_refused_on_every_route_when_bound_to_loopback(app: Flask) -> None:
    client = plain_client(app)
    for path in ("/_sandbox/state", "/api/v3/conversation/list", "/no/such/page"):
        answer = client.get(path, headers={"Host": "rebound.example"})
        assert answer.status_code == 403, path
        assert answer.get_data(as_text=True).startswith("Host: 'rebound.example' is not a loopback name")


def test_a_foreign_host_is_refused_however_many_loopback_hosts_came_before(app: Flask) -> None:
    # The guard remembers loopback Host values it has judged; a foreign one must never be let in.
    client = plain_client(app)
    for number in range(40):
        assert client.get("/_sandbox/health", headers={"Host": f"127.0.0.{number}:1"}).status_code == 200
    for _ in range(2):
        assert client.get("/_sandbox/health", headers={"Host": "rebound.example"}).status_code == 403
        assert client.get("/_sandbox/health", headers={"Host": "127.0.0.1:1"}).status_code == 200


def test_bound_elsewhere_any_host_is_served(contract: Contract) -> None:
    app = create_app(ServerConfig(loopback_only=False, admin_token="t"), contract=contract)
    answer = plain_client(app).get(
        "/_sandbox/health", headers={"Host": "sandbox.internal", "Authorization": "bearer t"}
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"Origin": "http://evil.example"}, "Origin"),
        ({"Origin": "http://localhost:3000"}, "Origin"),  # another local app is another site
        ({"Origin": "null"}, "Origin"),
        ({"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site"),
        ({"Sec-Fetch-Site": "same-site"}, "Sec-Fetch-Site"),
        ({"Content-Type": "text/plain"}, "Content-Type"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "Content-Type"),
        ({"Content-Type": "multipart/form-data; boundary=x"}, "Content-Type"),
    ],
)
def test_the_control_plane_refuses_what_another_site_can_send(
    app: Flask, headers: dict[str, str], field: str
) -> None:
    sandbox = app.extensions["dsco_sandbox"]
    sandbox.control_clock({"set": "2024-01-01T00:00:00Z"})
    answer = plain_client(app).post("/_sandbox/clock", headers=headers, data=b'{"advance": 60}')
    assert answer.status_code == 403
    assert answer.get_data(as_text=True).startswith(f"{field}: ")
    assert sandbox.clock_state()["now"] == "2024-01-01T00:00:00.000Z"  # nothing moved


def test_same_origin_and_header_less_calls_are_served(app: Flask) -> None:
    client = plain_client(app)
    same = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/_sandbox/clock", headers=same, json={"advance": 1}).status_code == 200
    assert (
        client.post(
            "/_sandbox/clock", headers={"Origin": "https://localhost"}, json={"advance": 1}
        ).status_code
        == 200
    )
    assert client.post("/_sandbox/reset").status_code == 200  # curl -X POST: no body, no headers
    assert client.post("/_sandbox/reset", headers={"Sec-Fetch-Site": "none"}).status_code == 200


def test_the_vendor_api_keeps_its_own_answers_to_foreign_origins(app: Flask) -> None:
    answer = plain_client(app).post(
        "/api/v3/conversation/list",
        headers={"Origin": "http://evil.example", "Authorization": "bearer retailer-demo-token"},
        json={},
    )
    assert answer.status_code == 200


@pytest.mark.parametrize("raw", ["²", "٣", "-1", "1e3", "9" * 19, "9" * 5000])
@pytest.mark.parametrize("route", ["events?after=", "events?limit=", "notifications?after="])
def test_query_numbers_are_ascii_digits_below_a_bound(app: Flask, route: str, raw: str) -> None:
    answer = plain_client(app).get(f"/_sandbox/{route}{raw}")
    assert answer.status_code == 400
    name = route.split("?")[1].rstrip("=")
    text = answer.get_data(as_text=True)
    assert text.startswith(f"{name}: ") and "whole number" in text and len(text) < 300


@pytest.mark.parametrize(
    "header", ["Bearer\tsbx-secret-value", "sbx-secret-value", "Bearer,sbx-secret-value"]
)
def test_a_malformed_authorization_header_is_not_repeated(app: Flask, header: str) -> None:
    answer = plain_client(app).post("/api/v3/conversation/list", headers={"Authorization": header}, json={})
    assert answer.status_code == 401
    assert "secret-value" not in answer.get_data(as_text=True)
    assert "secret-value" not in str(app.extensions["dsco_sandbox"].journal.entries())


def test_a_scheme_name_is_still_named(app: Flask) -> None:
    answer = plain_client(app).post(
        "/api/v3/conversation/list", headers={"Authorization": "Basic abc"}, json={}
    )
    assert "got a 'Basic' credential" in answer.get_data(as_text=True)


def test_a_chunked_body_over_the_limit_is_413_not_a_truncated_prefix(app: Flask) -> None:
    """What granian hands the app: a terminated stream with no Content-Length."""
    body = b'{"otherPartyTradingPartnerId": "aaa-bbb-ccc", "title": "x"}' + b" " * (1024 * 1024)
    environ = {
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "HTTP_TRANSFER_ENCODING": "chunked",
    }
    answer = plain_client(app).post(
        "/api/v3/conversation",
        headers={"Authorization": "bearer retailer-demo-token", "Content-Type": "application/json"},
        environ_overrides=environ,
    )
    assert answer.status_code == 413
    assert app.extensions["dsco_sandbox"].store.counts() == (0, 0)
