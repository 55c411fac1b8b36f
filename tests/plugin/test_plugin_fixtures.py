"""The pytest plugin's fixtures, exercised the way an integrator's own test suite uses them."""

from __future__ import annotations

import socket

import pytest

from simulator.domain.config import SandboxConfig
from simulator.harness import BackgroundServer
from simulator.http.app import ServerConfig, create_app

pytest_plugins = ["pytester"]

USING_THE_SANDBOX = """
import requests
import pytest

def create(sandbox, role="retailer", **extra):
    body = {"title": "Late order", "otherPartyTradingPartnerId": "aaa-bbb-ccc", **extra}
    url = f"{sandbox.api_url}/conversation"
    return requests.post(url, json=body, headers=sandbox.headers(role), timeout=10)

def listing(sandbox, role="retailer", **query):
    url = f"{sandbox.api_url}/conversation/list"
    return requests.post(url, json=query, headers=sandbox.headers(role), timeout=10)

def test_a_client_gets_a_token_and_creates_a_conversation(dsco_sandbox):
    assert dsco_sandbox.base_url.startswith("http://127.0.0.1:")
    token = dsco_sandbox.token("supplier")
    assert token
    assert dsco_sandbox.retailer.client_id == "retailer-demo"
    assert dsco_sandbox.supplier2.legacy_token == "supplier2-demo-token"
    assert create(dsco_sandbox).status_code == 201

def test_every_test_starts_from_an_empty_sandbox(dsco_sandbox):
    dsco_sandbox.clock.advance(10)
    assert listing(dsco_sandbox).json() == {"conversations": []}

def test_the_clock_can_be_frozen_and_advanced(dsco_sandbox):
    frozen = dsco_sandbox.clock.freeze()
    stamp = frozen.strftime("%Y-%m-%dT%H:%M:%S.") + f"{frozen.microsecond // 1000:03d}Z"
    assert create(dsco_sandbox).json()["createDate"] == stamp
    assert listing(dsco_sandbox).json() == {"conversations": []}  # lag and the 5-second rule
    dsco_sandbox.clock.advance(6)
    assert len(listing(dsco_sandbox).json()["conversations"]) == 1

def test_faults_events_and_notifications(dsco_sandbox):
    dsco_sandbox.faults(createConversation={"forceStatus": 503, "forceCount": 1})
    assert create(dsco_sandbox).status_code == 503
    assert create(dsco_sandbox).status_code == 201
    statuses = [e["status"] for e in dsco_sandbox.events(operation="createConversation")]
    assert statuses == [503, 201]
    create(dsco_sandbox, initialMessage={"message": "Where is it?"})
    assert [n["dscoAccountId"] for n in dsco_sandbox.notifications("2000001")] == ["2000001"]

def test_snapshot_and_restore(dsco_sandbox):
    create(dsco_sandbox)
    snapshot = dsco_sandbox.snapshot()
    dsco_sandbox.reset()
    dsco_sandbox.restore(snapshot)
    dsco_sandbox.clock.advance(6)
    assert len(listing(dsco_sandbox).json()["conversations"]) == 1

def test_the_rate_limit_is_off_by_default(dsco_sandbox):
    assert all(create(dsco_sandbox).status_code == 201 for _ in range(8))

@pytest.mark.dsco(rate_limit=True)
def test_a_marker_turns_the_rate_limit_on(dsco_sandbox):
    dsco_sandbox.clock.freeze()
    statuses = [create(dsco_sandbox).status_code for _ in range(6)]
    assert statuses == [201] * 5 + [429]

@pytest.mark.dsco(page_size=2, lag=(0, 0))
def test_a_marker_sets_page_size_and_lag(dsco_sandbox):
    for _ in range(3):
        create(dsco_sandbox)
    dsco_sandbox.clock.advance(6)
    first = listing(dsco_sandbox).json()
    assert len(first["conversations"]) == 2 and "scrollId" in first

def test_settings_from_a_marker_do_not_leak_into_the_next_test(dsco_sandbox):
    assert dsco_sandbox.config()["pageSize"] == 100
    assert dsco_sandbox.config()["faults"] == {}

def test_the_in_process_app_needs_no_socket(dsco_client):
    headers = {"Authorization": "bearer retailer-demo-token"}
    response = dsco_client.post("/api/v3/conversation/list", json={}, headers=headers)
    assert response.status_code == 200
"""


def test_the_fixtures_work_in_a_users_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_dsco_fixtures_in_a_user_suite=USING_THE_SANDBOX)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=10)


