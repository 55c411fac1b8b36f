"""Namespaces on a shared store: two workers (two apps on one Redis) serve the same namespaces."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from http_support import DEFAULT_PARTNER, LEGACY_TOKENS, NORTHWIND, plain_client
from redis_support import RedisServer, free_port

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig
from simulator.http.namespace_control import create_server_app
from simulator.http.namespaces import NamespaceOptions
from simulator.http.workers import share_app
from simulator.storage.shared.errors import SandboxGone

NAMESPACES = "/_sandbox/namespaces"
ADMIN = {"Authorization": "bearer server-secret"}


def worker(
    contract: Contract, url: str, prefix: str, admin_token: str | None = None, **options: Any
) -> Flask:
    config = ServerConfig(
        sandbox=SandboxConfig(rate_limit=False, lag_min=0, lag_max=0), admin_token=admin_token
    )
    app = create_server_app(config, NamespaceOptions(**options), contract=contract)
    share_app(app, url, prefix)
    return app


def two(contract: Contract, url: str, prefix: str, **options: Any) -> tuple[FlaskClient, FlaskClient]:
    return (
        plain_client(worker(contract, url, prefix, **options)),
        plain_client(worker(contract, url, prefix, **options)),
    )


@pytest.fixture
def webs(contract: Contract, redis_server: RedisServer, redis_prefix: str) -> tuple[FlaskClient, FlaskClient]:
    return two(contract, redis_server.url, redis_prefix)


def converse(web: FlaskClient, name: str, title: str) -> Any:
    return web.post(
        f"/ns/{name}/api/v3/conversation",
        json={"title": title, "otherPartyTradingPartnerId": DEFAULT_PARTNER[NORTHWIND]},
        headers={"Authorization": f"bearer {LEGACY_TOKENS[NORTHWIND]}"},
    )


def titles(web: FlaskClient, name: str) -> list[str]:
    """The titles in namespace ``name`` ("" for the default sandbox)."""
    state = web.get(f"/ns/{name}/_sandbox/state" if name else "/_sandbox/state").json
    assert state is not None
    return sorted(c["title"] for c in state["conversations"])


def names(web: FlaskClient) -> list[str]:
    listing = web.get(NAMESPACES)
    assert listing.status_code == 200, listing.text
    return [n["name"] for n in listing.json["namespaces"]]  # type: ignore[index]


def test_a_namespace_created_on_one_worker_is_used_listed_and_deleted_on_the_other(
    webs: tuple[FlaskClient, FlaskClient],
) -> None:
    a, b = webs
    assert a.post(NAMESPACES, json={"name": "team", "settings": {"pageSize": 7}}).status_code == 201
    assert converse(b, "team", "from b").status_code == 201
    assert converse(a, "team", "from a").status_code == 201
    assert titles(b, "team") == titles(a, "team") == ["from a", "from b"]
    assert b.get("/ns/team/_sandbox/config").json["pageSize"] == 7  # type: ignore[index]
    assert titles(a, "") == []  # the default sandbox is apart
    assert names(a) == names(b) == ["team"]
    one = b.get(f"{NAMESPACES}/team").json
    assert one is not None and one["conversations"] == 2
    assert a.post(NAMESPACES, json={"name": "team"}).status_code == 409  # taken, on any worker
    assert b.post(NAMESPACES, json={"name": "team"}).status_code == 409
    assert b.delete(f"{NAMESPACES}/team").status_code == 200
    for web in (a, b):
        gone = web.get("/ns/team/_sandbox/state")
        assert gone.status_code == 404
        assert "no such namespace on this server" in gone.text
        assert web.get(f"{NAMESPACES}/team").status_code == 404
        assert names(web) == []
    assert a.post(NAMESPACES, json={"name": "team"}).status_code == 201  # the name again: a new one
    assert titles(b, "team") == []


def test_an_unknown_namespace_is_404_on_both_workers(webs: tuple[FlaskClient, FlaskClient]) -> None:
    for web in webs:
        assert web.get("/ns/nobody/_sandbox/health").status_code == 404
        assert web.delete(f"{NAMESPACES}/nobody").status_code == 404


def test_two_workers_racing_for_the_last_free_slot_get_one_201_and_one_409(
    contract: Contract, redis_server: RedisServer, redis_prefix: str
) -> None:
    a, b = two(contract, redis_server.url, redis_prefix, cap=2)
    assert a.post(NAMESPACES, json={"name": "first"}).status_code == 201
    answers: dict[str, int] = {}
    start = threading.Barrier(2)

    def create(web: FlaskClient, name: str) -> None:
        start.wait()
        answers[name] = web.post(NAMESPACES, json={"name": name}).status_code

    threads = [threading.Thread(target=create, args=(web, name)) for web, name in ((a, "x"), (b, "y"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers.values()) == [201, 409]
    assert len(names(a)) == 2


def test_an_idle_namespace_expires_on_the_one_clock_unless_used_on_any_worker(
    webs: tuple[FlaskClient, FlaskClient], redis_server: RedisServer, redis_prefix: str
) -> None:
    a, b = webs
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    used = redis_prefix + "namespaces-used"

    def age(seconds: float) -> None:
        """Move the last use back on Redis' clock, as if ``seconds`` had passed since it."""
        client.hset(used, "brief", f"{float(client.hget(used, 'brief') or 0) - seconds:.6f}")

    assert a.post(NAMESPACES, json={"name": "brief", "idleTtl": 30}).status_code == 201
    assert a.post(NAMESPACES, json={"name": "kept"}).status_code == 201
    age(25)
    assert b.get("/ns/brief/_sandbox/health").status_code == 200  # used on b: idle again from now
    age(25)
    assert a.get("/ns/brief/_sandbox/health").status_code == 200  # so a finds it alive
    age(31)
    assert a.get("/ns/brief/_sandbox/health").status_code == 404
    assert b.get("/ns/brief/_sandbox/health").status_code == 404
    assert names(b) == ["kept"]
    assert client.keys(redis_prefix + "ns/brief/*") == []


