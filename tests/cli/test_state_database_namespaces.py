"""``serve --state-file F.db`` keeps every namespace in the database itself, one row each: a
restarted server brings each back with its conversations, clock, settings, tokens and personas,
and a deleted namespace leaves no row behind."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from serve_support import start

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "bearer root-token"}
FORM = {
    "grant_type": "client_credentials",
    "client_id": "retailer-demo",
    "client_secret": "retailer-demo-secret",
}
FUTURE = "2031-02-03T04:05:06.000Z"
SUPPLIER = {"supplier": {"accounts": ["2000001"]}}
RETAILER = {"retailer": {"accounts": ["1000002"]}}


def _rows(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [name for (name,) in connection.execute("SELECT name FROM namespaces ORDER BY name")]


def test_namespaces_live_in_the_database_and_survive_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    options = ("--state-file", str(database), "--admin-token", "root-token", "--no-rate-limit")
    first = start(*options)
    try:
        base = first.base_url
        own = {}
        for name in ("kept", "dropped"):
            created = requests.post(
                f"{base}/_sandbox/namespaces",
                json={"name": name, "settings": {"pageSize": 3}},
                headers=ADMIN,
                timeout=10,
            )
            assert created.status_code == 201, created.text
            own[name] = {"Authorization": f"bearer {created.json()['token']}"}
        ns = f"{base}/ns/kept"
        for clock in ({"freeze": True}, {"set": FUTURE}):
            moved = requests.post(f"{ns}/_sandbox/clock", json=clock, headers=own["kept"], timeout=10)
            assert moved.status_code == 200, moved.text
        token = requests.post(f"{ns}/api/v3/oauth2/token", data=FORM, timeout=10).json()["access_token"]
        bearer = {"Authorization": f"bearer {token}"}
        body = {"title": "Kept in the database", "otherPartyTradingPartnerId": "aaa-bbb-ccc"}
        assert requests.post(f"{ns}/api/v3/conversation", json=body, headers=bearer, timeout=10).ok
        put = requests.put(f"{ns}/_sandbox/personas", json=SUPPLIER, headers=own["kept"], timeout=10)
        assert put.status_code == 200, put.text
        put = requests.put(f"{base}/_sandbox/personas", json=RETAILER, headers=ADMIN, timeout=10)
        assert put.status_code == 200, put.text
        assert _rows(database) == ["dropped", "kept"]  # committed while the server runs
        assert requests.delete(f"{base}/_sandbox/namespaces/dropped", headers=ADMIN, timeout=10).ok
        assert _rows(database) == ["kept"]
    finally:
        assert first.stop() == 0
    assert not (tmp_path / "state.db.namespaces").exists()  # no folder beside a database

    second = start(*options)
    try:
        base = second.base_url
        ns = f"{base}/ns/kept"
        saved = requests.get(f"{ns}/_sandbox/state", headers=own["kept"], timeout=10).json()
        assert [c["title"] for c in saved["conversations"]] == ["Kept in the database"]
        now = requests.get(f"{ns}/_sandbox/clock", headers=own["kept"], timeout=10).json()
        assert now["now"] == FUTURE and now["frozen"] is True
        config = requests.get(f"{ns}/_sandbox/config", headers=own["kept"], timeout=10).json()
        assert config["pageSize"] == 3
        listed = requests.post(f"{ns}/api/v3/conversation/list", json={}, headers=bearer, timeout=10)
        assert listed.status_code == 200, listed.text  # the access token issued before the restart
        personas = requests.get(f"{ns}/_sandbox/personas", headers=own["kept"], timeout=10).json()
        assert personas["active"] == {"retailer": [], "supplier": ["2000001"]}
        personas = requests.get(f"{base}/_sandbox/personas", headers=ADMIN, timeout=10).json()
        assert personas["active"] == {"retailer": ["1000002"], "supplier": []}
        gone = requests.get(f"{base}/ns/dropped/_sandbox/health", headers=ADMIN, timeout=10)
        assert gone.status_code == 404
        assert requests.get(f"{base}/_sandbox/state", headers=ADMIN, timeout=10).json()["conversations"] == []
    finally:
        assert second.stop() == 0


def test_writes_to_the_default_sandbox_and_namespaces_at_once_are_all_kept(tmp_path: Path) -> None:
    """Two connections to one file (the default sandbox's and the namespaces') take turns at
    SQLite's write lock: concurrent writes everywhere are each committed, none refused."""
    database = tmp_path / "state.db"
    options = ("--state-file", str(database), "--no-rate-limit", "--threads", "6")
    prefixes = ("", "/ns/one", "/ns/two")
    per_sandbox = 15
    first = start(*options)
    try:
        base = first.base_url
        for name in ("one", "two"):
            assert requests.post(f"{base}/_sandbox/namespaces", json={"name": name}, timeout=10).ok

        def write(prefix: str) -> list[int]:
            url = f"{base}{prefix}/api/v3"
            with requests.Session() as session:
                token = session.post(f"{url}/oauth2/token", data=FORM, timeout=10).json()["access_token"]
                session.headers["Authorization"] = f"bearer {token}"
                body = {"title": "At once", "otherPartyTradingPartnerId": "aaa-bbb-ccc"}
                return [
                    session.post(f"{url}/conversation", json=body, timeout=10).status_code
                    for _ in range(per_sandbox)
                ]

        with ThreadPoolExecutor(len(prefixes)) as pool:
            statuses = [s for answers in pool.map(write, prefixes) for s in answers]
        assert statuses == [201] * per_sandbox * len(prefixes)
    finally:
        assert first.stop() == 0

    second = start(*options)
    try:
        for prefix in prefixes:
            state = requests.get(f"{second.base_url}{prefix}/_sandbox/state", timeout=10).json()
            assert len(state["conversations"]) == per_sandbox, prefix
    finally:
        assert second.stop() == 0
