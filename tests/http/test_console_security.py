"""Who may use the console: loopback only without an admin token, a login with one; and no form
is accepted from another site (CSRF token and same-origin checks)."""

from __future__ import annotations

import re

import pytest
from console_support import ORIGIN, csrf, post_form
from flask import Flask
from flask.testing import FlaskClient
from http_support import CheckedClient

from simulator.http import ServerConfig, create_app

REMOTE = {"REMOTE_ADDR": "192.0.2.7"}
PAGES = ("/console/conversations", "/console/accounts", "/console/journal", "/console/settings")


@pytest.fixture
def guarded() -> Flask:
    app = create_app(ServerConfig(admin_token="s3cret-admin"))
    app.test_client_class = CheckedClient
    return app


def log_in(client: FlaskClient, token: str, **headers: str) -> object:
    page = client.get("/console/login").get_data(as_text=True)
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return client.post(
        "/console/login",
        data={"csrf": match.group(1), "token": token, "next": "/console/journal"},
        headers={"Origin": headers.get("Origin", ORIGIN)},
    )


@pytest.mark.parametrize("page", PAGES)
def test_without_a_token_only_loopback_clients_get_the_console(app: Flask, page: str) -> None:
    assert app.test_client().get(page).status_code == 200
    remote = app.test_client().get(page, environ_base=REMOTE)
    assert remote.status_code == 403
    assert "loopback clients only" in remote.get_data(as_text=True)
    assert "--admin-token" in remote.get_data(as_text=True)


def test_the_landing_page_answers_everyone_but_shows_the_sandbox_only_to_console_users(app: Flask) -> None:
    remote = app.test_client().get("/", environ_base=REMOTE).get_data(as_text=True)
    assert "/api/v3" in remote and "Conversations</dt>" not in remote
    assert "Conversations</dt>" in app.test_client().get("/").get_data(as_text=True)


@pytest.mark.parametrize("page", PAGES)
def test_with_a_token_every_page_asks_for_a_login_first(guarded: Flask, page: str) -> None:
    response = guarded.test_client().get(page)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/console/login?next=")


def test_logging_in_with_the_token_opens_the_console_to_any_address(guarded: Flask) -> None:
    client = guarded.test_client()
    client.environ_base.update(REMOTE)
    response = log_in(client, "s3cret-admin")
    assert response.status_code == 303 and response.headers["Location"] == "/console/journal"  # type: ignore[attr-defined]
    cookie = client.get_cookie("dsco_console")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    assert client.get("/console/settings").status_code == 200
    client.post("/console/logout", data={"csrf": csrf(client)}, headers={"Origin": ORIGIN})
    assert client.get("/console/settings").status_code == 303


def test_a_wrong_token_is_refused_with_a_reason(guarded: Flask) -> None:
    client = guarded.test_client()
    response = log_in(client, "guess")
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert "not the admin token" in response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert client.get("/console/settings").status_code == 303


def test_the_login_form_itself_refuses_a_cross_site_post(guarded: Flask) -> None:
    client = guarded.test_client()
    assert log_in(client, "s3cret-admin", Origin="http://evil.example").status_code == 403  # type: ignore[attr-defined]
    assert client.get("/console/settings").status_code == 303


def test_a_login_only_goes_back_to_a_page_of_this_server(guarded: Flask) -> None:
    client = guarded.test_client()
    page = client.get("/console/login?next=//evil.example/x").get_data(as_text=True)
    assert 'value="/console/conversations"' in page


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"Origin": "http://evil.example"}, "Origin: 'http://evil.example' is another site"),
        ({"Origin": "null"}, "Origin: 'null' is another site"),
        ({"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site: 'cross-site'"),
        ({"Sec-Fetch-Site": "same-site"}, "Sec-Fetch-Site: 'same-site'"),
        ({"Origin": "", "Referer": "http://evil.example/page"}, "Referer"),
    ],
)
def test_a_cross_site_form_post_is_refused_and_changes_nothing(
    app: Flask, headers: dict[str, str], why: str
) -> None:
    client = app.test_client()
    token = csrf(client)
    sent = dict(headers)
    if sent.get("Origin") == "":
        del sent["Origin"]
    response = client.post(
        "/console/settings/clock", data={"csrf": token, "command": "advance", "seconds": "60"}, headers=sent
    )
    assert response.status_code == 403
    assert why in response.get_data(as_text=True)
    assert app.extensions["dsco_sandbox"].clock_state()["now"] == "2023-05-01T10:00:00.000Z"


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_form_without_this_sessions_csrf_token_is_refused(app: Flask, token: str | None) -> None:
    client = app.test_client()
    csrf(client)  # the session has a token; the form does not carry it
    data = {"command": "advance", "seconds": "60"} | ({} if token is None else {"csrf": token})
    response = client.post("/console/settings/clock", data=data, headers={"Origin": ORIGIN})
    assert response.status_code == 403
    assert "CSRF token is missing or stale" in response.get_data(as_text=True)
    assert app.extensions["dsco_sandbox"].clock_state()["now"] == "2023-05-01T10:00:00.000Z"


def test_another_sessions_csrf_token_does_not_work(app: Flask) -> None:
    stolen = csrf(app.test_client())
    victim = app.test_client()
    csrf(victim)
    data = {"csrf": stolen, "command": "advance", "seconds": "60"}
    assert victim.post("/console/settings/clock", data=data, headers={"Origin": ORIGIN}).status_code == 403


def test_a_same_origin_post_with_the_token_goes_through(app: Flask) -> None:
    client = app.test_client()
    response = post_form(
        client,
        "/console/settings/clock",
        {"command": "advance", "seconds": "60"},
        **{"Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303
    assert app.extensions["dsco_sandbox"].clock_state()["now"] == "2023-05-01T10:01:00.000Z"
