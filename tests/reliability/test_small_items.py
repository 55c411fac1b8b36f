"""Smaller trust items: no credential echoed, no temp files left behind, an early 413, the
``[::1]`` banner, and the admin token's visibility in ``ps`` stated where it is chosen."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from reliability_support import serve
from serve_support import Served, start

pytestmark = pytest.mark.e2e


def test_a_malformed_authorization_header_is_neither_echoed_nor_journaled(shared: Served) -> None:
    secret = "sbx-0123456789abcdef-do-not-echo"
    for header in (f"Bearer\t{secret}", secret, f"Basic {secret}", f"Bearer  {secret} extra"):
        answer = requests.post(
            f"{shared.base_url}/api/v3/conversation/list",
            json={},
            headers={"Authorization": header},
            timeout=5,
        )
        assert answer.status_code == 401, answer.text
        assert secret not in answer.text and secret not in answer.headers.get("WWW-Authenticate", "")
    journal = requests.get(f"{shared.base_url}/_sandbox/events", timeout=5).text
    assert secret not in journal


def test_temporary_files_of_a_killed_writer_are_swept_at_start(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    # What `kill -9` during a save leaves: a temporary file of a process that is gone.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    left = tmp_path / f".state.json.{int(dead.stdout)}.abc123.tmp"
    left.write_text("{")
    unrelated = tmp_path / ".other.json.1.tmp"
    unrelated.write_text("{")
    served = serve("waitress", "--state-file", str(state))
    try:
        assert not left.exists()
        assert unrelated.exists()
        own = [p.name for p in tmp_path.iterdir() if p.name.startswith(".state.json.")]
        assert own == [], own
    finally:
        served.stop()


def test_the_banner_of_an_ipv6_loopback_host_is_a_valid_url() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    served = start("--host", "[::1]")
    try:
        assert served.base_url.startswith("http://[::1]:"), served.banner
        assert requests.get(f"{served.base_url}/_sandbox/health", timeout=5).ok
    finally:
        served.stop()


def test_the_admin_token_flag_says_it_shows_in_ps_and_recommends_the_environment_variable() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "simulator", "serve", "--help"], capture_output=True, text=True, timeout=30
    ).stdout
    flat = " ".join(shown.split())
    assert "DSCO_SANDBOX_ADMIN_TOKEN" in flat and "ps" in flat
    served = start("--admin-token", "s3cret-token", env={**os.environ})
    try:
        assert "DSCO_SANDBOX_ADMIN_TOKEN" in served.log_text()  # a warning on stderr
    finally:
        served.stop()
    quiet = start(env={**os.environ, "DSCO_SANDBOX_ADMIN_TOKEN": "s3cret-token"})
    try:
        assert "DSCO_SANDBOX_ADMIN_TOKEN" not in quiet.log_text()
    finally:
        quiet.stop()
