"""One worker at a time leads a shared sandbox: it alone ticks the personas and sends webhooks, and
another takes over, carrying on with the deliveries pending, when it dies."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests
from flask import Flask
from redis_support import RedisServer, eventually
from serve_support import start
from shared_support import shared_app
from webhook_support import SECRET, Receiver, world_with_webhook

from simulator.contract.validation import Contract
from simulator.domain.errors import StorageFailed
from simulator.http import ServerConfig
from simulator.http.app import PENDING_WEBHOOKS
from simulator.http.workers import REPLICA, lead
from simulator.storage.shared.leader import Leadership
from simulator.storage.shared.link import RedisLink
from simulator.webhooks import ATTEMPT_HEADER, DELIVERY_HEADER, SIGNATURE_HEADER, Delivery, verify

LEGACY = {"Authorization": "Bearer retailer-demo-token"}  # the default world's retailer
TO_ACME = {"title": "hello", "otherPartyTradingPartnerId": "aaa-bbb-ccc", "initialMessage": {"message": "hi"}}


@pytest.fixture
def leaderships() -> Iterator[list[Leadership]]:
    started: list[Leadership] = []
    yield started
    for leadership in started:
        leadership.stop()


def leading_pair(
    contract: Contract, server: RedisServer, prefix: str, config: ServerConfig, started: list[Leadership]
) -> tuple[Flask, Flask]:
    """Two in-process workers of one sandbox, the leader first."""
    apps = [shared_app(contract, server.url, prefix, config) for _ in range(2)]
    started += [lead(app) for app in apps]
    assert eventually(lambda: any(leadership.leading() for leadership in started[-2:]))
    if not started[-2].leading():
        apps.reverse()
        started[-2:] = reversed(started[-2:])
    return apps[0], apps[1]


def webhook_journal(app: Flask) -> list[dict[str, object]]:
    answer = app.test_client().get("/_sandbox/events?kind=webhook")
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, object]] = answer.json["events"]  # type: ignore[index]
    return entries


def test_only_the_leader_delivers_the_webhooks_raised_on_any_worker(
    contract: Contract,
    redis_server: RedisServer,
    redis_prefix: str,
    receiver: Receiver,
    leaderships: list[Leadership],
    tmp_path: Path,
) -> None:
    config = ServerConfig(world_path=world_with_webhook(tmp_path / "world.json", receiver.url))
    leader, follower = leading_pair(contract, redis_server, redis_prefix, config, leaderships)
    sent = {"leader": 0, "follower": 0}
    for name, app in (("leader", leader), ("follower", follower)):
        webhooks = app.extensions["dsco_sandbox"].extensions[PENDING_WEBHOOKS]
        reported = webhooks.on_report

        def counted(delivery: Delivery, name: str = name, reported: Callable[..., None] = reported) -> None:
            sent[name] += 1
            reported(delivery)

        webhooks.on_report = counted
    for app in (follower, leader, follower, follower):
        created = app.test_client().post("/api/v3/conversation", json=TO_ACME, headers=LEGACY)
        assert created.status_code == 201, created.text
    assert receiver.wait_for(4), f"{len(receiver.posts)} of 4 deliveries came"
    assert eventually(lambda: sent["leader"] == 4)
    time.sleep(0.3)  # room for a second sender to show itself
    ids = [headers[DELIVERY_HEADER] for headers, _ in receiver.posts]
    assert len(ids) == 4 and len(set(ids)) == 4, ids
    assert sent["follower"] == 0
    # Each worker's journal shows the attempts the leader made (recorded in the shared log).
    assert eventually(lambda: len(webhook_journal(leader)) == len(webhook_journal(follower)) == 4)
    record = redis.Redis.from_url(redis_server.url).hlen(f"{redis_prefix}default:deliveries")
    assert record == 0  # all settled: the mark covers them, no line is left


def test_a_worker_that_joins_and_leads_later_sends_nothing_settled_and_what_comes_next_once(
    contract: Contract,
    redis_server: RedisServer,
    redis_prefix: str,
    receiver: Receiver,
    leaderships: list[Leadership],
    tmp_path: Path,
) -> None:
    config = ServerConfig(world_path=world_with_webhook(tmp_path / "world.json", receiver.url))
    first = shared_app(contract, redis_server.url, redis_prefix, config)
    leaderships.append(lead(first))
    for _ in range(2):
        created = first.test_client().post("/api/v3/conversation", json=TO_ACME, headers=LEGACY)
        assert created.status_code == 201, created.text
    assert receiver.wait_for(2)
    leaderships[0].stop()  # as if killed
    late = shared_app(contract, redis_server.url, redis_prefix, config)  # replays the whole log
    leaderships.append(lead(late))
    assert eventually(lambda: leaderships[1].leading())
    created = late.test_client().post("/api/v3/conversation", json=TO_ACME, headers=LEGACY)
    assert created.status_code == 201, created.text
    assert receiver.wait_for(3)
    time.sleep(0.3)
    ids = [headers[DELIVERY_HEADER] for headers, _ in receiver.posts]
    assert len(ids) == len(set(ids)) == 3, ids


def test_a_call_answered_503_raises_no_delivery(
    contract: Contract,
    redis_server: RedisServer,
    redis_prefix: str,
    receiver: Receiver,
    leaderships: list[Leadership],
    tmp_path: Path,
) -> None:
    config = ServerConfig(world_path=world_with_webhook(tmp_path / "world.json", receiver.url))
    _, follower = leading_pair(contract, redis_server, redis_prefix, config, leaderships)
    link = follower.extensions[REPLICA].link
    commit = link.commit

    def expired(keys: object, token: str, version: int, entries: list[str]) -> int:
        commit(keys, token, version, [])  # the lock is let go, the entry is not appended
        return -1

    link.commit = expired  # as when the hold expired before the entry could be appended
    # The app's 201 is replaced by the 503 (start_response with exc_info), which Werkzeug's test
    # client raises where a real server sends the 503.
    with pytest.raises(StorageFailed, match="expired before it could save"):
        follower.test_client().post("/api/v3/conversation", json=TO_ACME, headers=LEGACY)
    link.commit = commit
    created = follower.test_client().post("/api/v3/conversation", json=TO_ACME, headers=LEGACY)
    assert created.status_code == 201, created.text
    assert receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.posts) == 1
    assert follower.test_client().get("/_sandbox/state").json.get(PENDING_WEBHOOKS) is None  # type: ignore[union-attr]


def test_only_the_leaders_ticker_runs_the_personas_and_another_takes_over(
    contract: Contract, redis_server: RedisServer, redis_prefix: str, leaderships: list[Leadership]
) -> None:
    config = ServerConfig(persona_tick=0.05)
    leader, follower = leading_pair(contract, redis_server, redis_prefix, config, leaderships)
    ticks = {"leader": 0, "follower": 0}
    for name, app in (("leader", leader), ("follower", follower)):
        personas = app.extensions["dsco_personas"]
        catch_up = personas.catch_up

        def counted(name: str = name, catch_up: Callable[[], int] = catch_up) -> int:
            ticks[name] += 1
            return catch_up()

        personas.catch_up = counted
    switched = follower.test_client().put("/_sandbox/personas", json={"retailer": {"accounts": ["1000001"]}})
    assert switched.status_code == 200, switched.text
    assert eventually(lambda: ticks["leader"] >= 5)
    assert ticks["follower"] == 0

    leaderships[0].stop()  # as if killed: it renews no more, and stops acting once unsure
    assert eventually(lambda: leaderships[1].leading())
    assert not leaderships[0].leading()
    before = ticks["leader"]
    assert eventually(lambda: ticks["follower"] >= 5)
    assert ticks["leader"] == before


def _leader_pid(url: str, prefix: str) -> int:
    token = redis.Redis.from_url(url, decode_responses=True).get(f"{prefix}default:leader")
    assert token is not None, "no worker leads"
    return int(str(token).split(":")[-2])  # host:pid:fence


def test_a_delivery_in_retry_when_the_leader_is_killed_is_made_by_the_next_leader(
    redis_server: RedisServer, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.statuses = [500, 204]
    prefix = f"leader-{os.getpid()}:"
    served = start(
        *("--store", redis_server.url, "--redis-prefix", prefix, "--workers", "2", "--threads", "2"),
        *("--max-namespaces", "0", "--no-rate-limit"),
        *("--world", str(world_with_webhook(tmp_path / "world.json", receiver.url))),
    )
    try:
        created = requests.post(
            f"{served.base_url}/api/v3/conversation", json=TO_ACME, headers=LEGACY, timeout=10
        )
        assert created.status_code == 201, created.text
        assert receiver.wait_for(1), "the first attempt never came"
        os.kill(_leader_pid(redis_server.url, prefix), signal.SIGKILL)  # its retry was 0.5 s away
        assert receiver.wait_for(2, timeout=15), "no other worker carried on with the delivery"
        (first, body), (again, body_again) = receiver.posts[:2]
        assert again[DELIVERY_HEADER] == first[DELIVERY_HEADER]
        assert body_again == body and verify(SECRET, body_again, again[SIGNATURE_HEADER])
        assert again[ATTEMPT_HEADER] in ("1", "2")  # at least once: the record may not have said 1 failed
        time.sleep(0.5)
        assert len(receiver.posts) == 2  # delivered (204): nobody sends it again
    finally:
        assert served.stop() == 0


def test_a_settlement_that_lands_after_a_later_mark_leaves_no_line(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    # The dispatcher reports attempts from several threads, so a report that computed an older mark
    # can reach Redis after one that moved the mark past it: its line is settled all the same.
    link = RedisLink(redis_server.url, redis_prefix)
    keys = link.keys("default")
    token = link.lead(keys, "test", 3000)
    assert token is not None
    assert link.settle(keys, token, "d3", "3:done", 4)
    assert link.settle(keys, token, "d4", "4:done", 2)  # computed while d3 was still pending
    assert link.settle(keys, token, "d5", "5:2", 4)  # a retry still to come keeps its line
    assert link.deliveries(keys) == (4, {"d5": "5:2"})


def test_a_worker_stopped_with_sigterm_lets_go_of_its_lead_at_once(redis_server: RedisServer) -> None:
    prefix = f"resign-{os.getpid()}:"
    served = start(
        *("--store", redis_server.url, "--redis-prefix", prefix, "--workers", "2", "--threads", "2"),
        "--no-rate-limit",
    )
    try:
        assert eventually(
            lambda: redis.Redis.from_url(redis_server.url).exists(f"{prefix}default:leader") == 1
        )
        pid = _leader_pid(redis_server.url, prefix)
        os.kill(pid, signal.SIGTERM)
        assert eventually(lambda: not _alive(pid)), "the worker did not stop"
        # Its 3 s lease is not left to run out: it is gone, or already another worker's.
        token = redis.Redis.from_url(redis_server.url, decode_responses=True).get(f"{prefix}default:leader")
        assert token is None or int(str(token).split(":")[-2]) != pid
    finally:
        assert served.stop() == 0


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a worker ended but not yet reaped by its supervisor counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
