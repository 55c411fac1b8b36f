"""Run-time settings and injected faults through ``/_sandbox/config``, and the admin token.

Every accepted change takes effect on the next call; a refused one is a 400 naming the field, and
changes nothing at all (GET before == GET after). Tests that inject a 5xx on purpose, or a status
the vendor contract does not document, call through :func:`plain_client`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask
from http_support import (
    ACME,
    API,
    NORTHWIND,
    Api,
    Control,
    error_lines,
    plain_client,
    schema_problems,
)

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.domain.sandbox import Sandbox
from simulator.http import ServerConfig, create_app


@pytest.fixture
def unchecked(app: Flask, sandbox: Sandbox) -> Api:
    """The fixtures' sandbox, called through a client that lets injected 5xx answers through."""
    return Api(plain_client(app), sandbox)


def create_body(title: str = "A question") -> dict[str, Any]:
    return {"title": title, "otherPartyTradingPartnerId": "aaa-bbb-ccc"}


# --- reading and changing settings ----------------------------------------------------------------
def test_get_config_shows_every_field_of_the_schema_and_fits_it(app: Flask, control: Control) -> None:
    config = control.config()
    schema_path = app.extensions["dsco_contract"].root / "schemas" / "sandbox-config.json"
    schema = json.loads(schema_path.read_text("utf-8"))
    assert set(config) == set(schema["properties"]) == set(schema["required"])
    assert schema_problems(app, "sandbox-config.json", config) == []
    assert config["pageSize"] == 100
    assert config["lag"] == {"min": 1.0, "max": 1.0}  # the fixtures' fixed lag
    assert config["rateLimit"] == {"enabled": False, "perSecond": 5}
    assert (config["scrollTtl"], config["tokenTtl"], config["untilMargin"]) == (300, 3600, 5)
    assert config["faults"] == {}


def test_a_partial_update_changes_only_what_it_sends_and_answers_every_setting(
    app: Flask, control: Control
) -> None:
    before = control.config()
    after = control.configure({"pageSize": 3, "lag": {"max": 2}, "rateLimit": {"perSecond": 9}})
    assert schema_problems(app, "sandbox-config.json", after) == []
    expected = {
        **before,
        "pageSize": 3,
        "lag": {"min": 1.0, "max": 2},
        "rateLimit": {"enabled": False, "perSecond": 9},
    }
    assert after == expected
    assert control.config() == expected


def test_every_setting_can_be_changed_at_once(control: Control, sandbox: Sandbox) -> None:
    changes = {
        "pageSize": 7,
        "lag": {"min": 0, "max": 0.5},
        "rateLimit": {"enabled": True, "perSecond": 3},
        "scrollTtl": 60,
        "tokenTtl": 120,
        "untilMargin": 2,
        "strict": True,
        "validateResponses": False,
        "journalSize": 50,
    }
    after = control.configure(changes)
    assert {key: after[key] for key in changes} == changes
    config = sandbox.config
    assert (config.page_size, config.lag_min, config.lag_max) == (7, 0, 0.5)
    assert (config.rate_limit, config.rate_limit_per_second) == (True, 3)
    assert (config.scroll_ttl, config.token_ttl, config.until_margin) == (60, 120, 2)
    assert (config.strict, config.validate_responses, sandbox.journal.size) == (True, False, 50)


def test_page_size_3_pages_seven_conversations_in_three_pages(api: Api, control: Control) -> None:
    control.configure({"pageSize": 3})
    created = [api.conversation(NORTHWIND, title=f"question {i}")["id"] for i in range(7)]
    api.settle()
    pages: list[list[str]] = []
    body: dict[str, Any] = {}
    while True:
        page = api.list_conversations(NORTHWIND, body).json
        assert page is not None
        pages.append([c["id"] for c in page["conversations"]])
        if "scrollId" not in page:
            break
        body = {"scrollId": page["scrollId"]}
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == created