def test_deleting_a_namespace_unlinks_its_own_keys_only(
    webs: tuple[FlaskClient, FlaskClient], redis_server: RedisServer, redis_prefix: str
) -> None:
    a, b = webs
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.set("someone-else:key", "kept")
    for name in ("gone", "stays"):
        assert a.post(NAMESPACES, json={"name": name}).status_code == 201
        assert converse(b, name, "x").status_code == 201
    own = redis_prefix + "ns/gone/"
    before = {str(key) for key in client.keys(redis_prefix + "*")}
    assert any(key.startswith(own) for key in before)
    assert b.delete(f"{NAMESPACES}/gone").status_code == 200
    after = {str(key) for key in client.keys(redis_prefix + "*")}
    assert before - after == {key for key in before if key.startswith(own)}
    assert client.get("someone-else:key") == "kept"
    assert titles(a, "stays") == ["x"]
    assert titles(a, "") == []  # the default sandbox's keys are untouched too


def test_a_copy_of_a_namespace_deleted_elsewhere_answers_404_and_writes_no_key(
    webs: tuple[FlaskClient, FlaskClient], redis_server: RedisServer, redis_prefix: str, monkeypatch: Any
) -> None:
    a, b = webs
    assert a.post(NAMESPACES, json={"name": "team"}).status_code == 201
    assert converse(b, "team", "x").status_code == 201
    registry = b.application.extensions["dsco_namespaces"]
    stale = registry.copy("team")
    assert a.delete(f"{NAMESPACES}/team").status_code == 200
    with pytest.raises(SandboxGone), stale.sandbox.lock:
        pass
    monkeypatch.setattr(registry, "use", lambda name: stale)  # as if looked up just before the delete
    answer = b.get("/ns/team/_sandbox/health")
    assert answer.status_code == 404
    assert "no such namespace on this server" in answer.text
    client = redis.Redis.from_url(redis_server.url)
    assert client.keys(redis_prefix + "ns/team/*") == []


def test_a_namespace_token_works_on_every_worker(
    contract: Contract, redis_server: RedisServer, redis_prefix: str
) -> None:
    a = plain_client(worker(contract, redis_server.url, redis_prefix, admin_token="server-secret"))
    b = plain_client(worker(contract, redis_server.url, redis_prefix, admin_token="server-secret"))
    made = a.post(NAMESPACES, json={"name": "own"}, headers=ADMIN)
    assert made.status_code == 201
    token = made.json["token"]  # type: ignore[index]
    assert b.get("/ns/own/_sandbox/state", headers={"Authorization": f"bearer {token}"}).status_code == 200
    assert b.get("/ns/own/_sandbox/state").status_code == 401
    assert b.get(NAMESPACES, headers={"Authorization": f"bearer {token}"}).status_code == 401


def test_a_worker_that_starts_later_builds_a_namespace_when_first_asked(
    contract: Contract, redis_server: RedisServer, redis_prefix: str
) -> None:
    early = plain_client(worker(contract, redis_server.url, redis_prefix))
    assert early.post(NAMESPACES, json={"name": "old"}).status_code == 201
    assert converse(early, "old", "before").status_code == 201
    late_app = worker(contract, redis_server.url, redis_prefix)
    registry = late_app.extensions["dsco_namespaces"]
    assert registry.copies() == set()  # nothing built, nothing replayed at start
    late = plain_client(late_app)
    assert titles(late, "old") == ["before"]
    assert registry.copies() == {"old"}


def test_redis_lost_while_serving_namespaces_answers_503_and_recovers(
    contract: Contract, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path, free_port(), durable=True)
    server.start()
    try:
        a, b = two(contract, server.url, "ns-faults:")
        assert a.post(NAMESPACES, json={"name": "kept"}).status_code == 201
        assert converse(b, "kept", "before").status_code == 201
        server.stop()
        for answer in (
            converse(a, "kept", "lost"),
            b.post(NAMESPACES, json={"name": "late"}),
            b.get(NAMESPACES),
            a.delete(f"{NAMESPACES}/kept"),
        ):
            assert answer.status_code == 503, answer.text
            assert answer.json["error"] == "store_unavailable"  # type: ignore[index]
        server.start()
        assert names(a) == names(b) == ["kept"]  # no half-made namespace, none deleted
        assert converse(a, "kept", "after").status_code == 201
        assert titles(b, "kept") == ["after", "before"]
    finally:
        server.stop()
