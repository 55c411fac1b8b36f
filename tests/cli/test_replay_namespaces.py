"""``replay --target URL --namespace NAME`` and ``--fresh-namespace``: scenarios against a shared
server, without touching its default sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from simulator.cli import main
from simulator.domain.config import SandboxConfig
from simulator.harness import BackgroundServer
from simulator.http import ServerConfig
from simulator.http.namespace_control import create_server_app

SCENARIO = """
name: Opens one conversation
actors:
  retailer: {role: retailer, client_id: retailer-demo, client_secret: retailer-demo-secret}
steps:
  - name: start from an empty sandbox
    action: reset
  - name: Northwind opens a conversation with Acme
    actor: retailer
    action: create_conversation
    body: {otherPartyTradingPartnerId: aaa-bbb-ccc, title: Where is my order}
    expect: {status: 201}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    config = ServerConfig(sandbox=SandboxConfig(rate_limit=False), admin_token="root-token")
    served = BackgroundServer(create_server_app(config))
    yield served.base_url
    served.stop()


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "opens.yaml"
    path.write_text(SCENARIO, "utf-8")
    return path


def _admin(server: str, method: str, path: str, **kwargs: object) -> requests.Response:
    headers = {"Authorization": "bearer root-token"}
    return requests.request(method, f"{server}/_sandbox{path}", headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def _titles(server: str, prefix: str = "") -> list[str]:
    state = requests.get(
        f"{server}{prefix}/_sandbox/state", headers={"Authorization": "bearer root-token"}, timeout=10
    ).json()
    return [c["title"] for c in state["conversations"]]


def test_fresh_namespace_runs_there_and_deletes_it(
    server: str, scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["replay", str(scenario), "--target", server, "--fresh-namespace", "--admin-token", "root-token"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"running in namespace {server}/ns/replay-" in out
    assert _titles(server) == []  # the default sandbox saw nothing
    assert _admin(server, "GET", "/namespaces").json()["namespaces"] == []


def test_a_named_namespace_keeps_what_the_run_left(
    server: str, scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _admin(server, "POST", "/namespaces", json={"name": "team-b"}).raise_for_status()
    try:
        code = main(
            [
                "replay",
                str(scenario),
                "--target",
                server,
                "--namespace",
                "team-b",
                "--admin-token",
                "root-token",
            ]
        )
        assert code == 0, capsys.readouterr().out
        assert _titles(server, "/ns/team-b") == ["Where is my order"]
        assert _titles(server) == []
    finally:
        _admin(server, "DELETE", "/namespaces/team-b")


def test_an_unknown_namespace_stops_the_run_before_anything_is_sent(
    server: str, scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(scenario), "--target", server, "--namespace", "nowhere"]) == 2
    assert 'namespace "nowhere": no such namespace' in capsys.readouterr().out


def test_a_namespace_needs_a_target(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(scenario), "--fresh-namespace"]) == 2
    assert "--namespace and --fresh-namespace need --target" in capsys.readouterr().err
