"""``dsco-sandbox serve`` refuses what it cannot serve in one line (exit 2), says what runs, and can log.

Each refusal comes before the slow start (loading the contract and the world) and names the flag:
a port outside 0-65535 (65536 and above would silently wrap onto another port), a host name that
does not resolve (it is not "reachable by anyone on the network"), an address no interface has,
and a state file that could not be saved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from serve_support import start

from simulator.cli import main
from simulator.contract.validation import Contract
from simulator.http.app import ServerConfig, create_app
from simulator.http.server import run_facts


def serve(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    """``dsco-sandbox serve ARGS`` in this process (every refusal comes before it would listen)."""
    code = main(["serve", *args])
    captured = capsys.readouterr()
    return code, captured.err.splitlines(), captured.out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--port", "-1"), "--port -1: expected a port from 1 to 65535, or 0 for any free one"),
        (("--port", "99999"), "--port 99999: expected a port from 1 to 65535, or 0 for any free one"),
        (("--host", "nosuchhost.invalid"), "--host nosuchhost.invalid: the name does not resolve"),
        # 192.0.2.0/24 is reserved for documentation (RFC 5737): no interface has it.
        (("--host", "192.0.2.1"), "--host 192.0.2.1: cannot bind 192.0.2.1 port"),
    ],
    ids=["negative-port", "port-above-65535", "unresolvable-host", "unbindable-address"],
)
def test_an_address_that_cannot_be_served_is_one_line_and_exit_2(
    args: tuple[str, ...], expected: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An admin token (from the environment, as recommended) lets a non-loopback address be tried.
    monkeypatch.setenv("DSCO_SANDBOX_ADMIN_TOKEN", "t")
    code, lines, out = serve(*args, capsys=capsys)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("dsco-sandbox: cannot serve: ") and expected in lines[0]
    assert "reachable by anyone" not in lines[0]
    assert out == ""


def test_a_state_file_in_a_missing_folder_is_refused_and_nothing_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "typo" / "state.json"
    code, lines, _ = serve("--port", "0", "--state-file", str(target), capsys=capsys)
    assert code == 2
    assert lines == [
        f"dsco-sandbox: cannot serve: --state-file {target}: the folder {target.parent} does not exist; "
        "create it first"
    ]
    assert not target.parent.exists()


def test_a_state_file_that_is_a_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = serve("--port", "0", "--state-file", str(tmp_path), capsys=capsys)
    assert code == 2
    assert lines == [
        f"dsco-sandbox: cannot serve: --state-file {tmp_path}: is a folder; give the path of a file"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="the superuser can write in a read-only folder")
def test_a_state_file_in_a_read_only_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, lines, _ = serve("--port", "0", "--state-file", str(folder / "state.json"), capsys=capsys)
    finally:
        folder.chmod(0o700)
    assert code == 2
    assert len(lines) == 1 and "cannot write in" in lines[0]


@pytest.mark.e2e
def test_the_banner_says_which_server_runs_and_where_the_state_comes_from(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    served = start("--state-file", str(state))
    try:
        text = "\n".join(served.banner)
        assert "  server         waitress, 8 threads" in text
        assert f"  state          {state} does not exist yet: starting empty" in text
        requests.post(
            f"{served.base_url}/api/v3/conversation",
            json={"title": "Kept", "otherPartyTradingPartnerId": "aaa-bbb-ccc"},
            headers={"Authorization": "bearer retailer-demo-token"},
            timeout=10,
        ).raise_for_status()
        assert "/api/v3/" not in served.log_text()  # no call log unless asked for
    finally:
        assert served.stop() == 0
        assert served.process.stdout is not None
        assert served.process.stdout.read().splitlines() == [f"dsco-sandbox stopped; state saved to {state}"]
    contract = Contract()
    loaded = create_app(ServerConfig(state_file=state), contract=contract)
    assert run_facts(loaded, "waitress, 8 threads")[1] == (
        f"  state          loaded from {state}: 1 conversations, 0 messages"
    )
    in_memory = create_app(ServerConfig(), contract=contract)
    assert run_facts(in_memory, "x")[1].startswith("  state          in memory only")


@pytest.mark.e2e
def test_log_prints_one_line_per_call_with_the_refusal() -> None:
    served = start("--log")
    try:
        api = f"{served.base_url}/api/v3"
        retailer = {"Authorization": "bearer retailer-demo-token"}
        requests.post(f"{api}/conversation/list", json={}, headers=retailer, timeout=10)
        requests.post(f"{api}/conversation", json={"title": 7}, headers=retailer, timeout=10)
        requests.post(f"{api}/conversation/list", json={}, timeout=10)
        requests.get(f"{served.base_url}/_sandbox/health", timeout=10)  # not an API call
        lines = served.log_text().splitlines()
    finally:
        served.stop()
    calls = [line for line in lines if " /api/v3/" in line]
    assert len(calls) == 3, lines
    method, path, account, status, duration = calls[0].split()
    assert (method, path, account, status) == ("POST", "/api/v3/conversation/list", "1000001", "200")
    assert duration.endswith("ms") and float(duration[:-2]) >= 0
    assert calls[1].startswith("POST /api/v3/conversation 1000001 400 ")
    assert "title: " in calls[1] and "\n" not in calls[1]
    assert calls[2].startswith("POST /api/v3/conversation/list - 401 ")
    assert not any("_sandbox" in line for line in lines)


def test_the_log_line_of_a_token_refusal_is_its_description() -> None:
    from simulator.domain.journal import JournalEntry, JsonText
    from simulator.http.server import call_line

    body = JsonText(json.dumps({"error": "invalid_client", "error_description": "unknown client_id 'x'"}))
    details = {"method": "POST", "path": "/api/v3/oauth2/token", "status": 401, "durationMs": 1.3}
    entry = JournalEntry(1, 0, "request", None, "getAccessToken", {**details, "response": body})
    assert call_line(entry) == "POST /api/v3/oauth2/token - 401 1.3ms  unknown client_id 'x'"


@pytest.mark.e2e
def test_serve_without_a_shared_store_does_not_load_the_redis_client() -> None:
    # The Redis client is about a hundred modules, 9 MB and a few hundred milliseconds of every start
    # of `serve`; only --store needs it. A fresh interpreter, since this one may have loaded it for
    # another test; the server is replaced by one that returns at once.
    script = (
        "import sys\n"
        "import simulator.http.server as server\n"
        "from simulator.cli import main\n"
        "server.serve = lambda app, **options: 0\n"
        "code = main(['serve', '--port', '0'])\n"
        "print(code, sorted(name for name in sys.modules if name.split('.')[0] == 'redis')[:3])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.split("\n")[0] == "0 []", done.stdout + done.stderr
