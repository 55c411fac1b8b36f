"""Concurrent writers on two workers, a race on one conversation, and Redis lost while serving."""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask
from http_support import ACME, NORTHWIND, Api, CheckedClient
from redis_support import RedisServer, free_port
from shared_support import SharedApi, alternating_api, pair

from simulator.contract.validation import Contract
from simulator.domain.sandbox import Sandbox

EVERYTHING = {"createdSince": "2023-01-01T00:00:00Z"}


def api_on(app: Flask) -> SharedApi:
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    return SharedApi(app.test_client(), sandbox)


def test_sixteen_concurrent_writers_on_two_workers_keep_every_acknowledged_write_once(
    workers: tuple[Flask, Flask],
) -> None:
    acknowledged: list[str] = []
    failures: list[str] = []
    guard = threading.Lock()

    def writer(index: int) -> None:
        api = api_on(workers[index % 2])
        for round_ in range(5):
            response = api.create(
                NORTHWIND, {"title": f"w{index}-{round_}", "otherPartyTradingPartnerId": "aaa-bbb-ccc"}
            )
            with guard:
                if response.status_code == 201:
                    acknowledged.append(response.get_json()["id"])
                else:
                    failures.append(response.get_data(as_text=True))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    assert len(acknowledged) == 80
    first, second = api_on(workers[0]), api_on(workers[1])
    first.settle()
    for api in (first, second):
        listed = api.conversation_ids(NORTHWIND, EVERYTHING)
        assert sorted(listed) == sorted(acknowledged)
        assert len(set(listed)) == len(listed)


def test_a_conversation_closed_and_messaged_at_once_ends_as_one_process_could_end(
    workers: tuple[Flask, Flask],
) -> None:
    first, second = api_on(workers[0]), api_on(workers[1])
    conversation = first.conversation(NORTHWIND)["id"]
    first.token(NORTHWIND)
    second.token(ACME)
    answers: dict[str, int] = {}

    def close() -> None:
        answers["close"] = first.update(
            NORTHWIND, {"dscoConversationId": conversation, "status": "closed"}
        ).status_code

    def message() -> None:
        body = {"dscoConversationId": conversation, "message": "late"}
        answers["message"] = second.post_message(ACME, body).status_code

    threads = [threading.Thread(target=close), threading.Thread(target=message)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert answers["close"] == 200
    first.settle()
    messages = [
        m for api in (first, second) for m in [api.messages(NORTHWIND, {"dscoConversationId": conversation})]
    ]
    assert messages[0] == messages[1]  # both workers tell the same story
    if answers["message"] == 201:  # the message came first, then the close
        assert [m["message"] for m in messages[0]] == ["late"]
    else:  # the close came first: a closed conversation takes no message, and none was kept
        assert answers["message"] == 409 or answers["message"] == 400
        assert messages[0] == []


def test_redis_lost_while_serving_answers_503_and_recovers_when_it_returns(
    contract: Contract, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path, free_port(), durable=True)
    server.start()
    try:
        workers = pair(contract, server.url, "faults:")
        api = alternating_api(workers)
        kept = api.conversation(NORTHWIND)["id"]
        token = api.token(NORTHWIND)
        server.stop()
        plain = workers[1].test_client()  # not the checking client: a 503 is the point here
        plain.__class__ = type(plain).__mro__[1] if isinstance(plain, CheckedClient) else type(plain)
        refused = plain.post(
            "/api/v3/conversation",
            json={"title": "lost", "otherPartyTradingPartnerId": "aaa-bbb-ccc"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert refused.status_code == 503
        assert refused.get_json()["error"] == "store_unavailable"
        assert "the shared store" in refused.get_json()["error_description"]
        control = plain.get("/_sandbox/clock")  # the control plane answers JSON with a code
        assert control.status_code == 503
        assert control.get_json()["error"] == "store_unavailable"
        server.start()  # the same port and folder: the append-only file brings the data back
        second = api_on(workers[1])
        again = second.conversation(NORTHWIND)["id"]
        second.settle()
        listed = api_on(workers[0]).conversation_ids(NORTHWIND, EVERYTHING)
        assert sorted(listed) == sorted([kept, again])  # nothing of the refused call was kept
    finally:
        server.stop()


def test_a_worker_that_starts_later_replays_everything_before_it(
    contract: Contract, redis_server: RedisServer, redis_prefix: str
) -> None:
    early = pair(contract, redis_server.url, redis_prefix)
    made = api_on(early[0]).conversation(NORTHWIND)["id"]
    late = pair(contract, redis_server.url, redis_prefix)[0]
    api = api_on(late)
    api.settle()
    assert api.conversation_ids(NORTHWIND, EVERYTHING) == [made]


def test_a_worker_started_with_other_settings_is_refused(
    contract: Contract, redis_server: RedisServer, redis_prefix: str
) -> None:
    import pytest

    from simulator.storage.shared.errors import SharedStoreError

    pair(contract, redis_server.url, redis_prefix)
    with pytest.raises(SharedStoreError, match="other settings"):
        pair(contract, redis_server.url, redis_prefix, page_size=3)


_ = Api


def test_forgetting_a_sandbox_unlinks_its_own_keys_and_nothing_else(
    workers: tuple[Flask, Flask], redis_server: RedisServer, redis_prefix: str
) -> None:
    import redis

    api_on(workers[0]).conversation(NORTHWIND)
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.set("someone-else:key", "kept")
    client.set(redis_prefix + "defaultish", "kept too")  # another sandbox name under the same prefix
    replica = workers[0].extensions["dsco_shared_replica"]
    assert replica.link.forget("default") >= 3  # lock, fence, version, log, base: whichever exist
    assert client.keys(redis_prefix + "default:*") == []
    assert client.get("someone-else:key") == "kept"
    assert client.get(redis_prefix + "defaultish") == "kept too"