def test_strict_mode_turns_unknown_fields_from_a_warning_into_a_400(api: Api, control: Control) -> None:
    lenient = api.create(NORTHWIND, {**create_body(), "colour": "red"})
    assert lenient.status_code == 201
    assert "colour" in lenient.headers["X-Sandbox-Warning"]
    control.configure({"strict": True})
    strict = api.create(NORTHWIND, {**create_body(), "colour": "red"})
    assert strict.status_code == 400
    assert error_lines(strict) == ["colour: unknown field (the sandbox runs in strict mode)"]
    control.configure({"strict": False})
    assert api.create(NORTHWIND, {**create_body(), "colour": "red"}).status_code == 201


def test_a_rate_limit_of_2_per_second_refuses_the_third_call(api: Api, control: Control) -> None:
    api.token(NORTHWIND)
    control.configure({"rateLimit": {"enabled": True, "perSecond": 2}})
    statuses = [api.list_conversations(NORTHWIND).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = api.list_conversations(NORTHWIND)
    assert refused.headers["Retry-After"] == "1"
    assert "allows 2 calls per second" in refused.get_data(as_text=True)
    control.configure({"rateLimit": {"enabled": False}})
    assert [api.list_conversations(NORTHWIND).status_code for _ in range(10)] == [200] * 10


def test_a_new_lag_applies_to_the_next_write(api: Api, control: Control, sandbox: Sandbox) -> None:
    control.configure({"lag": {"min": 8, "max": 8}})
    conversation = api.conversation(NORTHWIND)
    stored = sandbox.store.conversation(conversation["id"])
    assert stored is not None and stored.visible_at - stored.create_time == 8_000_000


def test_a_new_token_ttl_applies_to_tokens_issued_after_it(api: Api, control: Control) -> None:
    control.configure({"tokenTtl": 60})
    issued = api.fetch_token(ACME).json
    assert issued is not None and issued["expires_in"] == 60
    headers = {"Authorization": f"bearer {issued['access_token']}"}
    control.advance(59.999)
    assert api.client.post(f"{API}/conversation/list", json={}, headers=headers).status_code == 200
    control.advance(0.001)
    assert api.client.post(f"{API}/conversation/list", json={}, headers=headers).status_code == 401


def test_a_new_scroll_ttl_applies_to_scrolls_opened_after_it(api: Api, control: Control) -> None:
    control.configure({"pageSize": 1, "scrollTtl": 10})
    api.conversation(NORTHWIND)
    api.conversation(NORTHWIND)
    api.settle()
    first = api.list_conversations(NORTHWIND).json
    assert first is not None
    control.advance(10)
    assert api.list_conversations(NORTHWIND, {"scrollId": first["scrollId"]}).status_code == 404


def test_a_new_until_margin_moves_the_latest_until_allowed(api: Api, control: Control) -> None:
    assert api.list_conversations(NORTHWIND, {"until": api.now_iso(-1)}).status_code == 400
    control.configure({"untilMargin": 1})
    assert api.list_conversations(NORTHWIND, {"until": api.now_iso(-1)}).status_code == 200
    assert api.list_conversations(NORTHWIND, {"until": api.now_iso(-0.5)}).status_code == 400


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"pageSize": 0}, "pageSize", id="page-size-0"),
        pytest.param({"pageSize": "3"}, "pageSize", id="page-size-text"),
        pytest.param({"lag": {"min": 5, "max": 1}}, "lag.max", id="lag-max-below-min"),
        pytest.param({"lag": {"max": 0.5}}, "lag.max", id="lag-max-below-current-min"),
        pytest.param({"lag": {"min": -1}}, "lag.min", id="negative-lag"),
        pytest.param({"rateLimit": {"perSecond": 0}}, "rateLimit.perSecond", id="rate-0"),
        pytest.param({"rateLimit": {"enabled": "yes"}}, "rateLimit.enabled", id="rate-enabled-text"),
        pytest.param({"scrollTtl": 0}, "scrollTtl", id="scroll-ttl-0"),
        pytest.param({"tokenTtl": 0}, "tokenTtl", id="token-ttl-0"),
        pytest.param({"journalSize": 0}, "journalSize", id="journal-size-0"),
        pytest.param({"strict": 1}, "strict", id="strict-number"),
        pytest.param({"pagesize": 3}, "pagesize", id="unknown-key"),
        pytest.param(
            {"faults": {"createConversations": {"forceStatus": 503}}}, "faults", id="unknown-operation"
        ),
        pytest.param({"faults": {"*": {"errorRate": 2}}}, "faults.*.errorRate", id="error-rate-2"),
        pytest.param(
            {"faults": {"getConversations": {"forceStatus": 200}}},
            "faults.getConversations.forceStatus",
            id="force-status-200",
        ),
        pytest.param(
            {"faults": {"*": {"latency": {"min": 2, "max": 1}}}}, "faults.*.latency", id="latency-range"
        ),
        pytest.param({"faults": {"*": {"delay": 1}}}, "faults.*.delay", id="unknown-rule-field"),
        pytest.param({"faults": {"*": "slow"}}, "faults.*", id="rule-not-an-object"),
        pytest.param(
            {"pageSize": 3, "faults": {"*": {"errorRate": 2}}},
            "faults.*.errorRate",
            id="valid-part-with-an-invalid-part",
        ),
    ],
)
def test_an_invalid_config_is_400_naming_the_field_and_changes_nothing(
    control: Control, change: dict[str, Any], field: str
) -> None:
    control.configure({"faults": {"updateConversation": {"latency": 0.001}}})
    before = control.config()
    response = control.put_config(change)
    assert response.status_code == 400
    lines = error_lines(response)
    assert any(line.startswith(f"{field}: ") for line in lines), lines
    assert control.config() == before


