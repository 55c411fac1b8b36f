"""One port, one sandbox: a second ``serve`` on a port in use is refused, and granian's worker
never outlives the process that started it (a survivor would keep a second copy of the state)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from reliability_support import SERVERS, free_port, serve


def _serve_again(server: str, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator", "serve", "--server", server, "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("first", SERVERS)
def test_a_second_serve_on_a_port_in_use_is_refused_with_one_line_naming_the_port(first: str) -> None:
    pytest.importorskip("granian")
    port = free_port()
    served = serve(first, port=port)
    try:
        for second in SERVERS:
            again = _serve_again(second, port)
            assert again.returncode == 2, (second, again.stdout + again.stderr)
            lines = again.stderr.strip().splitlines()
            assert len(lines) == 1 and str(port) in lines[0] and "in use" in lines[0], again.stderr
            assert "base URL" not in again.stdout  # nothing claimed to be serving
        assert requests.get(f"{served.base_url}/_sandbox/health", timeout=5).ok  # the first one still is
    finally:
        served.stop()


def test_granian_worker_dies_with_the_process_that_started_it() -> None:
    pytest.importorskip("granian")
    port = free_port()
    served = serve("granian", port=port)
    try:
        os.kill(served.process.pid, signal.SIGKILL)  # what `kill -9 <the PID the shell got>` does
        served.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=0.5)
            except requests.ConnectionError:
                break
            time.sleep(0.1)
        else:
            pytest.fail("granian's worker still serves after its supervisor was killed")
        # The port is free again: a new sandbox starts on it.
        again = serve("granian", port=port)
        again.stop()
    finally:
        served.stop()