def test_a_world_marker_swaps_the_world_for_one_test_only(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".json",
        tiny_world="""{"format": "dsco-sandbox-world", "version": 1,
          "accounts": [
            {"dscoAccountId": "1", "role": "retailer", "name": "Tiny Retail", "clientId": "tr",
             "clientSecret": "tr-secret", "legacyToken": "tr-token"},
            {"dscoAccountId": "2", "role": "supplier", "name": "Tiny Supply", "clientId": "ts",
             "clientSecret": "ts-secret", "legacyToken": "ts-token"}],
          "tradingPartners": [{"dscoAccountId": "1", "partnerDscoAccountId": "2", "tradingPartnerId": "TS",
                               "name": "Tiny Supply"}]}""",
    )
    pytester.makepyfile(
        test_dsco_world_marker="""
import pytest, requests

@pytest.mark.dsco(world="tiny_world.json")
def test_tiny(dsco_sandbox):
    body = {"title": "t", "otherPartyTradingPartnerId": "TS"}
    r = requests.post(f"{dsco_sandbox.api_url}/conversation", json=body,
                      headers={"Authorization": "bearer tr-token"}, timeout=10)
    assert r.status_code == 201, r.text

def test_default_again(dsco_sandbox):
    r = requests.post(f"{dsco_sandbox.api_url}/conversation/list", json={},
                      headers={"Authorization": "bearer tr-token"}, timeout=10)
    assert r.status_code == 401
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


@pytest.mark.e2e
def test_dsco_target_runs_the_same_tests_against_another_server(pytester: pytest.Pytester) -> None:
    from serve_support import start

    server = start()
    try:
        pytester.makepyfile(
            test_dsco_target_option="""
def test_target(dsco_sandbox):
    assert dsco_sandbox.base_url == dsco_sandbox.base_url.rstrip("/")
    assert dsco_sandbox.config()["rateLimit"]["enabled"] is False  # the fixture's default applies there too
"""
        )
        result = pytester.runpytest("-p", "no:cacheprovider", f"--dsco-target={server.base_url}")
        result.assert_outcomes(passed=1)
        header = result.stdout.str().split("collected", 1)[0]  # said before any test runs
        assert (
            f"dsco-sandbox: --dsco-target {server.base_url}: this session (each xdist worker) works in"
            in header
        )
        assert "wiped" in header and "clock put back on wall time" in header and "Nothing is undone" in header
    finally:
        server.stop()


def test_a_dsco_target_that_does_not_answer_stops_the_run_in_one_line(pytester: pytest.Pytester) -> None:
    nowhere = closed_port_url()
    pytester.makepyfile(test_dsco_nowhere="def test_never(dsco_sandbox):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", f"--dsco-target={nowhere}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert errors == [
        f"ERROR: --dsco-target: {nowhere} does not answer (Connection refused); no test was run"
    ]


def closed_port_url() -> str:
    """A loopback URL where nothing listens: a port just bound and released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


TINY_WORLD = """{"format": "dsco-sandbox-world", "version": 1,
  "accounts": [
    {"dscoAccountId": "1", "role": "retailer", "name": "Tiny Retail", "clientId": "tr",
     "clientSecret": "tr-secret", "legacyToken": "tr-token"},
    {"dscoAccountId": "2", "role": "supplier", "name": "Tiny Supply", "clientId": "ts",
     "clientSecret": "ts-secret", "legacyToken": "ts-token"}],
  "tradingPartners": [{"dscoAccountId": "1", "partnerDscoAccountId": "2", "tradingPartnerId": "TS",
                       "name": "Tiny Supply"}]}"""


def test_roles_come_from_the_world_a_marker_loads(pytester: pytest.Pytester) -> None:
    pytester.mkdir("worlds")
    (pytester.path / "worlds" / "tiny.json").write_text(TINY_WORLD, "utf-8")
    pytester.makepyfile(
        test_dsco_world_roles="""
import pytest, requests

@pytest.mark.dsco(world="worlds/tiny.json")
def test_tiny_roles(dsco_sandbox):
    assert dsco_sandbox.retailer.client_id == "tr"
    assert sorted(dsco_sandbox.credentials) == ["retailer", "supplier"]
    headers = {"Authorization": f"bearer {dsco_sandbox.token('retailer')}"}
    body = {"title": "t", "otherPartyTradingPartnerId": "TS"}
    r = requests.post(f"{dsco_sandbox.api_url}/conversation", json=body, headers=headers, timeout=10)
    assert r.status_code == 201, r.text
    assert requests.post(f"{dsco_sandbox.api_url}/conversation/list", json={},
                         headers=dsco_sandbox.headers("supplier"), timeout=10).status_code == 200

@pytest.mark.dsco(world="worlds/tiny.json")
def test_a_missing_role_names_the_roles_of_the_world(dsco_sandbox):
    known = "no role 'supplier2' in this sandbox's world; it has: retailer, supplier"
    with pytest.raises(AttributeError, match=known):
        dsco_sandbox.supplier2
    with pytest.raises(LookupError, match="it has: retailer, supplier"):
        dsco_sandbox.token("retailer2")

def test_the_default_world_again(dsco_sandbox):
    assert dsco_sandbox.retailer.client_id == "retailer-demo"
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_a_missing_world_file_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_dsco_missing_world="""
import pytest

@pytest.mark.dsco(world="nowhere.json")
def test_missing(dsco_sandbox):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    text = result.stdout.str()
    assert "@pytest.mark.dsco(world='nowhere.json'): no file " in text
    assert "a relative path is taken from the test file's folder" in text
    assert "Traceback" not in text and "pytest_plugin.py" not in text


def test_a_failing_test_shows_what_the_sandbox_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_dsco_refusals="""
import requests

def test_my_integration(dsco_sandbox):
    ok = requests.post(f"{dsco_sandbox.api_url}/conversation/list", json={}, headers=dsco_sandbox.headers())
    ok.raise_for_status()
    bad = requests.post(f"{dsco_sandbox.api_url}/conversation", json={"title": 7},
                        headers=dsco_sandbox.headers())
    bad.raise_for_status()

def test_a_passing_test_has_no_section(dsco_sandbox):
    requests.post(f"{dsco_sandbox.api_url}/conversation", json={}, headers=dsco_sandbox.headers())

def test_in_process(dsco_client):
    answer = dsco_client.post("/api/v3/conversation/list", json={"sort": "sideways"},
                              headers={"Authorization": "bearer retailer-demo-token"})
    assert answer.status_code == 200
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    text = result.stdout.str()
    assert "400 Client Error" in text
    result.stdout.fnmatch_lines(
        [
            "*- dsco-sandbox refusals -*",
            "POST /api/v3/conversation (account 1000001) -> 400",
            "    title: *",
        ]
    )
    assert "POST /api/v3/conversation/list (account 1000001) -> 200" not in text  # answered: no refusal
    in_process = ["*- dsco-sandbox refusals -*", "POST /api/v3/conversation/list (account 1000001) -> 400"]
    result.stdout.fnmatch_lines([*in_process, "    sort: *"])
    assert text.count("dsco-sandbox refusals") == 2


def test_events_are_api_calls_with_documented_filters(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_dsco_events="""
import pytest, requests

def create(sandbox):
    body = {"title": "Late order", "otherPartyTradingPartnerId": "aaa-bbb-ccc",
            "initialMessage": {"message": "Where is it?"}}
    return requests.post(f"{sandbox.api_url}/conversation", json=body, headers=sandbox.headers(), timeout=10)

def test_events(dsco_sandbox):
    dsco_sandbox.clock.freeze()
    create(dsco_sandbox)
    later = dsco_sandbox.clock.advance(10)
    create(dsco_sandbox)
    supplier = dsco_sandbox.headers("supplier")
    requests.post(f"{dsco_sandbox.api_url}/conversation/list", json={}, headers=supplier)
    calls = dsco_sandbox.events()
    assert [e["operation"] for e in calls] == ["createConversation"] * 2 + ["getConversations"]
    assert all("status" in e for e in calls)  # notifications are not calls
    assert len(dsco_sandbox.notifications("2000001")) == 2
    assert len(dsco_sandbox.events(operation="createConversation", since=later)) == 1
    assert len(dsco_sandbox.events(account="2000001")) == 1
    assert dsco_sandbox.events(after=calls[1]["seq"]) == calls[2:]
    assert dsco_sandbox.events(limit=1) == calls[2:]
    assert dsco_sandbox.webhook_attempts() == []
    with pytest.raises(TypeError, match="kind"):
        dsco_sandbox.events(kind="notification")
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    server = BackgroundServer(create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False))))
    try:
        result = pytester.runpytest("-p", "no:cacheprovider", f"--dsco-target={server.base_url}")
        result.assert_outcomes(passed=1)
    finally:
        server.stop()