def test_a_refused_fault_rule_says_what_is_wrong_with_it(control: Control) -> None:
    response = control.put_config({"faults": {"createConversations": {"forceStatus": 503}}})
    assert "'createConversations' is not one of" in response.get_data(as_text=True)
    response = control.put_config({"faults": {"*": {"errorRate": 2, "forceStatus": 99}}})
    assert error_lines(response) == [
        "faults.*.errorRate: 2 is greater than the maximum of 1",
        "faults.*.forceStatus: 99 is less than the minimum of 400",
    ]
    response = control.put_config({"faults": {"getConversations": "slow"}})
    assert error_lines(response) == ["faults.getConversations: expected an object, got 'slow'"]


# --- faults ---------------------------------------------------------------------------------------
def test_force_status_503_with_force_count_2_gives_exactly_two_503s_then_normal_answers(
    unchecked: Api, control: Control
) -> None:
    unchecked.token(NORTHWIND)
    control.configure({"faults": {"createConversation": {"forceStatus": 503, "forceCount": 2}}})
    answers = [unchecked.create(NORTHWIND, create_body()) for _ in range(4)]
    assert [a.status_code for a in answers] == [503, 503, 201, 201]
    for forced in answers[:2]:
        assert forced.headers["X-Sandbox-Fault"] == "forced status"
        assert forced.mimetype == "text/plain"
        assert "injected fault" in forced.get_data(as_text=True)
    assert all("X-Sandbox-Fault" not in a.headers for a in answers[2:])
    assert control.config()["faults"] == {}  # the rule counted itself down and is gone
    assert unchecked.sandbox.store.counts() == (2, 0)  # the refused calls created nothing


def test_a_forced_count_is_shown_counting_down(unchecked: Api, control: Control) -> None:
    unchecked.token(NORTHWIND)
    control.configure({"faults": {"getConversations": {"forceStatus": 500, "forceCount": 3}}})
    unchecked.list_conversations(NORTHWIND)
    assert control.config()["faults"] == {"getConversations": {"forceStatus": 500, "forceCount": 2}}


def test_force_status_alone_means_the_next_call_only(api: Api, control: Control) -> None:
    api.token(NORTHWIND)
    control.configure({"faults": {"getConversations": {"forceStatus": 404}}})
    assert [api.list_conversations(NORTHWIND).status_code for _ in range(2)] == [404, 200]


