"""Two workers on one Redis serve one sandbox: what one writes, the other reads and continues."""

from __future__ import annotations

from flask import Flask
from http_support import ACME, LAG, NORTHWIND, START, Api, CheckedClient
from redis_support import RedisServer
from shared_support import SharedApi, alternating_api, pair

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.domain.sandbox import Sandbox
from simulator.http import ServerConfig, create_app

ANY = {"createdSince": "2023-01-01T00:00:00Z"}
"""A criterion every fresh conversation meets (a list call needs one)."""


def sandbox_of(app: Flask) -> Sandbox:
    found: Sandbox = app.extensions["dsco_sandbox"]
    return found


def test_a_conversation_created_on_one_worker_is_read_on_the_other(workers: tuple[Flask, Flask]) -> None:
    first = Api(workers[0].test_client(), sandbox_of(workers[0]))
    second = SharedApi(workers[1].test_client(), sandbox_of(workers[1]))
    created = first.conversation(NORTHWIND)
    second.settle()  # past the post-processing lag, on every worker
    assert second.conversation_ids(NORTHWIND, ANY) == [created["id"]]
    assert second.conversation_ids(ACME, ANY) == [created["id"]]


def test_a_scroll_opened_on_one_worker_continues_on_the_other(
    contract: Contract, redis_server: RedisServer, redis_prefix: str
) -> None:
    workers = pair(contract, redis_server.url, redis_prefix, page_size=2)
    api = alternating_api(workers)
    made = [api.conversation(NORTHWIND, title=f"t{i}")["id"] for i in range(5)]
    api.settle()
    first = api.list_conversations(NORTHWIND, ANY)
    assert first.status_code == 200, first.get_data(as_text=True)
    seen = [c["id"] for c in first.get_json()["conversations"]]
    scroll = first.get_json().get("scrollId")
    while scroll:
        page = api.list_conversations(NORTHWIND, {"scrollId": scroll})  # each page on the other worker
        assert page.status_code == 200, page.get_data(as_text=True)
        seen += [c["id"] for c in page.get_json()["conversations"]]
        scroll = page.get_json().get("scrollId")
    assert sorted(seen) == sorted(made)


def test_the_rate_limit_holds_across_workers(
    contract: Contract, redis_server: RedisServer, redis_prefix: str
) -> None:
    api = alternating_api(pair(contract, redis_server.url, redis_prefix, rate_limit=True))
    api.token(NORTHWIND)
    statuses = [api.list_conversations(NORTHWIND, ANY).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_the_same_calls_in_the_same_order_give_the_same_ids_as_one_process(
    api: SharedApi, contract: Contract
) -> None:
    config = SandboxConfig(rate_limit=False, lag_min=LAG, lag_max=LAG)
    alone = create_app(ServerConfig(sandbox=config), contract=contract)
    alone.test_client_class = CheckedClient
    sandbox_of(alone).clock.restore(START, frozen=True)
    single = Api(alone.test_client(), sandbox_of(alone))

    def run(on: Api) -> list[str]:
        ids = []
        for i in range(3):
            created = on.conversation(NORTHWIND, title=f"same {i}")
            ids.append(created["id"])
            ids.append(on.message(ACME, created["id"], f"hi {i}")["dscoMessageId"])
        return ids

    assert run(api) == run(single)


def test_a_clock_command_on_one_worker_moves_every_worker(workers: tuple[Flask, Flask]) -> None:
    one, other = (w.test_client() for w in workers)
    moved = one.post("/_sandbox/clock", json={"set": "2031-01-02T03:04:05Z"})
    assert moved.status_code == 200, moved.get_data(as_text=True)
    assert other.get("/_sandbox/clock").get_json()["now"] == "2031-01-02T03:04:05.000Z"


def test_personas_switched_on_one_worker_act_once_for_every_worker(
    workers: tuple[Flask, Flask], contract: Contract
) -> None:
    config = SandboxConfig(rate_limit=False, lag_min=LAG, lag_max=LAG)
    alone = create_app(ServerConfig(sandbox=config), contract=contract)
    sandbox_of(alone).clock.restore(START, frozen=True)

    def play(first: Flask, second: Flask) -> list[tuple[str, str]]:
        one, other = first.test_client(), second.test_client()
        switched = one.put("/_sandbox/personas", json={"retailer": {"accounts": ["1000001"]}})
        assert switched.status_code == 200, switched.get_data(as_text=True)
        for _ in range(3):  # an hour of sandbox time, advanced from the other worker
            assert other.post("/_sandbox/clock", json={"advance": 1200}).status_code == 200
        with sandbox_of(first).lock:
            return sorted((c.id, c.title) for c in sandbox_of(first).store.all_conversations())

    shared = play(*workers)
    assert shared, "the personas did nothing in an hour"
    assert shared == play(alone, alone)  # as many actions as one process makes, no more
    with sandbox_of(workers[1]).lock:
        assert sorted((c.id, c.title) for c in sandbox_of(workers[1]).store.all_conversations()) == shared


def test_tokens_swept_on_one_worker_are_swept_alike_on_the_other(workers: tuple[Flask, Flask]) -> None:
    # The sandbox clock stands years before Redis' clock: a sweep of expired tokens (made once the
    # table passes 1024) must read the sandbox clock on the replaying worker too.
    one, other = (sandbox_of(app) for app in workers)
    form = {
        "grant_type": "client_credentials",
        "client_id": NORTHWIND,
        "client_secret": f"{NORTHWIND}-secret",
    }
    with one.lock:  # one hold, one entry: quick
        for _ in range(1030):
            one.issue_token(form)
        issued = list(one.auth.issued)
    with other.lock:
        assert list(other.auth.issued) == issued
