"""The Containerfile's command line works (no container engine runs here, so the test runs the
commands themselves, on loopback, exactly as the image's ENTRYPOINT and HEALTHCHECK give them)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cli_support import REPO

STATE_IN_VOLUME = "/data/sandbox-state.json"


def containerfile() -> str:
    return (REPO / "Containerfile").read_text("utf-8")


def exec_form(instruction: str) -> list[str]:
    match = re.search(rf"^{instruction} (\[.*\])$", containerfile(), re.M)
    assert match, f"the Containerfile has no exec-form {instruction}"
    command: list[str] = json.loads(match.group(1))
    return command


def entrypoint(state_file: Path) -> list[str]:
    """The image's entry point, run here: the state file in a temporary folder instead of /data."""
    command = exec_form("ENTRYPOINT")
    assert command[:2] == ["dsco-sandbox", "serve"]
    assert STATE_IN_VOLUME in command
    return [
        sys.executable,
        "-m",
        "simulator",
        *(str(state_file) if a == STATE_IN_VOLUME else a for a in command[1:]),
    ]


def test_the_state_file_lives_in_a_declared_volume_and_no_cmd_hides_appended_flags() -> None:
    text = containerfile()
    assert re.search(r'^VOLUME \["/data"\]$', text, re.M)
    assert "chown nobody /data" in text and re.search(r"^USER nobody$", text, re.M)
    assert not re.search(r"^CMD ", text, re.M)  # flags after the image name go to the entry point


@pytest.mark.e2e
def test_the_image_refuses_to_expose_the_control_plane_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DSCO_SANDBOX_ADMIN_TOKEN"}
    result = subprocess.run(
        entrypoint(tmp_path / "state.json"), capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2
    assert "--admin-token" in result.stderr


@pytest.mark.e2e
def test_appended_flags_apply_and_the_healthcheck_passes_with_the_token(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    # Flags appended after the image name, as `docker run IMAGE --page-size 3` does; loopback and a
    # free port for the test (later flags win with argparse).
    args = [*entrypoint(state), "--page-size", "3", "--host", "127.0.0.1", "--port", "0"]
    env = {**os.environ, "DSCO_SANDBOX_ADMIN_TOKEN": "from-env"}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert process.stdout is not None
        deadline, base = time.monotonic() + 20, None
        while base is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if "base URL" in line:
                base = line.split()[-1].removesuffix("/api/v3")
        assert base is not None
        request = urllib.request.Request(
            f"{base}/_sandbox/config", headers={"Authorization": "bearer from-env"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["pageSize"] == 3
        health = [a.replace("http://127.0.0.1:8765", base) for a in exec_form("HEALTHCHECK .*CMD")]
        assert health[0] == "python"
        probe = [sys.executable, *health[1:]]
        assert subprocess.run(probe, env=env, capture_output=True, timeout=30).returncode == 0
        wrong = {**env, "DSCO_SANDBOX_ADMIN_TOKEN": "not-it"}
        assert subprocess.run(probe, env=wrong, capture_output=True, timeout=30).returncode != 0
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert state.exists()  # saved at exit, where the volume would keep it
