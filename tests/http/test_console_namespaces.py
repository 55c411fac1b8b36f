"""One console for the whole server: each namespace's console under ``/ns/{name}`` keeps its
prefix in every link, form and redirect, has a session of its own, opens to the namespace's own
token, and a switcher in the header lists the server's sandboxes where namespaces exist."""

from __future__ import annotations

import re
from typing import Any

import pytest
from console_support import ORIGIN, csrf, shown
from flask import Flask
from flask.testing import FlaskClient
from http_support import ACCOUNT_IDS, DEFAULT_PARTNER, LEGACY_TOKENS, NORTHWIND, plain_client

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig, create_app
from simulator.http.namespace_control import create_server_app
from simulator.http.namespaces import NamespaceOptions

ADMIN = "server-secret"
NS = "/ns/team-a"
SWITCHER = 'class="sandboxes"'


def server(contract: Contract, admin_token: str | None = None) -> Flask:
    config = ServerConfig(
        sandbox=SandboxConfig(rate_limit=False, lag_min=0, lag_max=0), admin_token=admin_token
    )
    return create_server_app(config, NamespaceOptions(), contract=contract)


def create_namespace(client: FlaskClient, name: str, admin_token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"bearer {admin_token}"} if admin_token else {}
    response = client.post("/_sandbox/namespaces", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    created: dict[str, Any] = response.json  # type: ignore[assignment]
    return created


def api_conversation(client: FlaskClient, prefix: str, title: str) -> None:
    response = client.post(
        f"{prefix}/api/v3/conversation",
        json={"title": title, "otherPartyTradingPartnerId": DEFAULT_PARTNER[NORTHWIND]},
        headers={"Authorization": f"bearer {LEGACY_TOKENS[NORTHWIND]}"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.headers.get("Location"))
    return response.get_data(as_text=True)


def switcher(text: str) -> list[tuple[str, str, bool]]:
    """The switcher's entries: where each leads, its label, and whether it is the current one."""
    found = re.search(r'<details class="sandboxes">.*?</details>', text, re.S)
    assert found, "no switcher on the page"
    return [
        (href, label, bool(current))
        for href, current, label in re.findall(
            r'<a href="([^"]+)"( aria-current="true")?>([^<]+)</a>', found[0]
        )
    ]


def log_in(client: FlaskClient, prefix: str, token: str) -> Any:
    return client.post(
        f"{prefix}/console/login",
        data={
            "csrf": csrf(client, f"{prefix}/console/login"),
            "token": token,
            "next": f"{prefix}/console/journal",
        },
        headers={"Origin": ORIGIN},
    )


# --- where the switcher shows ------------------------------------------------------------------
def test_no_switcher_without_namespaces(app: Flask, contract: Contract) -> None:
    assert SWITCHER not in page(app.test_client(), "/console/conversations")  # a plain create_app
    client = plain_client(server(contract))
    assert SWITCHER not in page(client, "/console/conversations")  # none created yet


def test_the_switcher_lists_every_sandbox_and_leads_to_its_console(contract: Contract) -> None:
    client = plain_client(server(contract))
    create_namespace(client, "team-b")
    create_namespace(client, "team-a")
    expected = [
        ("/console/conversations", "(default)", True),
        ("/ns/team-a/console/conversations", "team-a", False),
        ("/ns/team-b/console/conversations", "team-b", False),
    ]
    assert switcher(page(client, "/console/settings")) == expected
    in_namespace = switcher(page(client, f"{NS}/console/accounts"))
    assert [current for _, _, current in in_namespace] == [False, True, False]
    client.delete("/_sandbox/namespaces/team-b")
    assert [label for _, label, _ in switcher(page(client, "/"))] == ["(default)", "team-a"]


def test_each_console_shows_its_own_sandboxs_conversations(contract: Contract) -> None:
    client = plain_client(server(contract))
    create_namespace(client, "team-a")
    api_conversation(client, NS, "Only in team-a")
    api_conversation(client, "", "Only in the default")
    viewer = f"?as={ACCOUNT_IDS[NORTHWIND]}"
    in_namespace = page(client, f"{NS}/console/conversations{viewer}")
    default = page(client, f"/console/conversations{viewer}")
    assert "Only in team-a" in in_namespace and "Only in the default" not in in_namespace
    assert "Only in the default" in default and "Only in team-a" not in default


# --- the prefix in links, forms, redirects and static files ------------------------------------
def test_every_link_and_form_of_a_namespace_console_keeps_its_prefix(contract: Contract) -> None:
    client = plain_client(server(contract))
    create_namespace(client, "team-a")
    for path in ("/", "/console/conversations", "/console/settings", "/console/personas", "/docs"):
        text = page(client, NS + path)
        targets = re.findall(r'(?:href|action)="(/[^"]*)"', text) + re.findall(
            r'name="next" value="([^"]*)"', text
        )
        switch = {href for href, _, _ in switcher(text)}
        stray = [t for t in targets if not t.startswith(NS + "/") and t not in switch]
        assert not stray, (path, stray)
    assert client.get(f"{NS}/console/static/console.css").status_code == 200
    links = client.get(f"{NS}/", headers={"Accept": "application/json"}).json["links"]  # type: ignore[index]
    assert links == {
        "api": f"{NS}/api/v3",
        "controlPlane": f"{NS}/_sandbox",
        "docs": f"{NS}/docs",
        "console": f"{NS}/console/conversations",
    }


def test_a_namespace_consoles_action_acts_in_that_namespace_and_comes_back_there(contract: Contract) -> None:
    client = plain_client(server(contract))
    create_namespace(client, "team-a")
    form = {
        "as": ACCOUNT_IDS[NORTHWIND],
        "title": "Made in the namespace console",
        "partner": DEFAULT_PARTNER[NORTHWIND],
        "kind": "standard",
        "next": f"{NS}/console/conversations",
    }
    fields = {"csrf": csrf(client, f"{NS}/console/settings"), **form}
    response = client.post(f"{NS}/console/act/create", data=fields, headers={"Origin": ORIGIN})
    assert response.status_code == 303 and response.headers["Location"].startswith(
        f"{NS}/console/conversations/"
    )
    state, _, curl = shown(client, response.headers["Location"])
    assert state == "ok" and f"http://localhost{NS}/api/v3/conversation" in curl
    namespace_app = client.application.extensions["dsco_namespaces"].get("team-a").app
    assert namespace_app.extensions["dsco_sandbox"].store.counts()[0] == 1
    assert client.application.extensions["dsco_sandbox"].store.counts()[0] == 0
    settled = client.post(
        f"{NS}/console/settings/clock",
        data={"csrf": csrf(client, f"{NS}/console/settings"), "command": "advance", "seconds": "60"},
        headers={"Origin": ORIGIN},
    )
    assert settled.headers["Location"] == f"{NS}/console/settings"


def test_each_sandboxs_console_has_its_own_session_cookie(contract: Contract) -> None:
    client = plain_client(server(contract))
    create_namespace(client, "team-a")
    default_token = csrf(client, "/console/settings")
    namespace_token = csrf(client, f"{NS}/console/settings")
    assert default_token != namespace_token
    assert csrf(client, "/console/settings") == default_token  # visiting the namespace kept it
    cookie = client.get_cookie("dsco_console_ns_team-a", path=NS)
    assert cookie is not None and cookie.path == NS and cookie.http_only and cookie.same_site == "Strict"
    refused = client.post(
        f"{NS}/console/settings/clock",
        data={"csrf": default_token, "command": "freeze"},
        headers={"Origin": ORIGIN},
    )
    assert refused.status_code == 403  # one sandbox's form token is not another's


# --- logging in with a token -------------------------------------------------------------------
def test_a_namespace_console_opens_to_its_own_token_and_only_to_it(contract: Contract) -> None:
    client = plain_client(server(contract, ADMIN))
    token = create_namespace(client, "team-a", ADMIN)["token"]
    create_namespace(client, "team-b", ADMIN)
    first = client.get(f"{NS}/console/conversations")
    assert first.status_code == 303
    assert first.headers["Location"] == f"{NS}/console/login?next={NS}/console/conversations"
    response = log_in(client, NS, token)
    assert response.status_code == 303 and response.headers["Location"] == f"{NS}/console/journal"
    assert SWITCHER not in page(client, f"{NS}/console/journal")  # the other namespaces are not its to see
    assert client.get("/console/journal").status_code == 303  # nor is the default sandbox
    assert client.get("/ns/team-b/console/journal").status_code == 303
    assert log_in(client, "", token).status_code == 401
    assert log_in(client, "/ns/team-b", token).status_code == 401


def test_the_servers_token_opens_every_console_and_shows_the_switcher(contract: Contract) -> None:
    client = plain_client(server(contract, ADMIN))
    create_namespace(client, "team-a", ADMIN)
    assert log_in(client, NS, ADMIN).status_code == 303
    assert [label for _, label, _ in switcher(page(client, f"{NS}/console/journal"))] == [
        "(default)",
        "team-a",
    ]
    assert client.get("/console/journal").status_code == 303  # each console logs in on its own
    assert log_in(client, "", ADMIN).status_code == 303
    assert len(switcher(page(client, "/console/journal"))) == 2


@pytest.mark.parametrize("path", ["/console/conversations", "/console/personas"])
def test_a_plain_app_is_unchanged(path: str, contract: Contract) -> None:
    app = create_app(ServerConfig(), contract=contract)
    text = page(app.test_client(), path)
    assert SWITCHER not in text and 'href="/console/journal"' in text
