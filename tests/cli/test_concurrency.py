"""Many clients at once through a real ``serve``: nothing is lost, repeated or torn.

Eight threads, each with its own connection, post 25 messages each into the same three
conversations, as both parties, through ``dsco-sandbox serve`` on loopback (rate limit off). Then the
clock jumps past the lag and the 5-second margin and every message is listed: each 201 appears
exactly once, its id unique, in its own conversation, in (createDate, id-order) sequence. A second
test races eight creates for one reference id: exactly one wins.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from serve_support import Served, start

pytestmark = pytest.mark.e2e

THREADS = 8
CALLS_PER_THREAD = 25
TIMEOUT = 60.0
"""Seconds the whole concurrent phase may take before the test gives up."""
NORTHWIND = "retailer-demo-token"
ACME = "supplier-demo-token"


@pytest.fixture
def served() -> Iterator[Served]:
    server = start("--no-rate-limit", "--threads", "8")
    yield server
    if server.process.poll() is None:
        server.process.terminate()
        server.process.wait(timeout=10)


class Client:
    def __init__(self, base_url: str, token: str) -> None:
        self.api = f"{base_url}/api/v3"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"bearer {token}"

    def call(self, method: str, path: str, body: dict[str, Any]) -> requests.Response:
        response = self.session.request(method, f"{self.api}{path}", json=body, timeout=20)
        assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text}"
        return response

    def all_messages(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        request = dict(body)
        for _ in range(100):
            response = self.call("POST", "/conversation/message/list", request)
            assert response.status_code == 200, response.text
            page = response.json()
            found.extend(page["messages"])
            if "scrollId" not in page:
                return found
            request = {"scrollId": page["scrollId"]}
        raise AssertionError("a scroll that never ends")


def control(base_url: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.request(method, f"{base_url}/_sandbox{path}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def in_parallel(work: Callable[[int], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Run ``work(thread_number)`` on THREADS threads that start together; collect their results."""
    barrier = threading.Barrier(THREADS)

    def run(number: int) -> list[dict[str, Any]]:
        barrier.wait(timeout=TIMEOUT)
        return work(number)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(run, number) for number in range(THREADS)]
        return [item for future in futures for item in future.result(timeout=TIMEOUT)]


def test_concurrent_posts_are_all_listed_exactly_once(served: Served) -> None:
    base = served.base_url
    northwind = Client(base, NORTHWIND)
    conversations = []
    for number in range(3):
        response = northwind.call(
            "POST",
            "/conversation",
            {
                "title": f"Busy conversation {number}",
                "otherPartyTradingPartnerId": "aaa-bbb-ccc",
                "type": {"type": "customer_care", "consumerId": f"C-{number}"},
            },
        )
        assert response.status_code == 201, response.text
        conversations.append(response.json()["id"])

    def post_many(number: int) -> list[dict[str, Any]]:
        clients = {"retailer": Client(base, NORTHWIND), "supplier": Client(base, ACME)}
        posted = []
        for call in range(CALLS_PER_THREAD):
            role = "retailer" if (number + call) % 2 else "supplier"
            conversation = conversations[(number * CALLS_PER_THREAD + call) % len(conversations)]
            text = f"thread {number} call {call}"
            response = clients[role].call(
                "POST", "/conversation/message", {"dscoConversationId": conversation, "message": text}
            )
            assert response.status_code == 201, response.text
            message = response.json()
            assert (message["dscoConversationId"], message["message"]) == (conversation, text)
            posted.append(message)
        return posted

    posted = in_parallel(post_many)

    assert len(posted) == THREADS * CALLS_PER_THREAD
    ids = [m["dscoMessageId"] for m in posted]
    assert len(set(ids)) == len(ids), "two posts got the same message id"
    control(base, "POST", "/clock", {"advance": 10})
    control(base, "PUT", "/config", {"pageSize": 1000})

    for reader in (northwind, Client(base, ACME)):
        listed = reader.all_messages({})
        listed_ids = [m["dscoMessageId"] for m in listed]
        duplicates = [i for i, n in Counter(listed_ids).items() if n > 1]
        assert not duplicates, f"listed more than once: {duplicates}"
        assert set(listed_ids) == set(ids), "a posted message is missing, or an unknown one appeared"
        keys = [(m["createDate"], m["dscoMessageId"]) for m in listed]
        assert [k[0] for k in keys] == sorted(k[0] for k in keys), "not in createDate order"
    for conversation in conversations:
        listed = northwind.all_messages({"dscoConversationId": conversation})
        expected = {m["dscoMessageId"] for m in posted if m["dscoConversationId"] == conversation}
        listed_ids = [m["dscoMessageId"] for m in listed]
        assert len(listed_ids) == len(set(listed_ids)) == len(expected)
        assert set(listed_ids) == expected, "a message listed under the wrong conversation, or missing"
    # The supplier answered, so every conversation moved to in_progress, and none was torn.
    found = northwind.call("POST", "/conversation/list", {}).json()["conversations"]
    assert sorted(c["id"] for c in found) == sorted(conversations)
    assert {c["status"] for c in found} == {"in_progress"}


def test_racing_creates_for_one_reference_id_leave_exactly_one_winner(served: Served) -> None:
    base = served.base_url

    def create(number: int) -> list[dict[str, Any]]:
        response = Client(base, NORTHWIND).call(
            "POST",
            "/conversation",
            {
                "title": f"Racer {number}",
                "otherPartyTradingPartnerId": "aaa-bbb-ccc",
                "referenceId": "RACE-1",
            },
        )
        return [{"status": response.status_code, "body": response.text}]

    results = in_parallel(create)

    assert sorted(r["status"] for r in results) == [201] + [400] * (THREADS - 1), results
    control(base, "POST", "/clock", {"advance": 10})
    found = (
        Client(base, NORTHWIND)
        .call("POST", "/conversation/list", {"retailerReferenceId": "RACE-1"})
        .json()["conversations"]
    )
    assert len(found) == 1
