"""The SQLite state across real processes: ``serve`` killed and restarted, a second ``serve`` on
the same file, and the offline ``dsco-sandbox state export`` / ``state import`` commands."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from serve_support import Served, start

from simulator.cli import main

ROOT = Path(__file__).resolve().parents[2]
FORM = {
    "grant_type": "client_credentials",
    "client_id": "retailer-demo",
    "client_secret": "retailer-demo-secret",
}
TIMEOUT = 10


def create(served: Served, title: str) -> str:
    session = requests.Session()
    session.trust_env = False  # loopback only
    token = session.post(f"{served.base_url}/api/v3/oauth2/token", data=FORM, timeout=TIMEOUT).json()
    body = {"title": title, "otherPartyTradingPartnerId": "aaa-bbb-ccc", "initialMessage": {"message": title}}
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    response = session.post(
        f"{served.base_url}/api/v3/conversation", json=body, headers=headers, timeout=TIMEOUT
    )
    assert response.status_code == 201, response.text
    conversation_id: str = response.json()["id"]
    return conversation_id


def exported(served: Served) -> dict[str, Any]:
    response = requests.get(f"{served.base_url}/_sandbox/state", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def serve_exit(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "simulator", "serve", "--port", "0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)


@pytest.mark.e2e
def test_a_killed_serve_loses_no_acknowledged_write_and_a_second_one_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    first = start("--no-rate-limit", "--state-file", str(database))
    try:
        kept = create(first, "kept through kill -9")
        second = serve_exit("--state-file", str(database))
        assert second.returncode == 2
        assert f"{database}: already in use by dsco-sandbox pid {first.process.pid} (" in second.stderr
        first.process.send_signal(signal.SIGKILL)  # no chance to save anything more
        first.process.wait(timeout=TIMEOUT)
    finally:
        first.stop()
    again = start("--no-rate-limit", "--state-file", str(database))  # the lock died with the process
    try:
        assert [c["id"] for c in exported(again)["conversations"]] == [kept]
    finally:
        again.stop()


@pytest.mark.e2e
def test_serve_refuses_a_newer_database_with_one_line(tmp_path: Path) -> None:
    import sqlite3

    database = tmp_path / "state.db"
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA user_version=99")
    connection.close()
    result = serve_exit("--state-file", str(database))
    assert result.returncode == 2
    assert f"{database}: made by a newer dsco-sandbox (schema version 99" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.e2e
def test_state_export_and_import_work_offline_and_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "state.db"
    served = start("--no-rate-limit", "--state-file", str(database))
    try:
        kept = create(served, "exported offline")
        requests.post(f"{served.base_url}/_sandbox/clock", json={"freeze": True}, timeout=TIMEOUT)
        online = exported(served)
        assert main(["state", "export", str(database)]) == 2  # the server holds it
        assert (
            f"{database}: already in use by dsco-sandbox pid {served.process.pid}" in capsys.readouterr().err
        )
    finally:
        served.stop()

    first = tmp_path / "first.json"
    assert main(["state", "export", str(database), "--output", str(first)]) == 0
    assert capsys.readouterr().err == f"{database}: exported 1 conversations, 1 messages\n"
    offline = json.loads(first.read_text("utf-8"))
    assert [c["id"] for c in offline["conversations"]] == [kept]
    assert {k: v for k, v in offline.items() if k != "exportedAt"} == {
        k: v for k, v in online.items() if k != "exportedAt"
    }

    copy = tmp_path / "copy.sqlite"
    assert main(["state", "import", str(copy), str(first)]) == 0
    assert capsys.readouterr().err == f"{copy}: imported {first} (1 conversations, 1 messages)\n"
    assert main(["state", "export", str(copy)]) == 0
    again = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in again.items() if k != "exportedAt"} == {
        k: v for k, v in offline.items() if k != "exportedAt"
    }


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param(
            ["export", "{tmp}/missing.db"], "{tmp}/missing.db: no such state database", id="missing"
        ),
        pytest.param(
            ["export", "{tmp}/state.json"], "{tmp}/state.json: a state database ends in", id="suffix"
        ),
        pytest.param(
            ["import", "{tmp}/new.db", "{tmp}/torn.json"], "{tmp}/torn.json: not a JSON state", id="torn"
        ),
        pytest.param(
            ["import", "{tmp}/new.db", "{tmp}/world.json"], "{tmp}/world.json: format:", id="not-state"
        ),
        pytest.param(["export", "{tmp}/garbage.db"], "{tmp}/garbage.db: not a SQLite database", id="garbage"),
    ],
)
def test_state_commands_refuse_bad_files_with_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], expected: str
) -> None:
    (tmp_path / "torn.json").write_text('{"format": "dsco-sandbox-state", "vers', "utf-8")
    (tmp_path / "world.json").write_text('{"format": "dsco-sandbox-world"}', "utf-8")
    (tmp_path / "garbage.db").write_bytes(b"not a database at all " * 200)
    assert main(["state", *(a.format(tmp=tmp_path) for a in arguments)]) == 2
    err = capsys.readouterr().err
    assert expected.format(tmp=tmp_path) in err and err.startswith(str(tmp_path)), err
    assert "Traceback" not in err
    assert not (tmp_path / "new.db").exists()  # checked before anything is written
    assert (tmp_path / "garbage.db").read_bytes() == b"not a database at all " * 200


@pytest.mark.e2e
def test_the_short_kill_run_loses_nothing(tmp_path: Path) -> None:
    """Two SIGKILLs under concurrent writes, as the bench does twenty times (bench/persistence.py)."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "persistence.py"),
            "--part",
            "kills",
            "--kills",
            "2",
            "--writers",
            "2",
            "--results-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "persistence.json").read_text("utf-8"))["kills"]
    assert results["ok"] is True and results["kills"] == 2
    assert results["acknowledged"] > 0  # the load really ran while the server was killed
    assert all(not r["problems"] for r in results["rounds"])
