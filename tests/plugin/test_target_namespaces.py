"""``--dsco-target`` runs in a namespace of their own: every session (and every xdist worker) creates
one on the served sandbox and deletes it at the end, leaving the default sandbox untouched.

``DSCO_XDIST_WORKERS`` sets how many workers the xdist test starts (2 unless told): 8 shows that
many pipelines can share one server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from serve_support import Served, start

from simulator.domain.config import SandboxConfig
from simulator.harness import BackgroundServer
from simulator.http import ServerConfig, create_app

pytest_plugins = ["pytester"]

WORKERS = int(os.environ.get("DSCO_XDIST_WORKERS", "2"))

# Every test changes what a shared sandbox would leak: data, clock, settings and faults. If two
# workers shared one sandbox, one's reset or clock would break the other's expectations.
SUITE = """
import pathlib
import pytest
import requests

def create(sandbox, title):
    body = {"title": title, "otherPartyTradingPartnerId": "aaa-bbb-ccc"}
    url = f"{sandbox.api_url}/conversation"
    return requests.post(url, json=body, headers=sandbox.headers("retailer"), timeout=10)

@pytest.mark.parametrize("n", range(6))
def test_a_session_has_a_sandbox_of_its_own(dsco_sandbox, n, worker_id):
    assert "/ns/pytest-" in dsco_sandbox.base_url
    (pathlib.Path(r"{out}") / f"{worker_id}-{n}.txt").write_text(dsco_sandbox.base_url)
    moment = dsco_sandbox.clock.set(f"2031-0{n + 1}-01T00:00:00Z")
    dsco_sandbox.config(pageSize=n + 1)
    dsco_sandbox.faults(getConversations={"forceStatus": 503, "forceCount": 1})
    for i in range(n + 1):
        assert create(dsco_sandbox, f"{worker_id}-{n}-{i}").status_code == 201
    state = dsco_sandbox.snapshot()
    titles = sorted(c["title"] for c in state["conversations"])
    assert titles == [f"{worker_id}-{n}-{i}" for i in range(n + 1)]
    assert state["config"]["pageSize"] == n + 1
    assert dsco_sandbox.clock.now() >= moment
"""

RESETTING_SCENARIO = """
name: resets its own sandbox only
steps:
  - name: start over
    action: reset
"""


@pytest.fixture
def server() -> Iterator[Served]:
    served = start("--admin-token", "shared-secret")
    yield served
    served.stop()


def _admin(server: Served, method: str, path: str) -> requests.Response:
    return requests.request(
        method,
        f"{server.base_url}/_sandbox{path}",
        headers={"Authorization": "bearer shared-secret"},
        timeout=10,
    )


@pytest.mark.e2e
def test_xdist_workers_each_get_a_namespace_and_leave_the_default_untouched(
    pytester: pytest.Pytester, server: Served, tmp_path: Path
) -> None:
    requests.post(
        f"{server.base_url}/api/v3/conversation",
        json={"title": "kept", "otherPartyTradingPartnerId": "aaa-bbb-ccc"},
        headers={"Authorization": "bearer retailer-demo-token"},
        timeout=10,
    ).raise_for_status()
    before = _admin(server, "GET", "/state").json()
    pytester.makepyfile(test_shared_server=SUITE.replace("{out}", str(tmp_path)))
    pytester.mkdir("scenarios")  # a scenario file runs in its session's namespace too
    pytester.makeini("[pytest]\ndsco_scenarios = scenarios\n")
    pytester.path.joinpath("scenarios", "reset.yaml").write_text(RESETTING_SCENARIO)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-n",
        str(WORKERS),
        "--dist",
        "each",
        f"--dsco-target={server.base_url}",
        "--dsco-admin-token=shared-secret",
    )
    result.assert_outcomes(passed=7 * WORKERS)
    used = {path.read_text() for path in tmp_path.glob("*.txt")}
    assert len(used) == WORKERS  # one namespace per worker, the same for all of a worker's tests
    after = _admin(server, "GET", "/state").json()
    assert [c["title"] for c in after["conversations"]] == ["kept"]
    assert after["conversations"] == before["conversations"]
    assert after["config"] == before["config"] and after["clock"]["frozen"] is False
    assert [e["operation"] for e in _admin(server, "GET", "/events").json()["events"]] == [
        "createConversation"
    ]
    assert _admin(server, "GET", "/namespaces").json()["namespaces"] == []  # each deleted its own


def test_a_target_without_namespaces_is_used_as_it_is_and_the_run_says_so(pytester: pytest.Pytester) -> None:
    older = BackgroundServer(create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False))))  # no /ns
    try:
        pytester.makepyfile(
            test_older="""
def test_target(dsco_sandbox):
    assert "/ns/" not in dsco_sandbox.base_url
    assert dsco_sandbox.snapshot()["conversations"] == []
"""
        )
        result = pytester.runpytest("-p", "no:cacheprovider", f"--dsco-target={older.base_url}")
        result.assert_outcomes(passed=1, warnings=1)
        result.stdout.fnmatch_lines(["*DscoTargetWarning*offers no namespaces*answered 404*resetting it*"])
    finally:
        older.stop()
