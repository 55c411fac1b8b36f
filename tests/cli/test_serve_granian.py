"""``serve --server granian``: the same app on the faster server, state file included."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import requests
from cli_support import run_cli
from serve_support import Served, start

pytestmark = pytest.mark.e2e

pytest.importorskip("granian")

RETAILER = {"Authorization": "bearer retailer-demo-token"}
CREATE = {"otherPartyTradingPartnerId": "aaa-bbb-ccc", "title": "Served by granian"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_granian(*args: str) -> Served:
    """Start it and wait until it answers (granian binds after the banner is printed)."""
    served = start("--server", "granian", "--port", str(free_port()), *args)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{served.base_url}/_sandbox/health", timeout=1).ok:
                return served
        except requests.ConnectionError:
            time.sleep(0.05)
    served.stop()
    raise RuntimeError(f"granian never answered: {served.log_text()}")


def test_granian_serves_the_api_and_keeps_the_state_file_across_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    served = start_granian("--state-file", str(state))
    try:
        created = requests.post(
            f"{served.base_url}/api/v3/conversation", json=CREATE, headers=RETAILER, timeout=5
        )
        assert created.status_code == 201, created.text
        refused = requests.post(
            f"{served.base_url}/api/v3/conversation", json={}, headers=RETAILER, timeout=5
        )
        assert refused.status_code == 400 and "title" in refused.text
    finally:
        assert served.stop() == 0  # SIGTERM: a clean stop
    assert [c["id"] for c in json.loads(state.read_text())["conversations"]] == [created.json()["id"]]

    again = start_granian("--state-file", str(state))
    try:
        saved = requests.get(f"{again.base_url}/_sandbox/state", timeout=5).json()
        assert [c["id"] for c in saved["conversations"]] == [created.json()["id"]]
    finally:
        again.stop()


def test_granian_needs_a_fixed_port() -> None:
    result = run_cli("serve", "--server", "granian", "--port", "0")
    assert result.returncode == 2
    assert "needs a fixed --port" in result.stderr
