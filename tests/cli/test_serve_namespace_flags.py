"""``serve --max-namespaces``, ``--namespace-ttl`` and ``--allow-webhook-hosts`` reach the server."""

from __future__ import annotations

import json

import pytest
import requests
from serve_support import start

from simulator.cli import main
from simulator.loading.resources import default_world_path


def _world_with_remote_webhook() -> dict[str, object]:
    world = json.loads(default_world_path().read_text("utf-8"))
    world["accounts"][0]["webhook"] = {"url": "http://203.0.113.9/hook", "secret": "s"}
    return dict(world)


@pytest.mark.e2e
def test_the_namespace_flags_set_the_limit_the_ttl_and_the_webhook_hosts() -> None:
    server = start("--max-namespaces", "1", "--namespace-ttl", "123", "--allow-webhook-hosts")
    try:
        url = f"{server.base_url}/_sandbox/namespaces"
        created = requests.post(url, json={"name": "far", "world": _world_with_remote_webhook()}, timeout=10)
        assert created.status_code == 201, created.text
        assert created.json()["idleTtl"] == 123
        assert requests.post(url, json={"name": "second"}, timeout=10).status_code == 409
        assert requests.get(url, timeout=10).json()["limit"] == 1
    finally:
        server.stop()


@pytest.mark.e2e
def test_zero_namespaces_serves_none() -> None:
    server = start("--max-namespaces", "0")
    try:
        assert (
            requests.post(
                f"{server.base_url}/_sandbox/namespaces", json={"name": "a"}, timeout=10
            ).status_code
            == 404
        )
        assert requests.get(f"{server.base_url}/ns/a/_sandbox/health", timeout=10).status_code == 404
        assert requests.get(f"{server.base_url}/_sandbox/health", timeout=10).status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--namespace-ttl", "0", "expected more than 0 seconds"),
        ("--namespace-ttl", "soon", "expected a number of seconds"),
        ("--max-namespaces", "-1", "expected a whole number of at least 0"),
    ],
)
def test_bad_namespace_flags_are_refused_by_name(
    capsys: pytest.CaptureFixture[str], flag: str, value: str, expected: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", flag, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and expected in err
