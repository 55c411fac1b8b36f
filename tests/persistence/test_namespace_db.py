"""Namespaces in the state database (``namespace_db.NamespaceDatabase``), in process: one row per
namespace, replaced by each save and removed by a delete; a full disk answers 503 naming the
namespace, and its next save catches up; a broken row refuses the start."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from simulator.domain.config import SandboxConfig
from simulator.http.app import ServerConfig
from simulator.http.namespace_control import create_server_app
from simulator.http.namespaces import NamespaceOptions
from simulator.loading.bootstrap import WorldFileError
from simulator.storage.namespace_db import NamespaceDatabase

FORM = {
    "grant_type": "client_credentials",
    "client_id": "retailer-demo",
    "client_secret": "retailer-demo-secret",
}


class Server:
    """One run of a server on the database, as ``serve`` wires it."""

    def __init__(self, path: Path) -> None:
        config = ServerConfig(sandbox=SandboxConfig(rate_limit=False, lag_min=0, lag_max=0), state_file=path)
        self.store = NamespaceDatabase(path)
        self.app: Flask = create_server_app(config, NamespaceOptions(store=self.store))

    def stop(self) -> None:
        self.store.close()
        self.app.extensions["dsco_state_database"].database.close()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        with contextlib.suppress(sqlite3.ProgrammingError):  # stopped by the test already
            server.stop()


def _titles(path: Path, name: str) -> list[str]:
    with sqlite3.connect(path) as reader:
        (state,) = reader.execute("SELECT state FROM namespaces WHERE name = ?", (name,)).fetchone()
    return [c["title"] for c in json.loads(state)["conversations"]]


def test_each_save_replaces_its_row_and_a_full_disk_is_a_503_naming_the_namespace(
    tmp_path: Path, servers: list[Server]
) -> None:
    path = tmp_path / "state.db"
    server = Server(path)
    servers.append(server)
    web = server.app.test_client()
    assert web.post("/_sandbox/namespaces", json={"name": "team-a"}).status_code == 201
    token = web.post("/ns/team-a/api/v3/oauth2/token", data=FORM).json["access_token"]  # type: ignore[index]
    bearer = {"Authorization": f"Bearer {token}"}

    def create(title: str, size: int = 10) -> int:
        body = {
            "title": title,
            "otherPartyTradingPartnerId": "aaa-bbb-ccc",
            "initialMessage": {"message": "x" * size},
        }
        response = web.post("/ns/team-a/api/v3/conversation", json=body, headers=bearer)
        assert response.status_code in (201, 503), response.text
        if response.status_code == 503:
            assert str(path) in response.text and "'team-a'" in response.text, response.text
        return response.status_code

    assert create("first") == 201
    assert _titles(path, "team-a") == ["first"]  # committed before the answer
    connection = server.store._db()
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count={pages}")  # as if the disk were full from now on
    statuses = [create(f"big {n}", 20_000) for n in range(20)]
    assert 503 in statuses
    connection.execute("PRAGMA max_page_count=1073741823")  # space freed: the next save catches up
    assert create("after") == 201
    assert _titles(path, "team-a")[-1] == "after" and len(_titles(path, "team-a")) == 22

    assert web.delete("/_sandbox/namespaces/team-a").status_code == 200
    with sqlite3.connect(path) as reader:
        assert reader.execute("SELECT count(*) FROM namespaces").fetchone() == (0,)


def test_a_broken_row_refuses_the_start_naming_it(tmp_path: Path, servers: list[Server]) -> None:
    path = tmp_path / "state.db"
    first = Server(path)
    servers.append(first)
    assert first.app.test_client().post("/_sandbox/namespaces", json={"name": "bad"}).status_code == 201
    first.stop()
    with sqlite3.connect(path) as writer:
        writer.execute("UPDATE namespaces SET state = 'not json' WHERE name = 'bad'")
    with pytest.raises(WorldFileError, match="namespace 'bad'"):
        servers.append(Server(path))
