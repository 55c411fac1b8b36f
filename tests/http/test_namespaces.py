"""Namespaces: independent sandboxes under ``/ns/{name}``, created, listed and dropped through
``/_sandbox/namespaces``, while the root paths stay the default sandbox."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from http_support import ACCOUNT_IDS, DEFAULT_PARTNER, LEGACY_TOKENS, NORTHWIND, plain_client, schema_problems

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig
from simulator.http.namespace_control import create_server_app
from simulator.http.namespaces import NamespaceOptions
from simulator.loading.resources import default_world_path
from simulator.storage.namespace_store import NamespaceFolder

ADMIN = {"Authorization": "bearer server-secret"}
NAMESPACES = "/_sandbox/namespaces"


def _server(contract: Contract, admin_token: str | None = None, **options: Any) -> Flask:
    config = ServerConfig(
        sandbox=SandboxConfig(rate_limit=False, lag_min=0, lag_max=0), admin_token=admin_token
    )
    return create_server_app(config, NamespaceOptions(**options), contract=contract)


@pytest.fixture
def server(contract: Contract) -> Flask:
    return _server(contract)


@pytest.fixture
def web(server: Flask) -> FlaskClient:
    return plain_client(server)


def _create(web: FlaskClient, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = web.post(NAMESPACES, json=body, headers=headers or {})
    assert response.status_code == 201, response.get_data(as_text=True)
    found: dict[str, Any] = response.json  # type: ignore[assignment]
    return found


def _conversation(web: FlaskClient, prefix: str, title: str, who: str = NORTHWIND) -> Any:
    return web.post(
        f"{prefix}/api/v3/conversation",
        json={"title": title, "otherPartyTradingPartnerId": DEFAULT_PARTNER[who]},
        headers={"Authorization": f"bearer {LEGACY_TOKENS[who]}"},
    )


def _titles(web: FlaskClient, prefix: str) -> list[str]:
    state = web.get(f"{prefix}/_sandbox/state").json
    assert state is not None
    return sorted(c["title"] for c in state["conversations"])


def test_a_namespace_is_created_with_its_urls_and_serves_the_api_apart_from_the_default(
    server: Flask, web: FlaskClient
) -> None:
    created = _create(web, {"name": "team-a"})
    assert created["apiUrl"] == "http://localhost/ns/team-a/api/v3"
    assert created["controlUrl"] == "http://localhost/ns/team-a/_sandbox"
    assert "token" not in created  # the server has no admin token, so neither has the namespace
    assert schema_problems(server, "sandbox-namespace.json", created) == []
    assert _conversation(web, "/ns/team-a", "in a").status_code == 201
    assert _conversation(web, "", "in default").status_code == 201
    assert _titles(web, "/ns/team-a") == ["in a"]
    assert _titles(web, "") == ["in default"]
    assert web.post("/ns/team-a/_sandbox/reset").status_code == 200
    assert _titles(web, "/ns/team-a") == [] and _titles(web, "") == ["in default"]


def test_the_clock_and_settings_of_a_namespace_are_its_own(web: FlaskClient) -> None:
    _create(web, {"name": "slow", "settings": {"pageSize": 3}})
    web.post("/ns/slow/_sandbox/clock", json={"set": "2030-01-01T00:00:00Z"})
    assert web.get("/ns/slow/_sandbox/clock").json["now"].startswith("2030-01-01")  # type: ignore[index]
    assert not web.get("/_sandbox/clock").json["now"].startswith("2030")  # type: ignore[index]
    assert web.get("/ns/slow/_sandbox/config").json["pageSize"] == 3  # type: ignore[index]
    assert web.get("/_sandbox/config").json["pageSize"] == 100  # type: ignore[index]


def test_an_access_token_of_one_namespace_is_refused_everywhere_else(web: FlaskClient) -> None:
    _create(web, {"name": "a"})
    _create(web, {"name": "b"})  # the same world and seed: ids may repeat, tokens must not work across
    form = {
        "grant_type": "client_credentials",
        "client_id": NORTHWIND,
        "client_secret": "retailer-demo-secret",
    }
    issued = web.post("/ns/a/api/v3/oauth2/token", data=form)
    assert issued.status_code == 200, issued.get_data(as_text=True)
    bearer = {"Authorization": f"bearer {issued.json['access_token']}"}  # type: ignore[index]
    body = {"title": "t", "otherPartyTradingPartnerId": DEFAULT_PARTNER[NORTHWIND]}
    assert web.post("/ns/a/api/v3/conversation", json=body, headers=bearer).status_code == 201
    assert web.post("/ns/b/api/v3/conversation", json=body, headers=bearer).status_code == 401
    assert web.post("/api/v3/conversation", json=body, headers=bearer).status_code == 401


def test_a_namespace_token_opens_its_own_control_plane_only(contract: Contract) -> None:
    web = plain_client(_server(contract, admin_token="server-secret"))
    assert web.post(NAMESPACES, json={"name": "a"}).status_code == 401
    token_a = _create(web, {"name": "a"}, ADMIN)["token"]
    token_b = _create(web, {"name": "b"}, ADMIN)["token"]
    assert token_a != token_b
    as_a = {"Authorization": f"bearer {token_a}"}
    assert web.post("/ns/a/_sandbox/reset", headers=as_a).status_code == 200
    assert web.post("/ns/b/_sandbox/reset", headers=as_a).status_code == 401
    assert web.post("/_sandbox/reset", headers=as_a).status_code == 401
    assert web.get(NAMESPACES, headers=as_a).status_code == 401
    assert web.delete(f"{NAMESPACES}/b", headers=as_a).status_code == 401
    assert web.post("/ns/b/_sandbox/reset", headers=ADMIN).status_code == 200  # the server's opens all
    assert web.post("/ns/a/_sandbox/reset").status_code == 401


def test_listing_shows_size_last_use_and_memory(server: Flask, web: FlaskClient) -> None:
    _create(web, {"name": "busy"})
    _create(web, {"name": "empty", "idleTtl": 60})
    _conversation(web, "/ns/busy", "one")
    listing = web.get(NAMESPACES).json
    assert listing is not None
    assert listing["limit"] == 100 and listing["defaultIdleTtl"] == 3600
    busy, empty = listing["namespaces"]
    assert (busy["name"], busy["conversations"], busy["messages"]) == ("busy", 1, 0)
    assert (empty["name"], empty["conversations"], empty["idleTtl"]) == ("empty", 0, 60)
    assert busy["lastUsedAt"] >= empty["lastUsedAt"]
    assert 0 < empty["memoryBytes"] < busy["memoryBytes"]
    for item in listing["namespaces"]:
        assert schema_problems(server, "sandbox-namespace.json", item) == []
    one = web.get(f"{NAMESPACES}/busy").json
    assert one is not None and (one["name"], one["conversations"]) == ("busy", 1)


def test_deleting_drops_the_namespace_and_its_urls(web: FlaskClient) -> None:
    _create(web, {"name": "gone"})
    assert web.delete(f"{NAMESPACES}/gone").status_code == 200
    assert web.get("/ns/gone/_sandbox/health").status_code == 404
    assert [n["name"] for n in web.get(NAMESPACES).json["namespaces"]] == []  # type: ignore[index]
    _create(web, {"name": "gone"})  # the name is free again


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            lambda web: web.get("/ns/nowhere/api/v3/conversation/list"),
            'namespace "nowhere": no such namespace',
        ),
        (lambda web: web.get(f"{NAMESPACES}/nowhere"), "name: namespace 'nowhere': no such namespace"),
        (lambda web: web.delete(f"{NAMESPACES}/nowhere"), "name: namespace 'nowhere': no such namespace"),
    ],
)
def test_an_unknown_namespace_is_404_naming_it(
    web: FlaskClient, call: Callable[[FlaskClient], Any], expected: str
) -> None:
    response = call(web)
    assert response.status_code == 404
    assert response.get_data(as_text=True).startswith(expected)


def test_an_existing_name_is_409_and_changes_nothing(web: FlaskClient) -> None:
    _create(web, {"name": "dup"})
    _conversation(web, "/ns/dup", "kept")
    response = web.post(NAMESPACES, json={"name": "dup", "settings": {"pageSize": 2}})
    assert response.status_code == 409
    assert "name: a namespace called 'dup' exists already" in response.get_data(as_text=True)
    assert _titles(web, "/ns/dup") == ["kept"]
    assert web.get("/ns/dup/_sandbox/config").json["pageSize"] == 100  # type: ignore[index]


def test_the_cap_refuses_one_more_namespace(contract: Contract) -> None:
    web = plain_client(_server(contract, cap=2))
    _create(web, {"name": "one"})
    _create(web, {"name": "two"})
    response = web.post(NAMESPACES, json={"name": "three"})
    assert response.status_code == 409
    assert "holds 2 namespaces, its limit" in response.get_data(as_text=True)
    web.delete(f"{NAMESPACES}/one")
    _create(web, {"name": "three"})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "Upper"}, "name: 'Upper' does not match"),
        ({"name": "a/b"}, "name: 'a/b' does not match"),
        ({}, "name: required field is missing"),
        ({"name": "x", "idleTtl": 0}, "idleTtl:"),
        ({"name": "x", "world": "mars"}, "world:"),
        ({"name": "x", "settings": {"pageSize": 0}}, "settings.pageSize:"),
        ({"name": "x", "tll": 5}, "tll"),
        (
            {"name": "x", "world": {"format": "dsco-sandbox-world"}},
            "world: version: required field is missing",
        ),
    ],
)
def test_bad_creation_requests_are_400_and_create_nothing(
    web: FlaskClient, body: dict[str, Any], expected: str
) -> None:
    response = web.post(NAMESPACES, json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert expected in response.get_data(as_text=True)
    assert web.get(NAMESPACES).json["namespaces"] == []  # type: ignore[index]


def _world_with_webhook(url: str) -> dict[str, Any]:
    world: dict[str, Any] = json.loads(default_world_path().read_text("utf-8"))
    world = copy.deepcopy(world)
    account = next(a for a in world["accounts"] if a["dscoAccountId"] == ACCOUNT_IDS["supplier-demo"])
    account["webhook"] = {"url": url, "secret": "s3cret"}
    return world


def test_a_posted_world_may_name_loopback_webhooks_only(contract: Contract, web: FlaskClient) -> None:
    response = web.post(NAMESPACES, json={"name": "w", "world": _world_with_webhook("http://10.0.0.5/hook")})
    assert response.status_code == 400
    assert "webhook.url: 'http://10.0.0.5/hook' is not a loopback address" in response.get_data(as_text=True)
    assert web.get("/ns/w/_sandbox/health").status_code == 404
    _create(web, {"name": "w", "world": _world_with_webhook("http://127.0.0.1:9/hook")})
    allowing = plain_client(_server(contract, allow_webhook_hosts=True))
    _create(allowing, {"name": "w", "world": _world_with_webhook("http://10.0.0.5/hook")})


def test_a_world_imported_later_cannot_send_webhooks_elsewhere_either(web: FlaskClient) -> None:
    _create(web, {"name": "w"})
    state = web.get("/ns/w/_sandbox/state").json
    assert state is not None
    state["world"] = _world_with_webhook("http://192.0.2.1/hook")
    assert web.put("/ns/w/_sandbox/state", json=state).status_code == 200
    created = _conversation(web, "/ns/w", "ping")
    assert created.status_code == 201
    posted = web.post(
        "/ns/w/api/v3/conversation/message",
        json={"dscoConversationId": created.json["id"], "message": "Hello"},
        headers={"Authorization": f"bearer {LEGACY_TOKENS[NORTHWIND]}"},
    )
    assert posted.status_code == 201, posted.get_data(as_text=True)
    deliveries = web.get("/ns/w/_sandbox/events", query_string={"kind": "webhook"}).json["events"]  # type: ignore[index]
    assert [d["delivery"]["error"] for d in deliveries] == [
        "refused: this server delivers webhooks to loopback addresses only"
    ]


def test_idle_namespaces_expire_after_their_ttl(contract: Contract) -> None:
    now = [1_000_000.0]
    web = plain_client(_server(contract, default_ttl=600, wall=lambda: now[0]))
    _create(web, {"name": "short", "idleTtl": 30})
    _create(web, {"name": "long"})
    now[0] += 20
    assert web.get("/ns/short/_sandbox/health").status_code == 200  # used: its 30 s start again
    now[0] += 29
    assert [n["name"] for n in web.get(NAMESPACES).json["namespaces"]] == ["long", "short"]  # type: ignore[index]
    now[0] += 2
    assert [n["name"] for n in web.get(NAMESPACES).json["namespaces"]] == ["long"]  # type: ignore[index]
    assert web.get("/ns/short/_sandbox/health").status_code == 404
    now[0] += 600
    assert web.get("/ns/long/_sandbox/health").status_code == 404


def test_saved_namespaces_come_back_with_their_data_and_deleted_ones_do_not(
    contract: Contract, tmp_path: Path
) -> None:
    store = NamespaceFolder.beside(tmp_path / "state.json")
    web = plain_client(_server(contract, admin_token="server-secret", store=store))
    token = _create(web, {"name": "kept", "settings": {"pageSize": 7}}, ADMIN)["token"]
    _create(web, {"name": "dropped"}, ADMIN)
    assert _conversation(web, "/ns/kept", "survives").status_code == 201
    web.delete(f"{NAMESPACES}/dropped", headers=ADMIN)
    assert sorted(p.name for p in store.folder.iterdir()) == ["kept.json"]

    again = plain_client(_server(contract, admin_token="server-secret", store=store))
    as_kept = {"Authorization": f"bearer {token}"}
    state = again.get("/ns/kept/_sandbox/state", headers=as_kept).json
    assert state is not None
    assert [c["title"] for c in state["conversations"]] == ["survives"]
    assert state["config"]["pageSize"] == 7
    assert again.get("/ns/dropped/_sandbox/health", headers=ADMIN).status_code == 404


def test_a_broken_saved_namespace_refuses_to_start(contract: Contract, tmp_path: Path) -> None:
    store = NamespaceFolder(tmp_path / "ns")
    store.folder.mkdir()
    (store.folder / "bad.json").write_text('{"format": "something else"}', "utf-8")
    with pytest.raises(ValueError, match=r"bad\.json: not a saved namespace"):
        _server(contract, store=store)


def test_credentials_of_a_posted_world_are_valid_in_its_namespace_only(web: FlaskClient) -> None:
    world: dict[str, Any] = json.loads(default_world_path().read_text("utf-8"))
    retailer = next(a for a in world["accounts"] if a["dscoAccountId"] == ACCOUNT_IDS[NORTHWIND])
    retailer.update(clientId="own-retailer", clientSecret="own-secret", legacyToken="own-legacy-token")
    _create(web, {"name": "own", "world": world})
    body = {"title": "t", "otherPartyTradingPartnerId": DEFAULT_PARTNER[NORTHWIND]}
    legacy = {"Authorization": "bearer own-legacy-token"}
    assert web.post("/ns/own/api/v3/conversation", json=body, headers=legacy).status_code == 201
    assert web.post("/api/v3/conversation", json=body, headers=legacy).status_code == 401
    form = {"grant_type": "client_credentials", "client_id": "own-retailer", "client_secret": "own-secret"}
    assert web.post("/ns/own/api/v3/oauth2/token", data=form).status_code == 200
    assert web.post("/api/v3/oauth2/token", data=form).status_code == 401
