"""A namespace on a shared store is led and snapshotted as the default sandbox is: one worker sends
its webhooks, its lead ends with it, and its log is trimmed behind a snapshot."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from http_support import DEFAULT_PARTNER, LEGACY_TOKENS, NORTHWIND, plain_client
from redis_support import RedisServer, eventually
from webhook_support import Receiver, world_with_webhook

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig
from simulator.http.namespace_control import create_server_app
from simulator.http.namespaces import NamespaceOptions
from simulator.http.shared_lead import LEADERSHIP
from simulator.http.workers import SHARED_NAMESPACES, lead, share_app
from simulator.webhooks import DELIVERY_HEADER

NAMESPACES = "/_sandbox/namespaces"


@pytest.fixture
def started() -> Iterator[list[Flask]]:
    """Workers whose leaderships run; stopped, with their namespaces' copies, after the test."""
    apps: list[Flask] = []
    yield apps
    for app in apps:
        app.extensions[LEADERSHIP].stop()
        app.extensions[SHARED_NAMESPACES].registry.close()


def worker(contract: Contract, url: str, prefix: str, world: Path | None, snapshot_every: int) -> Flask:
    config = ServerConfig(sandbox=SandboxConfig(rate_limit=False, lag_min=0, lag_max=0), world_path=world)
    app = create_server_app(config, NamespaceOptions(), contract=contract)
    share_app(app, url, prefix, snapshot_every, lead_millis=1000)
    return app


def converse(web: FlaskClient, title: str) -> None:
    made = web.post(
        "/ns/team/api/v3/conversation",
        json={
            "title": title,
            "otherPartyTradingPartnerId": DEFAULT_PARTNER[NORTHWIND],
            "initialMessage": {"message": "hi"},  # what notifies the supplier, whose webhook it is
        },
        headers={"Authorization": f"bearer {LEGACY_TOKENS[NORTHWIND]}"},
    )
    assert made.status_code == 201, made.text


def namespace_keys(client: redis.Redis, prefix: str) -> list[str]:
    return sorted(client.scan_iter(match=f"{prefix}ns/team/*"))


def test_a_namespaces_webhooks_are_sent_once_by_its_leader_and_its_lead_ends_with_it(
    contract: Contract,
    redis_server: RedisServer,
    redis_prefix: str,
    receiver: Receiver,
    started: list[Flask],
    tmp_path: Path,
) -> None:
    world = world_with_webhook(tmp_path / "world.json", receiver.url)
    started += [worker(contract, redis_server.url, redis_prefix, world, 10_000) for _ in range(2)]
    for app in started:
        lead(app)
    a, b = (plain_client(app) for app in started)
    assert a.post(NAMESPACES, json={"name": "team"}).status_code == 201
    for web in (b, a, b):  # both workers now have a copy, and so a leadership of the namespace
        converse(web, "hello")
    assert receiver.wait_for(3), f"{len(receiver.posts)} of 3 deliveries came"
    time.sleep(0.3)  # room for a second sender to show itself
    ids = [headers[DELIVERY_HEADER] for headers, _ in receiver.posts]
    assert len(ids) == len(set(ids)) == 3, ids
    copies = [app.extensions[SHARED_NAMESPACES].registry.copy("team") for app in started]
    leaderships = [copy.app.extensions[LEADERSHIP] for copy in copies if copy is not None]
    assert len(leaderships) == 2 and sum(leadership.leading() for leadership in leaderships) == 1

    assert a.delete(f"{NAMESPACES}/team").status_code == 200
    assert eventually(lambda: not any(leadership.leading() for leadership in leaderships))
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    time.sleep(0.5)  # a look of the worker that has not noticed yet recreates nothing
    assert namespace_keys(client, redis_prefix) == []


def test_a_namespaces_log_is_trimmed_behind_a_snapshot_and_another_worker_starts_from_it(
    contract: Contract, redis_server: RedisServer, redis_prefix: str
) -> None:
    writer = plain_client(worker(contract, redis_server.url, redis_prefix, None, 2))
    assert writer.post(NAMESPACES, json={"name": "team"}).status_code == 201
    for number in range(6):
        converse(writer, f"call {number}")
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    keys = namespace_keys(client, redis_prefix)
    [first] = [key for key in keys if key.endswith(":first")]
    [log] = [key for key in keys if key.endswith(":log")]
    [version] = [key for key in keys if key.endswith(":version")]
    assert int(client.get(first) or 0) > 0
    assert client.llen(log) < int(client.get(version) or 0)
    reader = plain_client(worker(contract, redis_server.url, redis_prefix, None, 2))
    state = reader.get("/ns/team/_sandbox/state").json
    assert state is not None
    assert sorted(c["title"] for c in state["conversations"]) == [f"call {n}" for n in range(6)]


def test_a_namespace_whose_only_holder_dies_is_led_by_the_default_sandboxs_leader(
    contract: Contract, redis_server: RedisServer, redis_prefix: str, started: list[Flask]
) -> None:
    first = worker(contract, redis_server.url, redis_prefix, None, 10_000)
    started.append(first)
    lead(first)
    assert eventually(first.extensions[LEADERSHIP].leading)  # the default sandbox's leader
    second = worker(contract, redis_server.url, redis_prefix, None, 10_000)
    started.append(second)
    lead(second)
    assert plain_client(second).post(NAMESPACES, json={"name": "team"}).status_code == 201
    # The first worker was never asked about the namespace; leading the default sandbox, it builds
    # its copy anyway, so that it can take over the namespace's lead.
    registry = first.extensions[SHARED_NAMESPACES].registry
    assert eventually(lambda: registry.copy("team") is not None)
    held = second.extensions[SHARED_NAMESPACES].registry.copy("team")
    assert held is not None and eventually(held.app.extensions[LEADERSHIP].leading)
    held.app.extensions[LEADERSHIP].stop()  # its only holder goes away, the lease left to run out
    copy = registry.copy("team")
    assert copy is not None and eventually(copy.app.extensions[LEADERSHIP].leading)
