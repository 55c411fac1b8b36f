"""``dsco-sandbox serve``: a real server on loopback, started and stopped as a user would."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_support import Served, start

pytestmark = pytest.mark.e2e


@pytest.fixture
def served() -> Iterator[Served]:
    server = start("--no-rate-limit")
    yield server
    server.stop()


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_banner_shows_the_base_url_on_loopback_and_the_demo_credentials(served: Served) -> None:
    text = "\n".join(served.banner)
    assert served.base_url.startswith("http://127.0.0.1:")
    assert "retailer-demo / retailer-demo-secret" in text
    assert "supplier-demo / supplier-demo-secret" in text
    assert "retailer-demo-token" in text


def test_the_served_sandbox_answers_health_and_a_token_request(served: Served) -> None:
    assert http("GET", f"{served.base_url}/_sandbox/health") == (200, '{"status": "ok"}')
    form = b"grant_type=client_credentials&client_id=supplier-demo&client_secret=supplier-demo-secret"
    status, body = http(
        "POST",
        f"{served.base_url}/api/v3/oauth2/token",
        form,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    token = json.loads(body)["access_token"]
    status, body = http(
        "POST",
        f"{served.base_url}/api/v3/conversation/list",
        b"{}",
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert (status, json.loads(body)) == (200, {"conversations": []})


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_server_cleanly(served: Served, sig: signal.Signals) -> None:
    served.process.send_signal(sig)
    assert served.process.wait(timeout=10) == 0


def test_sigint_stops_the_server_even_when_started_as_a_background_job_with_it_ignored() -> None:
    served = start("--no-rate-limit", preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        served.process.send_signal(signal.SIGINT)
        assert served.process.wait(timeout=10) == 0
    finally:
        served.stop()


def test_an_invalid_world_file_is_refused_before_serving(tmp_path: Path) -> None:
    world = tmp_path / "world.json"
    world.write_text(
        '{"format": "dsco-sandbox-world", "version": 1, "accounts": [], "tradingPartners": [{}]}'
    )
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "serve", "--port", "0", "--world", str(world)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "tradingPartners[0].dscoAccountId: required field is missing" in result.stderr
