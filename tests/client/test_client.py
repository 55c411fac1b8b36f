"""simulator.client against a real sandbox: tokens, retries, scrolling and the guide's polling."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from serve_support import Served, start

from simulator.client import DscoApiError, DscoClient

NORTHWIND = ("retailer-demo", "retailer-demo-secret")
ACME = ("supplier-demo", "supplier-demo-secret")


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    served = start("--no-rate-limit", "--lag", "0,0")
    yield served
    served.stop()


@pytest.fixture
def control(server: Served) -> Iterator[Any]:
    """Reset the sandbox and freeze its clock for each test."""
    base = f"{server.base_url}/_sandbox"
    requests.post(f"{base}/reset", timeout=10)
    requests.put(f"{base}/config", json={"faults": None, "pageSize": 100}, timeout=10)
    requests.post(f"{base}/clock", json={"freeze": True}, timeout=10)
    requests.post(f"{base}/clock", json={"set": "2023-05-01T10:00:00Z"}, timeout=10)

    class Control:
        def advance(self, seconds: float) -> None:
            requests.post(f"{base}/clock", json={"advance": seconds}, timeout=10)

        def now(self) -> datetime:
            text = requests.get(f"{base}/clock", timeout=10).json()["now"]
            return datetime.fromisoformat(text.replace("Z", "+00:00"))

        def config(self, **changes: Any) -> None:
            requests.put(f"{base}/config", json=changes, timeout=10).raise_for_status()

    yield Control()
    requests.post(f"{base}/clock", json={"freeze": False}, timeout=10)


def client(server: Served, credentials: tuple[str, str] = NORTHWIND, **options: Any) -> DscoClient:
    return DscoClient(server.base_url, *credentials, sleep=lambda _: None, **options)


def open_conversation(c: DscoClient) -> dict[str, Any]:
    return c.create_conversation({"title": "Late order", "otherPartyTradingPartnerId": "aaa-bbb-ccc"})


@pytest.mark.e2e
def test_the_token_is_fetched_once_and_reused(server: Served, control: Any) -> None:
    c = client(server)
    first = c.access_token()
    open_conversation(c)
    assert c.access_token() == first


@pytest.mark.e2e
def test_an_expired_token_is_renewed_on_401(server: Served, control: Any) -> None:
    c = client(server)
    open_conversation(c)
    old = c.access_token()
    control.advance(3601)  # sandbox time: the token is now expired, the client's own timer is not
    open_conversation(c)
    assert c.access_token() != old


@pytest.mark.e2e
def test_a_static_legacy_token_is_used_as_is(server: Served, control: Any) -> None:
    c = DscoClient(server.base_url, token="retailer-demo-token")
    assert open_conversation(c)["dscoRetailerId"] == "1000001"


@pytest.mark.e2e
def test_429_and_503_are_retried_until_the_call_succeeds(server: Served, control: Any) -> None:
    control.config(faults={"createConversation": {"forceStatus": 503, "forceCount": 2}})
    delays: list[float] = []
    c = DscoClient(server.base_url, *NORTHWIND, sleep=delays.append)
    assert open_conversation(c)["status"] == "new"
    assert delays == [0.5, 1.0]  # exponential backoff
    control.config(faults={"createConversation": {"forceStatus": 429, "forceCount": 1}})
    delays.clear()
    open_conversation(c)
    assert delays == [1.0]  # the sandbox's Retry-After: 1


@pytest.mark.e2e
def test_a_dropped_connection_is_retried_for_a_list_call(server: Served, control: Any) -> None:
    control.config(faults={"getConversations": {"dropNext": 1}})
    c = client(server)
    assert c.list_conversations({}) == {"conversations": []}


@pytest.mark.e2e
def test_a_dropped_connection_is_not_retried_for_a_create(server: Served, control: Any) -> None:
    control.config(faults={"createConversation": {"dropNext": 1}})
    c = client(server)
    c.access_token()
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        open_conversation(c)


@pytest.mark.e2e
def test_errors_that_retrying_cannot_fix_raise_with_the_sandbox_explanation(
    server: Served, control: Any
) -> None:
    c = client(server)
    with pytest.raises(DscoApiError) as caught:
        c.create_conversation({"title": "x" * 51, "otherPartyTradingPartnerId": "aaa-bbb-ccc"})
    assert caught.value.status == 400
    assert "title: 51 characters, at most 50 allowed" in str(caught.value)


@pytest.mark.e2e
def test_giving_up_after_max_retries_returns_the_last_error(server: Served, control: Any) -> None:
    control.config(faults={"createConversation": {"forceStatus": 503, "forceCount": 10}})
    with pytest.raises(DscoApiError) as caught:
        open_conversation(client(server, max_retries=2))
    assert caught.value.status == 503


@pytest.mark.e2e
def test_scroll_iteration_yields_every_item_once_across_pages(server: Served, control: Any) -> None:
    control.config(pageSize=3)
    c = client(server)
    created = [open_conversation(c)["id"] for _ in range(7)]
    control.advance(6)
    assert [conversation["id"] for conversation in c.iter_conversations({})] == created


@pytest.mark.e2e
def test_the_guides_polling_recipe_sees_every_message_exactly_once(server: Served, control: Any) -> None:
    retailer, supplier = client(server), client(server, ACME)
    conversation = open_conversation(retailer)
    since = control.now() - timedelta(seconds=1)
    seen: list[str] = []
    sent: list[str] = []
    for round_ in range(6):
        for _ in range(round_ % 3):
            sent.append(
                retailer.add_message({"dscoConversationId": conversation["id"], "message": "hi"})[
                    "dscoMessageId"
                ]
            )
            control.advance(0.7)
        control.advance(2)
        poll = supplier.poll_messages({}, since, now=control.now())
        seen += [m["dscoMessageId"] for m in poll.messages]
        since = poll.until
    control.advance(6)
    seen += [m["dscoMessageId"] for m in supplier.poll_messages({}, since, now=control.now()).messages]
    assert sorted(seen) == sorted(sent)
    assert len(seen) == len(set(seen))


def test_a_client_needs_credentials_or_a_token() -> None:
    with pytest.raises(ValueError, match="client_id and client_secret"):
        DscoClient("http://127.0.0.1:1")


def test_the_api_base_may_be_given_with_or_without_the_api_path() -> None:
    assert DscoClient("http://h:1/", token="t").api_url == "http://h:1/api/v3"
    assert DscoClient("https://staging.example/api/v3", token="t").api_url == "https://staging.example/api/v3"
    assert datetime.now(UTC)  # keep the import honest
