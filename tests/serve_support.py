"""Starting a real ``dsco-sandbox serve`` on a free loopback port, for tests that need a socket.

Shared by every test folder (tests/ is on the import path because it holds conftest.py). The
server's log goes to a temporary file rather than a pipe nobody reads, which could fill up and
stall the server in a long test.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import IO, Any


@dataclass
class Served:
    process: subprocess.Popen[str]
    base_url: str
    """The server root, e.g. ``http://127.0.0.1:41234`` (the API is under ``/api/v3``)."""
    banner: list[str]
    log: IO[str]

    def stop(self) -> int:
        """Stop the server (SIGTERM, then SIGKILL if it hangs) and return its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        return self.process.returncode

    def log_text(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


def start(*args: str, **popen: Any) -> Served:
    """Run ``python -m simulator serve --port 0 ARGS`` and wait for its banner (60 s at most).

    A start takes a second or two of one core; the margin is for a 2-core machine running the suite's
    workers and their servers at once, where a start was seen to take over 20 s.
    ``popen`` goes to ``subprocess.Popen`` as it is (e.g. a ``preexec_fn``).
    """
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by Served.stop()
    process = subprocess.Popen(
        # Responses are checked against the contract in every test, as in the in-process fixtures.
        [sys.executable, "-m", "simulator", "serve", "--port", "0", "--validate-responses", *args],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        **popen,
    )
    assert process.stdout is not None
    banner: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        banner.append(line.rstrip("\n"))
        if "stop with Ctrl+C" in line:
            break
    base = next((line.split()[-1] for line in banner if "base URL" in line), None)
    if base is None:
        process.kill()
        log.seek(0)
        raise RuntimeError(f"serve did not start: {banner} {log.read()}")
    return Served(process, base.removesuffix("/api/v3"), banner, log)
