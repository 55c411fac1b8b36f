"""Starting real ``dsco-sandbox serve`` processes on loopback, with either server, for the attacks.

Every attack in this folder runs against a served sandbox, as a hostile or careless client would
meet it: waitress (the default) and granian (the optional fast server) where both apply.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import requests
from serve_support import Served, start

SERVERS = ("waitress", "granian")
RETAILER = {"Authorization": "bearer retailer-demo-token"}
SUPPLIER = {"Authorization": "bearer supplier-demo-token"}
CREATE = {"otherPartyTradingPartnerId": "aaa-bbb-ccc", "title": "Reliability"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_up(served: Served, seconds: float = 20) -> Served:
    """Wait until the server answers its health check (granian binds after printing the banner)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{served.base_url}/_sandbox/health", timeout=1).ok:
                return served
        except requests.ConnectionError:
            time.sleep(0.05)
        if served.process.poll() is not None:
            break
    served.stop()
    raise RuntimeError(f"the sandbox never answered: {served.log_text()}")


def serve(server: str, *args: str, port: int | None = None, **popen: Any) -> Served:
    """``dsco-sandbox serve --server SERVER ARGS`` on a loopback port, answering when returned."""
    if server == "granian":
        pytest.importorskip("granian")
    chosen = port if port is not None else (free_port() if server == "granian" else 0)
    return wait_until_up(start("--server", server, "--port", str(chosen), *args, **popen))


def counts(served: Served) -> tuple[int, int]:
    """How many conversations and messages the served sandbox holds."""
    state = requests.get(f"{served.base_url}/_sandbox/state", timeout=10).json()
    return len(state["conversations"]), len(state["messages"])
