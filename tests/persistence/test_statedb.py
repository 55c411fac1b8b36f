"""``--state-file F.db``: the SQLite state, in process (one app per "run" of the server).

Each test opens the database through ``create_app`` as ``serve`` does, closes it (the end of a
run) and opens it again (a restart), then checks what the new app answers and holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from simulator.domain.config import SandboxConfig
from simulator.domain.sandbox import Sandbox
from simulator.http.app import ServerConfig, create_app
from simulator.loading.bootstrap import WorldFileError
from simulator.loading.resources import default_world_path
from simulator.storage.statedb import SCHEMA_VERSION, Persistence

FORM = {
    "grant_type": "client_credentials",
    "client_id": "retailer-demo",
    "client_secret": "retailer-demo-secret",
}


class Run:
    """One run of a server on the database: its app, a logged-in client, and a way to stop."""

    def __init__(self, path: Path, world: Path | None = None, sync: str = "normal") -> None:
        config = ServerConfig(
            state_sync=sync,
            sandbox=SandboxConfig(rate_limit=False, lag_min=0, lag_max=0),
            state_file=path,
            world_path=world,
        )
        self.app: Flask = create_app(config)
        self.client: FlaskClient = self.app.test_client()
        self.token = ""

    @property
    def sandbox(self) -> Sandbox:
        sandbox: Sandbox = self.app.extensions["dsco_sandbox"]
        return sandbox

    @property
    def persistence(self) -> Persistence:
        persistence: Persistence = self.app.extensions["dsco_state_database"]
        return persistence

    def login(self) -> str:
        response = self.client.post("/api/v3/oauth2/token", data=FORM)
        assert response.status_code == 200, response.text
        self.token = response.json["access_token"]  # type: ignore[index]
        return self.token

    def create(self, title: str, expect: int = 201, message: str | None = None) -> Any:
        body = {
            "title": title,
            "otherPartyTradingPartnerId": "aaa-bbb-ccc",
            "initialMessage": {"message": message or title},
        }
        response = self.client.post("/api/v3/conversation", json=body, headers=self.auth())
        assert response.status_code == expect, response.text
        return response.json["id"] if expect == 201 else response.text  # type: ignore[index]

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def listed(self) -> list[str]:
        self.client.post("/_sandbox/clock", json={"advance": 60})
        response = self.client.post("/api/v3/conversation/list", json={}, headers=self.auth())
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json["conversations"]]  # type: ignore[index]

    def control(self, method: str, route: str, body: Any = None, expect: int = 200) -> Any:
        response = self.client.open(f"/_sandbox/{route}", method=method, json=body)
        assert response.status_code == expect, response.text
        return response.json

    def stop(self) -> None:
        self.persistence.database.close()


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        with contextlib.suppress(sqlite3.ProgrammingError):  # stopped by the test already
            run.stop()


def start(runs: list[Run], path: Path, world: Path | None = None, sync: str = "normal") -> Run:
    run = Run(path, world, sync)
    runs.append(run)
    return run


def sections(reader: sqlite3.Connection) -> dict[tuple[str, ...], Any]:
    """The section rows as committed: path -> value."""
    rows = reader.execute("SELECT name, value FROM sections").fetchall()
    return {tuple(json.loads(name)): json.loads(value) for name, value in rows}


def without_export_time(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "exportedAt"}


def test_a_restart_holds_everything_and_continues_exactly_where_it_stopped(
    tmp_path: Path, runs: list[Run]
) -> None:
    first = start(runs, tmp_path / "state.db")
    token = first.login()
    created = [first.create("Where is my parcel?"), first.create("Invoice 17")]
    first.control("PUT", "config", {"pageSize": 7, "faults": {"getConversations": {"errorRate": 0.5}}})
    first.control("POST", "clock", {"freeze": True})
    before = first.sandbox.export_state()
    first.stop()

    second = start(runs, tmp_path / "state.db")
    assert without_export_time(second.sandbox.export_state()) == without_export_time(before)
    second.token = token  # a token issued before the restart still works
    assert second.listed() == created
    after_restart = second.create("After the restart")
    second.stop()

    # The seeded generators resumed where they were: the same id as a server that never stopped.
    uninterrupted = start(runs, tmp_path / "other.db")
    uninterrupted.login()
    uninterrupted.create("Where is my parcel?")
    uninterrupted.create("Invoice 17")
    uninterrupted.control(
        "PUT", "config", {"pageSize": 7, "faults": {"getConversations": {"errorRate": 0.5}}}
    )
    uninterrupted.control("POST", "clock", {"freeze": True})
    assert uninterrupted.create("After the restart") == after_restart
    assert after_restart not in created


def test_each_change_is_committed_before_the_answer(tmp_path: Path, runs: list[Run]) -> None:
    path = tmp_path / "state.db"
    run = start(runs, path)
    reader = sqlite3.connect(path)  # another connection sees only what was committed

    def count(table: str) -> int:
        found: int = reader.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return found

    token = run.login()
    assert reader.execute("SELECT token FROM tokens").fetchall() == [(token,)]
    run.create("one")
    assert (count("conversations"), count("messages")) == (1, 1)
    run.control("POST", "clock", {"freeze": True})
    run.control("POST", "clock", {"set": "2030-01-01T00:00:00Z"})
    assert sections(reader)[("clock", "now")] == "2030-01-01T00:00:00.000Z"
    run.control("PUT", "config", {"faults": {"createConversation": {"errorRate": 0.5}}})
    assert sections(reader)[("config", "faults", "createConversation")]["errorRate"] == 0.5
    run.control("PUT", "config", {"faults": {"createConversation": None}})  # a removed rule is gone
    assert ("config", "faults", "createConversation") not in sections(reader)
    run.control("POST", "reset")  # a reset is durable too
    assert (count("conversations"), count("messages")) == (0, 0)
    assert count("tokens") == 1  # tokens survive a reset, as in memory
    reader.close()


def test_a_reset_and_an_import_survive_a_restart(tmp_path: Path, runs: list[Run]) -> None:
    first = start(runs, tmp_path / "state.db")
    first.login()
    first.create("gone after the reset")
    first.control("POST", "reset")
    kept = first.create("made after the reset")
    exported = first.client.get("/_sandbox/state").json
    first.control("POST", "reset")
    first.control("PUT", "state", exported)  # an import replaces everything, durably
    first.stop()
    second = start(runs, tmp_path / "state.db")
    second.login()
    assert second.listed() == [kept]


def test_a_full_disk_answers_503_keeps_nothing_and_loses_nothing(tmp_path: Path, runs: list[Run]) -> None:
    path = tmp_path / "state.db"
    run = start(runs, path)
    run.login()
    acknowledged = [run.create("kept")]
    connection = run.persistence.database.connection
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count={pages}")  # as if the disk were full from now on
    line = ""
    for _ in range(50):  # the free pages inside the file fill up first
        body = {
            "title": "big",
            "otherPartyTradingPartnerId": "aaa-bbb-ccc",
            "initialMessage": {"message": "x" * 2000},
        }
        response = run.client.post("/api/v3/conversation", json=body, headers=run.auth())
        if response.status_code != 201:
            assert response.status_code == 503, response.text
            line = response.text
            break
        acknowledged.append(response.json["id"])  # type: ignore[index]
    assert str(path) in line and "full" in line and "the change was not kept" in line
    count = len(acknowledged)
    assert run.sandbox.store.counts() == (count, count)  # the refused write left no trace in memory
    assert run.listed() == acknowledged
    connection.execute("PRAGMA max_page_count=1073741823")  # space freed: writes work again
    acknowledged.append(run.create("later"))
    run.stop()
    again = start(runs, path)
    again.login()
    assert again.listed() == acknowledged


def test_a_json_state_file_beside_a_new_database_is_imported_once(
    tmp_path: Path, runs: list[Run], capsys: pytest.CaptureFixture[str]
) -> None:
    legacy = start(runs, tmp_path / "old.db")
    legacy.login()
    kept = legacy.create("from the JSON era")
    legacy.control("POST", "clock", {"freeze": True})
    document = legacy.sandbox.export_state()
    legacy.stop()
    (tmp_path / "state.json").write_text(json.dumps(document), "utf-8")

    migrated = start(runs, tmp_path / "state.db")
    said = capsys.readouterr().err
    assert (
        f"imported the JSON state file {tmp_path / 'state.json'} once (1 conversations, 1 messages)" in said
    )
    assert without_export_time(migrated.sandbox.export_state()) == without_export_time(document)
    migrated.stop()
    again = start(runs, tmp_path / "state.db")  # from now on the database is what counts
    assert "imported" not in capsys.readouterr().err
    again.login()
    assert again.listed() == [kept]


def test_a_section_added_to_the_state_document_is_kept_without_a_change_here(
    tmp_path: Path, runs: list[Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    export = Sandbox.export_state

    def with_personas(self: Sandbox, *, collections: bool = True) -> dict[str, Any]:
        return {**export(self, collections=collections), "personas": {"grumpy": {"patience": 1}}}

    monkeypatch.setattr(Sandbox, "export_state", with_personas)
    run = start(runs, tmp_path / "state.db")
    run.stop()
    document = run.persistence.database
    reader = sqlite3.connect(document.path)
    assert sections(reader)[("personas", "grumpy")] == {}  # an object: its members are rows too
    assert sections(reader)[("personas", "grumpy", "patience")] == 1
    reader.close()


# --- refused at start: one clear line, the file left as it was ----------------------------------
def refused(path: Path, world: Path | None = None) -> str:
    with pytest.raises(WorldFileError) as caught:
        create_app(ServerConfig(state_file=path, world_path=world))
    return str(caught.value)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"these are not the bytes of a SQLite database" * 100)
    assert (
        refused(path)
        == f"{path}: not a SQLite database (a --state-file ending in .db, .sqlite, .sqlite3 must be one)"
    )
    assert path.read_bytes() == b"these are not the bytes of a SQLite database" * 100


def test_another_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE users (name TEXT)")
    other.commit()
    other.close()
    assert "not a dsco-sandbox state" in refused(path)


def test_a_database_of_a_newer_version_is_refused(tmp_path: Path, runs: list[Run]) -> None:
    path = tmp_path / "state.db"
    start(runs, path).stop()
    newer = sqlite3.connect(path)
    newer.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    newer.close()
    line = refused(path)
    assert f"schema version {SCHEMA_VERSION + 1}" in line and "upgrade dsco-sandbox" in line


def test_a_path_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", "utf-8")
    line = refused(blocker / "state.db")  # its folder is a file: nothing can be created there
    assert line.startswith(f"{blocker / 'state.db'}: cannot write beside the state database")


def test_a_second_server_on_the_same_database_is_refused_naming_the_holder(
    tmp_path: Path, runs: list[Run]
) -> None:

    path = tmp_path / "state.db"
    start(runs, path)
    line = refused(path)
    assert line.startswith(f"{path}: already in use by dsco-sandbox pid {os.getpid()} (")
    assert line.endswith("stop that one first, or use another --state-file")


def test_a_different_world_is_refused_with_how_to_start_over(tmp_path: Path, runs: list[Run]) -> None:
    path = tmp_path / "state.db"
    start(runs, path).stop()
    world = json.loads(default_world_path().read_text("utf-8"))
    world["accounts"][0]["name"] = "Another Retail"
    other = tmp_path / "other-world.json"
    other.write_text(json.dumps(world), "utf-8")
    line = refused(path, other)
    assert "different world" in line and f"remove {path}" in line
    start(runs, path, default_world_path()).stop()  # the same world named explicitly is fine


def test_a_state_over_1_mib_exports_streamed_and_imports_whole(tmp_path: Path, runs: list[Run]) -> None:
    run = start(runs, tmp_path / "state.db")
    run.login()
    run.create("the first of many")
    run.control("POST", "clock", {"freeze": True})
    document = run.sandbox.export_state()
    template = document["messages"][0]
    document["messages"] = [
        {**template, "id": f"m-{n:05d}", "seq": 10 + n, "text": "x" * 1000} for n in range(1500)
    ]
    document["notifications"] = []  # the one there was is about the message replaced above
    body = json.dumps(document)
    assert len(body) > 1024 * 1024  # more than any other call may carry
    response = run.client.put("/_sandbox/state", data=body, content_type="application/json")
    assert response.status_code == 200, response.text
    assert response.json == {"status": "ok", "conversations": 1, "messages": 1500}
    exported = run.client.get("/_sandbox/state")
    assert exported.is_streamed
    assert without_export_time(exported.json) == without_export_time(  # type: ignore[arg-type]
        {**document, "sequence": 10 + 1499}
    )
    run.stop()
    again = start(runs, tmp_path / "state.db")
    assert again.sandbox.store.counts() == (1, 1500)


@pytest.mark.parametrize(("sync", "level"), [("normal", 1), ("full", 2)])
def test_the_stricter_sync_setting_reaches_the_database(
    tmp_path: Path, runs: list[Run], sync: str, level: int
) -> None:
    run = start(runs, tmp_path / "state.db", sync=sync)
    assert run.persistence.database.connection.execute("PRAGMA synchronous").fetchone()[0] == level
    run.login()
    run.create("kept either way")


def test_reads_never_write_to_the_database(tmp_path: Path, runs: list[Run]) -> None:
    run = start(runs, tmp_path / "state.db")
    run.login()
    run.create("one")
    connection = run.persistence.database.connection
    before = connection.total_changes
    run.client.post("/api/v3/conversation/list", json={}, headers=run.auth())
    run.client.post("/api/v3/conversation/message/list", json={}, headers=run.auth())
    for route in ("events", "notifications", "config", "clock", "state", "health"):
        assert run.client.get(f"/_sandbox/{route}").status_code == 200
    assert connection.total_changes == before
    run.create("two")
    assert connection.total_changes > before  # the counter does move on a write
