"""Snapshots of a shared sandbox: a worker that starts from one is the worker that replayed the
whole log, and the log Redis keeps stays bounded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import redis
from flask import Flask
from http_support import ACME, CONTOSO, NORTHWIND, Api
from redis_support import RedisServer, eventually, free_port
from shared_support import SharedApi, shared_app
from webhook_support import Receiver, world_with_webhook
from werkzeug.test import TestResponse

from simulator.contract.validation import Contract
from simulator.domain.sandbox import Sandbox
from simulator.domain.state_parts import parts_of
from simulator.http import ServerConfig
from simulator.http.app import PENDING_WEBHOOKS
from simulator.http.workers import lead
from simulator.storage.shared.leader import Leadership
from simulator.storage.shared.replica import Replica

ANY = {"createdSince": "2023-01-01T00:00:00Z"}
LEGACY = {"Authorization": "Bearer retailer-demo-token"}  # the default world's retailer
TO_ACME = {"title": "hello", "otherPartyTradingPartnerId": "aaa-bbb-ccc", "initialMessage": {"message": "hi"}}
NOT_CHANGED_BY_CALLS = {"format", "version", "exportedAt", "world", PENDING_WEBHOOKS}
"""The parts no call here changes (the world is the shared start's; no account has a webhook)."""


def sandbox_of(app: Flask) -> Sandbox:
    found: Sandbox = app.extensions["dsco_sandbox"]
    return found


def replica_of(app: Flask) -> Replica:
    found: Replica = app.extensions["dsco_shared_replica"]
    return found


def shared_state(app: Flask, *left_out: str) -> dict[str, Any]:
    """The state every worker must agree on (taken under the lock, so caught up first); the pending
    deliveries are those the worker knows of, which a follower forgets only as the leader settles
    them."""
    document = sandbox_of(app).export_state()
    return {k: v for k, v in document.items() if k not in ("exportedAt", PENDING_WEBHOOKS, *left_out)}


def copy_sandbox(url: str, source: str, target: str) -> None:
    """A second sandbox in the same Redis with the very same history (its start and its log)."""
    client = redis.Redis.from_url(url)
    for key in ("base", "fence", "version", "log"):
        dumped = client.dump(f"{source}default:{key}")
        assert dumped is not None, key
        client.restore(f"{target}default:{key}", 0, dumped)


def answer(response: TestResponse) -> tuple[int, Any]:
    return response.status_code, response.get_json()


def test_a_worker_started_from_a_snapshot_answers_as_one_that_replayed_the_whole_log(
    contract: Contract, redis_server: RedisServer, redis_prefix: str
) -> None:
    url = redis_server.url
    settings: dict[str, Any] = {"rate_limit": True, "page_size": 2}
    writer = shared_app(contract, url, redis_prefix, **settings)
    api = SharedApi(writer.test_client(), sandbox_of(writer))
    for i in range(3):  # records, ids, notifications, the sequences
        made = api.conversation(NORTHWIND, title=f"c{i}")
        api.message(ACME, made["id"], f"m{i}")
    api.settle()
    api.sandbox.config.scroll_ttl = 600  # a setting changed by command
    first = api.list_conversations(ACME, ANY)  # an open scroll
    assert first.status_code == 200, first.get_data(as_text=True)
    scroll = first.get_json()["scrollId"]
    for _ in range(5):  # NORTHWIND's rate-limit window, full at this instant
        assert api.list_conversations(NORTHWIND, ANY).status_code == 200
    switched = writer.test_client().put("/_sandbox/personas", json={"supplier": {"accounts": ["2000002"]}})
    assert switched.status_code == 200, switched.get_data(as_text=True)

    # The same history twice: one worker replays all of it, another starts from a snapshot.
    copy = redis_prefix + "copy:"
    copy_sandbox(url, redis_prefix, copy)
    replayed = shared_app(contract, url, redis_prefix, **settings)
    with sandbox_of(shared_app(contract, url, copy, snapshot_every=1, **settings)).lock:
        pass  # catches up, finds no snapshot for two intervals and writes one
    loaded = shared_app(contract, url, copy, **settings)

    full, from_snapshot = shared_state(replayed), shared_state(loaded)
    assert replica_of(loaded).loaded == 1 and replica_of(loaded).replayed == 0
    assert replica_of(replayed).loaded == 0 and replica_of(replayed).replayed > 0
    start = replica_of(replayed)._initial
    unchanged = [
        part.name
        for part in parts_of(sandbox_of(replayed))
        if part.name not in NOT_CHANGED_BY_CALLS and full.get(part.name) == start.get(part.name)
    ]
    assert unchanged == [], "a part left as it started would not show whether the snapshot carries it"
    assert from_snapshot == full
    windows = sandbox_of(replayed).rate_limiter.windows()
    assert windows and sandbox_of(loaded).rate_limiter.windows() == windows

    def next_calls(app: Flask) -> list[tuple[int, Any]]:
        on = Api(app.test_client(), sandbox_of(app))
        on.adopt_tokens(api.tokens())  # the tokens issued before, valid on both
        return [
            answer(on.list_conversations(NORTHWIND, ANY)),  # refused: the window is full
            answer(on.list_conversations(ACME, {"scrollId": scroll})),  # the scroll goes on
            answer(on.create(CONTOSO, {"title": "next", "otherPartyTradingPartnerId": "acme-for-contoso"})),
        ]

    expected = next_calls(replayed)
    assert [status for status, _ in expected] == [429, 200, 201]
    assert next_calls(loaded) == expected


def test_a_snapshot_of_a_running_clock_reads_the_times_a_replay_reads(
    contract: Contract, redis_server: RedisServer, redis_prefix: str
) -> None:
    writer = shared_app(contract, redis_server.url, redis_prefix, snapshot_every=2)
    assert writer.test_client().post("/_sandbox/clock", json={"freeze": False}).status_code == 200
    api = SharedApi(writer.test_client(), sandbox_of(writer))
    api.conversation(NORTHWIND)  # its token is the second entry: a snapshot is written with it
    loaded = shared_app(contract, redis_server.url, redis_prefix, snapshot_every=0)
    other = Api(loaded.test_client(), sandbox_of(loaded))
    # Times come from Redis' clock, at whatever microsecond: the copy from the snapshot writes each
    # record with its clock, the writer replays it with the clock it kept all along.
    made = [other.conversation(NORTHWIND, title=f"t{i}")["createDate"] for i in range(6)]
    assert replica_of(loaded).loaded == 1
    # (a running clock's now is read at each hold's own instant)
    assert shared_state(writer, "clock") == shared_state(loaded, "clock")
    api.settle()
    assert [c["createDate"] for c in api.conversations(NORTHWIND, ANY) if c["title"].startswith("t")] == made


def test_the_log_is_trimmed_and_a_worker_behind_it_catches_up_from_the_snapshot(
    contract: Contract, redis_server: RedisServer, redis_prefix: str
) -> None:
    writer = shared_app(contract, redis_server.url, redis_prefix, snapshot_every=3)
    behind = shared_app(contract, redis_server.url, redis_prefix, snapshot_every=3)
    api = SharedApi(writer.test_client(), sandbox_of(writer))
    made = [api.conversation(NORTHWIND, title=f"c{i}")["id"] for i in range(10)]
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    keys = replica_of(writer).keys
    assert client.llen(keys.log) <= 2 * 3  # the entries since the snapshot before the last one
    assert int(client.get(keys.first) or 0) > replica_of(behind)._version
    other = SharedApi(behind.test_client(), sandbox_of(behind))
    other.settle()
    assert sorted(other.conversation_ids(NORTHWIND, ANY)) == sorted(made)
    assert replica_of(behind).loaded == 1
    assert shared_state(behind) == shared_state(writer)
    assert replica_of(writer).link.forget("default") == 6  # fence, version, log, base, snapshot, first
    assert client.keys(redis_prefix + "*") == []


def test_pending_webhook_deliveries_travel_in_snapshots_and_no_follower_sends_them(
    contract: Contract, redis_server: RedisServer, redis_prefix: str
) -> None:
    first, second = (shared_app(contract, redis_server.url, redis_prefix, snapshot_every=1) for _ in range(2))
    document = sandbox_of(first).export_state()
    hook = {
        "url": f"http://127.0.0.1:{free_port()}/hook",
        "body": "{}",
        "signature": "sha256=" + "0" * 64,
        "attempt": 1,
    }
    document[PENDING_WEBHOOKS] = {"n/1": hook}  # nobody listens there: it would stay pending
    imported = first.test_client().put("/_sandbox/state", json=document)
    assert imported.status_code == 200, imported.get_data(as_text=True)
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    assert PENDING_WEBHOOKS in (client.hget(replica_of(first).keys.snapshot, "state") or "")
    with sandbox_of(second).lock:
        assert replica_of(second).loaded == 1
    for app in (first, second):  # both know it is pending; neither leads, so neither sends it
        assert list(app.test_client().get("/_sandbox/state").json[PENDING_WEBHOOKS]) == ["n/1"]  # type: ignore[index]
        assert app.extensions["dsco_webhooks"].pending() == []


def test_a_worker_that_starts_from_a_snapshot_and_then_leads_resends_nothing_settled(
    contract: Contract, redis_server: RedisServer, redis_prefix: str, receiver: Receiver, tmp_path: Path
) -> None:
    started: list[Leadership] = []
    try:
        config = ServerConfig(world_path=world_with_webhook(tmp_path / "world.json", receiver.url))
        first = shared_app(contract, redis_server.url, redis_prefix, config, snapshot_every=1)
        started.append(lead(first))
        assert eventually(started[0].leading)
        created = first.test_client().post("/api/v3/conversation", json=TO_ACME, headers=LEGACY)
        assert created.status_code == 201, created.text
        assert receiver.wait_for(1)
        client = redis.Redis.from_url(redis_server.url, decode_responses=True)
        keys = replica_of(first).keys
        assert eventually(lambda: client.hlen(keys.deliveries) == 0 and client.get(keys.settled) == "1")
        started[0].stop()  # as if killed: its lease runs out
        late = shared_app(contract, redis_server.url, redis_prefix, config, snapshot_every=1)
        started.append(lead(late))
        assert eventually(started[1].leading)
        with sandbox_of(late).lock:
            assert replica_of(late).loaded == 1 and replica_of(late).replayed == 0
        time.sleep(0.3)  # room for a second delivery to show itself
        assert len(receiver.posts) == 1
    finally:
        for leadership in started:
            leadership.stop()
