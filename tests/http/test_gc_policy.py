"""The collector policy of a served sandbox: installed by serve, and frozen records still freed.

The policy changes the interpreter's collector for the whole process, so the freeing check runs
in a child interpreter; serve's own install and uninstall are checked in this one, around a
stand-in server whose ``run`` looks at the collector while it "serves".
"""

from __future__ import annotations

import gc
import io
import json
import subprocess
import sys
import threading
from typing import Any

import pytest
from flask import Flask

from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig, create_app
from simulator.http import server as server_module
from simulator.http.gc_policy import GEN0_THRESHOLD, CollectorPolicy

_FREED_AFTER_RESET = """
import gc, json
from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig, create_app
from simulator.http.gc_policy import CollectorPolicy

app = create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False)))
client = app.test_client()
auth = {"Authorization": "bearer retailer-demo-token"}
body = {"otherPartyTradingPartnerId": "aaa-bbb-ccc", "title": "Late order",
        "context": {"type": "order", "poNumber": "123-456-789"},
        "initialMessage": {"message": "Why is my order late?"}}
policy = CollectorPolicy()
policy.install()
at_start = gc.get_freeze_count()
for _ in range(3000):
    assert client.post("/api/v3/conversation", json=body, headers=auth).status_code == 201
gc.collect()  # a full collection: the policy freezes its survivors, the stored records among them
loaded = gc.get_freeze_count()
assert client.post("/_sandbox/reset").status_code == 200
client.get("/_sandbox/health")
print(json.dumps({"at_start": at_start, "loaded": loaded, "after_reset": gc.get_freeze_count(),
                  "full_collections": policy.full_collections, "threshold": gc.get_threshold()[0]}))
"""


@pytest.mark.e2e  # in a child process of its own, whose collector no other test has touched
def test_frozen_records_are_freed_by_a_reset() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FREED_AFTER_RESET], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["full_collections"] >= 1
    assert counts["threshold"] == GEN0_THRESHOLD
    grown = counts["loaded"] - counts["at_start"]
    assert grown >= 6000, counts  # 3,000 conversations and their first messages, now frozen
    # The reset dropped the store: its frozen records went with it, by reference counting alone.
    assert counts["after_reset"] - counts["at_start"] < grown // 10, counts


def test_a_full_collection_freezes_its_survivors_and_uninstall_restores() -> None:
    before = gc.get_threshold()
    policy = CollectorPolicy(gen0=12_345)
    policy.install()
    try:
        assert gc.get_threshold() == (12_345, 10, 10)
        survivor = [{"kept": [1, 2]} for _ in range(100)]
        frozen_before = gc.get_freeze_count()
        gc.collect()
        assert policy.full_collections == 1
        assert gc.get_freeze_count() >= frozen_before + len(survivor)
        assert all(seen is not survivor for seen in gc.get_objects())  # no collection walks it now
    finally:
        policy.uninstall()
    assert not policy.installed
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


class _StandInServer:
    """What serve runs: records the collector's settings while "serving", then returns."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def run(self) -> None:
        self.seen = {
            "threshold": gc.get_threshold()[0],
            "policy": any(isinstance(getattr(c, "__self__", None), CollectorPolicy) for c in gc.callbacks),
            "frozen": gc.get_freeze_count(),
        }

    def close(self) -> None:
        pass


def test_serve_installs_the_policy_while_it_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    app: Flask = create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False)))
    stand_in = _StandInServer()
    monkeypatch.setattr(server_module, "waitress_server", lambda *args: stand_in)
    before = gc.get_threshold()
    # Not on the main thread, so serve leaves this process's signal handlers alone.
    worker = threading.Thread(target=server_module.serve, args=(app, "127.0.0.1", 0, 2, io.StringIO()))
    worker.start()
    worker.join(timeout=60)
    assert stand_in.seen == {"threshold": GEN0_THRESHOLD, "policy": True, "frozen": stand_in.seen["frozen"]}
    assert stand_in.seen["frozen"] > 10_000  # the app, the world and the imports, out of the collector's walk
    assert gc.get_threshold() == before  # and put back once serving ends
    assert not any(isinstance(getattr(c, "__self__", None), CollectorPolicy) for c in gc.callbacks)
