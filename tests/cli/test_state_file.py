"""``dsco-sandbox serve --state-file F``: a real server process that saves its state and reloads it.

The file is written atomically after every change and once more at shutdown; a restarted server
with the same file answers as the stopped one did. A file that cannot be loaded stops ``serve``
before it listens, naming the file.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from serve_support import Served, start

from simulator.contract.validation import Contract

pytestmark = pytest.mark.e2e

TIMEOUT = 10
RETAILER_FORM = {
    "grant_type": "client_credentials",
    "client_id": "retailer-demo",
    "client_secret": "retailer-demo-secret",
}


class Client:
    """Just enough of a client for these tests, over real HTTP with ``requests``."""

    def __init__(self, served: Served) -> None:
        self.base = served.base_url
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only: no proxy from the environment
        self.token = ""

    def login(self) -> str:
        response = self.session.post(f"{self.base}/api/v3/oauth2/token", data=RETAILER_FORM, timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        return self.token

    def api(self, path: str, body: dict[str, Any], expect: int) -> Any:
        response = self.session.post(
            f"{self.base}/api/v3{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=TIMEOUT,
        )
        assert response.status_code == expect, response.text
        return response.json()

    def create(self, title: str) -> str:
        body = {
            "title": title,
            "otherPartyTradingPartnerId": "aaa-bbb-ccc",
            "initialMessage": {"message": title},
        }
        conversation_id: str = self.api("/conversation", body, 201)["id"]
        return conversation_id

    def listed(self) -> list[str]:
        return [c["id"] for c in self.api("/conversation/list", {}, 200)["conversations"]]

    def control(self, method: str, route: str, body: Any = None) -> Any:
        response = self.session.request(method, f"{self.base}/_sandbox/{route}", json=body, timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def servers() -> Iterator[list[Served]]:
    """Every server a test starts; whatever is still running at the end is killed."""
    started: list[Served] = []
    yield started
    for served in started:
        served.stop()


def serve_with(servers: list[Served], state_file: Path) -> Client:
    served = start("--no-rate-limit", "--state-file", str(state_file))
    servers.append(served)
    return Client(served)


def stop(servers: list[Served]) -> None:
    """SIGTERM the last server started, as a container runtime or CI would, and check it exits 0."""
    served = servers[-1]
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=TIMEOUT) == 0, served.log_text()


def read_state(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return document


def test_a_state_file_survives_a_sigterm_of_a_real_serve_process_and_reloads(
    tmp_path: Path, servers: list[Served]
) -> None:
    state_file = tmp_path / "sandbox-state.json"
    first = serve_with(servers, state_file)
    token = first.login()
    created = [first.create("Where is my parcel?"), first.create("Invoice 17")]
    first.control("POST", "clock", {"advance": 10})
    assert first.listed() == created
    stop(servers)

    document = read_state(state_file)
    contract = Contract()
    assert contract.validate(contract.schema_uri("schemas/sandbox-state.json"), document) == []
    assert [c["id"] for c in document["conversations"]] == created

    second = serve_with(servers, state_file)
    second.token = token  # the token issued before the restart is still valid
    second.control("POST", "clock", {"advance": 10})
    assert second.listed() == created
    messages = second.api("/conversation/message/list", {}, 200)["messages"]
    assert [m["message"] for m in messages] == ["Where is my parcel?", "Invoice 17"]
    # New writes continue after the restored ones, with new ids.
    third = second.create("After the restart")
    assert third not in created
    second.control("POST", "clock", {"advance": 10})
    assert second.listed() == [*created, third]


def test_the_state_file_is_written_after_each_change_atomically(
    tmp_path: Path, servers: list[Served]
) -> None:
    state_file = tmp_path / "state.json"
    client = serve_with(servers, state_file)
    client.control("POST", "clock", {"freeze": True})
    client.control("POST", "clock", {"set": "2023-05-01T10:00:00Z"})
    assert read_state(state_file)["clock"] == {"now": "2023-05-01T10:00:00.000Z", "frozen": True}
    token = client.login()
    assert [t["accessToken"] for t in read_state(state_file)["tokens"]] == [token]
    conversation = client.create("Saved at once")
    assert [c["id"] for c in read_state(state_file)["conversations"]] == [conversation]
    assert len(read_state(state_file)["messages"]) == 1
    client.control("PUT", "config", {"pageSize": 7})
    assert read_state(state_file)["config"]["pageSize"] == 7
    client.control("POST", "reset")
    assert read_state(state_file)["conversations"] == []
    # Every write went through a temporary file renamed over the target: none is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    stop(servers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            '{"format": "dsco-sandbox-state", "version": 1, "wor', "not a JSON state document", id="torn"
        ),
        pytest.param("", "not a JSON state document", id="empty"),
        pytest.param('{"format": "dsco-sandbox-world"}', "format: ", id="not-a-state"),
    ],
)
def test_an_unusable_state_file_makes_serve_exit_2_naming_the_file(
    tmp_path: Path, content: str, expected: str
) -> None:
    state_file = tmp_path / "broken-state.json"
    state_file.write_text(content, "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "serve", "--port", "0", "--state-file", str(state_file)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert str(state_file) in result.stderr
    assert expected in result.stderr
    assert state_file.read_text("utf-8") == content  # refused, not overwritten
