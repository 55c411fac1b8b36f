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

pytestmark = pytest.mark.e2e


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


def test_granian_starts_on_a_port_just_freed_by_a_stopped_sandbox() -> None:
    """Connections of the stopped server left in TIME_WAIT are no reason to refuse the port (after
    a granian sandbox, the kill test above starts granian again on its port)."""
    pytest.importorskip("granian")
    port = free_port()
    served = serve("waitress", port=port)
    with requests.Session() as session:  # keep-alive: the server closes first when it stops
        for _ in range(3):
            assert session.get(f"{served.base_url}/_sandbox/health", timeout=5).ok
        served.stop()
    again = serve("granian", port=port)
    again.stop()


def test_two_granian_sandboxes_started_at_once_on_one_port_leave_one_serving() -> None:
    """Before granian's worker listens there is nothing to bind against: the address lock decides."""
    pytest.importorskip("granian")
    port = free_port()
    command = [sys.executable, "-m", "simulator", "serve", "--server", "granian", "--port", str(port)]
    both = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and all(p.poll() is None for p in both):
            time.sleep(0.1)
        refused = [p for p in both if p.poll() is not None]
        assert len(refused) == 1, "both or neither exited"
        assert refused[0].returncode == 2
        assert refused[0].stderr is not None and "in use" in refused[0].stderr.read()
        time.sleep(1.0)
        assert sum(p.poll() is None for p in both) == 1
    finally:
        for process in both:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=15)