def test_a_forced_429_carries_retry_after(api: Api, control: Control) -> None:
    api.token(NORTHWIND)
    control.configure({"faults": {"getConversationMessages": {"forceStatus": 429}}})
    response = api.list_messages(NORTHWIND)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.headers["X-Sandbox-Fault"] == "forced status"


def test_a_forced_401_on_a_conversation_call_carries_a_bearer_challenge(api: Api, control: Control) -> None:
    api.token(NORTHWIND)
    control.configure({"faults": {"getConversations": {"forceStatus": 401}}})
    response = api.list_conversations(NORTHWIND)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("status", "error"), [(400, "invalid_request"), (401, "invalid_client")])
def test_a_forced_400_or_401_on_get_access_token_is_an_oauth_json_error(
    api: Api, control: Control, status: int, error: str
) -> None:
    control.configure({"faults": {"getAccessToken": {"forceStatus": status}}})
    response = api.fetch_token(ACME)  # the checked client also holds it to the OAuth schema
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.json
    assert body is not None and body["error"] == error
    assert "injected fault" in body["error_description"]
    assert response.headers["X-Sandbox-Fault"] == "forced status"
    assert response.headers["Cache-Control"] == "no-store"
    assert api.fetch_token(ACME).status_code == 200


def test_the_star_rule_applies_to_every_operation_without_its_own_rule(
    unchecked: Api, control: Control
) -> None:
    for who in (NORTHWIND, ACME):
        unchecked.token(who)
    control.configure(
        {
            "faults": {
                "*": {"forceStatus": 502, "forceCount": 100},
                "getConversations": {"latency": 0.001},  # a rule of its own, which fails nothing
            }
        }
    )
    assert unchecked.list_conversations(NORTHWIND).status_code == 200
    assert unchecked.create(NORTHWIND, create_body()).status_code == 502
    assert unchecked.list_messages(ACME).status_code == 502
    assert unchecked.fetch_token(ACME).status_code == 502
    assert unchecked.update(NORTHWIND, {"dscoConversationId": "x", "title": "y"}).status_code == 502


def test_error_rate_1_with_error_status_500_always_fails(unchecked: Api, control: Control) -> None:
    unchecked.token(NORTHWIND)
    control.configure({"faults": {"getConversations": {"errorRate": 1.0, "errorStatus": 500}}})
    answers = [unchecked.list_conversations(NORTHWIND) for _ in range(20)]
    assert {a.status_code for a in answers} == {500}
    assert {a.headers["X-Sandbox-Fault"] for a in answers} == {"random error"}
    assert unchecked.list_messages(NORTHWIND).status_code == 200  # other operations are unaffected


def random_error_statuses(contract: Contract, seed: int) -> list[int]:
    """Twenty calls against a fresh app with an error rate of one half."""
    app = create_app(ServerConfig(sandbox=SandboxConfig(seed=seed, rate_limit=False)), contract=contract)
    client = plain_client(app)
    api = Api(client, app.extensions["dsco_sandbox"])
    api.token(NORTHWIND)
    Control(client).configure({"faults": {"getConversations": {"errorRate": 0.5}}})
    return [api.list_conversations(NORTHWIND).status_code for _ in range(20)]


def test_error_rate_one_half_with_a_fixed_seed_fails_the_same_calls_every_time(contract: Contract) -> None:
    first = random_error_statuses(contract, seed=7)
    assert random_error_statuses(contract, seed=7) == first
    assert set(first) == {200, 503}  # errorStatus defaults to 503
    assert 4 <= first.count(503) <= 16
    assert random_error_statuses(contract, seed=8) != first


