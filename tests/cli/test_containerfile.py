"""The Containerfile's command line works (no container engine runs here, so the test runs the
command itself, on loopback, exactly as the image's CMD gives it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

from cli_support import REPO


def container_command() -> list[str]:
    text = (REPO / "Containerfile").read_text("utf-8")
    match = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert match, "the Containerfile has no exec-form CMD"
    command: list[str] = json.loads(match.group(1))
    return command


def test_the_image_command_refuses_to_expose_the_control_plane_without_a_token() -> None:
    command = container_command()
    assert command[:2] == ["dsco-sandbox", "serve"]
    env = {k: v for k, v in os.environ.items() if k != "DSCO_SANDBOX_ADMIN_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "simulator", *command[1:]], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2
    assert "--admin-token" in result.stderr


def test_the_image_command_serves_with_a_token_from_the_environment() -> None:
    command = container_command()
    # Same arguments, but loopback and a free port for the test (later flags win with argparse).
    args = [sys.executable, "-m", "simulator", *command[1:], "--host", "127.0.0.1", "--port", "0"]
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
            f"{base}/_sandbox/health", headers={"Authorization": "bearer from-env"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read()) == {"status": "ok"}
    finally:
        process.terminate()
        process.wait(timeout=10)