PERSONAS = """
import pytest
import requests

def answers(sandbox, conversation_id):
    body = {"dscoConversationId": conversation_id,
            "type": {"type": "customer_care", "customerCareType": "response_to_consumer"}}
    url = f"{sandbox.api_url}/conversation/message/list"
    return requests.post(url, json=body, headers=sandbox.headers("retailer"), timeout=10).json()["messages"]

@pytest.mark.dsco(personas={"supplier": {"accounts": ["2000001"], "questionChance": 0}})
def test_a_marker_lets_the_sandbox_play_the_supplier(dsco_sandbox):
    assert dsco_sandbox.personas()["active"]["supplier"] == ["2000001"]
    dsco_sandbox.clock.freeze()
    body = {"title": "Late order", "otherPartyTradingPartnerId": "aaa-bbb-ccc",
            "type": {"type": "customer_care", "consumerId": "12345"},
            "initialMessage": {"message": "Where is my parcel?"}}
    opened = requests.post(f"{dsco_sandbox.api_url}/conversation", json=body,
                           headers=dsco_sandbox.headers("retailer"), timeout=10).json()
    dsco_sandbox.clock.advance(3 * 3600)
    assert len(answers(dsco_sandbox, opened["id"])) == 1
    assert any(e.get("persona") for e in dsco_sandbox.events(account="2000001"))

def test_the_next_test_starts_with_nobody_played(dsco_sandbox):
    assert dsco_sandbox.personas()["active"] == {"retailer": [], "supplier": []}

def test_a_test_can_switch_personas_on_by_role(dsco_sandbox):
    assert dsco_sandbox.personas("retailer")["active"]["retailer"] == ["1000001", "1000002"]
    assert dsco_sandbox.personas_off()["active"]["retailer"] == []
"""


def test_personas_from_a_marker_or_a_call_last_one_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_dsco_personas=PERSONAS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