def test_latency_delays_the_answer_by_at_least_its_minimum(api: Api, control: Control) -> None:
    api.token(NORTHWIND)
    control.configure({"faults": {"getConversations": {"latency": {"min": 0.2, "max": 0.3}}}})
    started = time.perf_counter()
    assert api.list_conversations(NORTHWIND).status_code == 200
    assert time.perf_counter() - started >= 0.2
    control.configure({"faults": {"getConversations": {"latency": 0.1}}})
    started = time.perf_counter()
    assert api.list_conversations(NORTHWIND).status_code == 200
    assert time.perf_counter() - started >= 0.1
    assert control.config()["faults"] == {"getConversations": {"latency": {"min": 0.1, "max": 0.1}}}


def test_drop_next_1_drops_the_next_call_only(unchecked: Api, control: Control) -> None:
    """In process there is no connection to close; over HTTP, see tests/cli (the client's read fails)."""
    unchecked.token(NORTHWIND)
    control.configure({"faults": {"createConversation": {"dropNext": 1}}})
    dropped = unchecked.create(NORTHWIND, create_body())
    assert dropped.headers["X-Sandbox-Fault"] == "dropped connection"
    assert dropped.get_data() == b""  # a body is promised (Content-Length) and never sent
    assert int(dropped.headers["Content-Length"]) > 0
    assert unchecked.sandbox.store.counts() == (0, 0)
    assert unchecked.create(NORTHWIND, create_body()).status_code == 201
    assert control.config()["faults"] == {}


def test_a_null_rule_removes_that_rule_and_null_faults_removes_them_all(control: Control) -> None:
    rules = {
        "createConversation": {"forceStatus": 503, "forceCount": 2},
        "getConversations": {"latency": {"min": 0.5, "max": 2}},
        "*": {"dropRate": 0.1},
    }
    assert control.configure({"faults": rules})["faults"] == rules
    after = control.configure({"faults": {"createConversation": None}})["faults"]
    assert after == {k: v for k, v in rules.items() if k != "createConversation"}
    assert control.configure({"faults": None})["faults"] == {}
    assert control.configure({"pageSize": 5})["faults"] == {}  # leaving faults out keeps them as they are


def test_injected_faults_are_journaled_with_the_fault_field(unchecked: Api, control: Control) -> None:
    unchecked.token(NORTHWIND)
    control.configure({"faults": {"createConversation": {"forceStatus": 503, "dropNext": 1}}})
    unchecked.create(NORTHWIND, create_body("first"))  # forced status wins over a forced drop
    unchecked.create(NORTHWIND, create_body("second"))  # then the drop
    unchecked.create(NORTHWIND, create_body("third"))
    events = control.events(operation="createConversation")
    assert [(e["status"], e.get("fault")) for e in events] == [
        (503, "forced status"),
        (200, "forced drop"),
        (201, None),
    ]
    assert [e["request"]["title"] for e in events] == ["first", "second", "third"]


# --- the admin token ----------------------------------------------------------------------------
def test_an_admin_token_guards_the_control_plane_but_not_the_vendor_api(contract: Contract) -> None:
    app = create_app(
        ServerConfig(sandbox=SandboxConfig(rate_limit=False), admin_token="s3cret"), contract=contract
    )
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
        for method, route in (("GET", "health"), ("GET", "config"), ("POST", "reset"), ("GET", "state")):
            response = client.open(f"/_sandbox/{route}", method=method, headers=headers)
            assert response.status_code == 401, (headers, route)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert response.mimetype == "text/plain"
    refused = client.put("/_sandbox/config", json={"pageSize": 1}, headers={"Authorization": "Bearer no"})
    assert refused.status_code == 401
    for scheme in ("Bearer", "bearer"):
        ok = client.get("/_sandbox/health", headers={"Authorization": f"{scheme} s3cret"})
        assert (ok.status_code, ok.json) == (200, {"status": "ok"})
    assert client.get("/_sandbox/config", headers={"Authorization": "Bearer s3cret"}).json["pageSize"] == 100  # type: ignore[index]
    # The vendor API needs its own credentials only.
    api = Api(client, app.extensions["dsco_sandbox"])
    assert api.fetch_token(NORTHWIND).status_code == 200
    assert api.list_conversations(NORTHWIND).status_code == 200
