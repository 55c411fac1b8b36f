"""Running scenarios: expectations, expressions, the polling recipe, skips, failures and reports."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from scenario_support import (
    CREATE_BODY,
    ScriptedTransport,
    dropping,
    fake_dsco,
    scenario_text,
    write,
)

from simulator.contract.validation import Contract
from simulator.domain.sandbox import Sandbox
from simulator.scenario.expectations import check, match
from simulator.scenario.loader import load_scenario
from simulator.scenario.model import MISSING, Expectation, Scenario, ScenarioResult
from simulator.scenario.replay import app_for, run_in_process
from simulator.scenario.report import format_result
from simulator.scenario.runner import run_scenario
from simulator.scenario.transport import HttpTransport, InProcessTransport


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract()


def load(tmp_path: Path, contract: Contract, steps: str, header: str = "") -> Scenario:
    return load_scenario(write(tmp_path, scenario_text(steps, header=header)), contract=contract)


def run(tmp_path: Path, contract: Contract, steps: str, header: str = "", **kwargs: Any) -> ScenarioResult:
    return run_in_process(load(tmp_path, contract, steps, header), contract=contract, **kwargs)


# --- expectations, checked directly ---------------------------------------------------------------
CONVERSATIONS = {
    "conversations": [
        {"id": "c1", "status": "in_progress", "type": {"type": "customer_care", "consumerId": "12345"}},
        {"id": "c2", "status": "closed", "type": {"type": "customer_care", "consumerId": "12345"}},
    ]
}


def diff(expectation: Expectation, body: Any = None, status: int = 200, **rest: Any) -> list[str]:
    return check(expectation, status, rest.get("headers", {}), body, rest.get("text", ""))


def test_a_partial_body_matches_only_the_keys_given() -> None:
    assert (
        diff(Expectation(body={"conversations": [{"id": "c1"}, {"status": "closed"}]}), CONVERSATIONS) == []
    )
    assert diff(Expectation(body={"conversations": [{"id": "c1"}]}), CONVERSATIONS) == [
        "body.conversations: expected 1 items, got 2"
    ]
    assert diff(Expectation(body={"conversations": [{}, {"status": "new"}]}), CONVERSATIONS) == [
        "body.conversations[1].status: expected 'new', got 'closed'"
    ]
    assert diff(Expectation(body={"scrollId": "x"}), CONVERSATIONS) == [
        "body.scrollId: expected 'x', missing"
    ]


def test_status_may_be_one_value_a_list_or_left_to_mean_any_success() -> None:
    assert diff(Expectation(status=(201,)), status=201) == []
    assert diff(Expectation(status=(201,)), status=400) == ["status: expected 201, got 400"]
    assert diff(Expectation(status=(200, 201)), status=404) == ["status: expected one of 200, 201, got 404"]
    assert diff(Expectation(), status=204) == []
    assert diff(Expectation(), status=500) == ["status: expected a 2xx success, got 500"]


def test_paths_with_indexes_length_and_each() -> None:
    passing = {
        "conversations[0].status": "in_progress",
        "conversations[-1].id": "c2",
        "length(conversations)": 2,
        "each(conversations).type.consumerId": "12345",
        "each(conversations).id": {"matches": "^c[0-9]$"},
    }
    assert diff(Expectation(paths=passing), CONVERSATIONS) == []
    failing = {
        "conversations[0].status": "closed",
        "length(conversations)": 3,
        "each(conversations).status": "closed",
    }
    assert diff(Expectation(paths=failing), CONVERSATIONS) == [
        "paths: conversations[0].status: expected 'closed', got 'in_progress'",
        "paths: length(conversations): expected 3, got 2",
        "paths: conversations[0].status: expected 'closed', got 'in_progress'",
    ]


def test_each_fails_on_an_empty_list() -> None:
    assert diff(Expectation(paths={"each(messages).type": "x"}), {"messages": []}) == [
        "paths: each(messages).type: the list at messages is empty, so no item has the expected value"
    ]


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        ({"absent": True}, MISSING, True),
        ({"absent": True}, "x", False),
        ({"exists": True}, None, True),
        ({"exists": True}, MISSING, False),
        ({"exists": False}, MISSING, True),
        ({"matches": "^a.c$"}, "abc", True),
        ({"matches": "^a.c$"}, "abcd", False),
        ({"matches": "^[0-9]+$"}, 42, True),
        ({"one_of": ["new", "in_progress"]}, "new", True),
        ({"one_of": ["new", "in_progress"]}, "closed", False),
        ({"contains": "late"}, "Why is my order late?", True),
        ({"contains": "early"}, "Why is my order late?", False),
        ({"contains": {"status": "closed"}}, [{"status": "new"}, {"status": "closed", "id": 1}], True),
        ({"contains": {"status": "closed"}}, [{"status": "new"}], False),
        ({"equals": {"a": 1}}, {"a": 1}, True),
        ({"equals": {"a": 1}}, {"a": 1, "b": 2}, False),
        ({"at_least": 2, "at_most": 3}, 3, True),
        ({"at_least": 2, "at_most": 3}, 4, False),
        ({"matches": "x"}, MISSING, False),
    ],
)
def test_matchers(expected: dict[str, Any], actual: Any, ok: bool) -> None:
    assert (match(expected, actual, "field") == []) is ok


def test_matcher_failures_read_well() -> None:
    assert match({"absent": True}, "abc", "scrollId") == ["scrollId: expected absent, got 'abc'"]
    assert match({"exists": True}, MISSING, "closedDate") == ["closedDate: expected to exist, missing"]
    assert match({"one_of": ["a", "b"]}, "c", "s") == ['s: expected one of ["a", "b"], got \'c\'']


def test_scalars_compare_as_json_does() -> None:
    assert match(1, 1.0, "n") == []
    assert match("1", 1, "n") == ["n: expected '1', got 1"]
    assert match(True, 1, "n") == ["n: expected true, got 1"]


def test_headers_match_whatever_their_case_and_text_matches_whole_or_in_part() -> None:
    headers = {"retry-after": "1", "Content-Type": "text/plain; charset=utf-8"}
    text = "title: 51 characters, at most 50 allowed\n"
    expectation = Expectation(
        headers={"Retry-After": 1, "content-type": {"matches": "^text/plain"}, "X-Missing": {"absent": True}},
        text={"contains": "at most 50 allowed"},
    )
    assert diff(expectation, status=200, headers=headers, text=text) == []
    assert diff(Expectation(text="title: 51 characters, at most 50 allowed"), text=text) == []
    assert diff(Expectation(headers={"Retry-After": {"exists": True}}), headers={}) == [
        "headers: Retry-After: expected to exist, missing"
    ]
    assert diff(Expectation(text={"contains": "title: 52"}), text=text) == [
        "text: expected to contain 'title: 52', got 'title: 51 characters, at most 50 allowed\\n'"
    ]


# --- whole runs -----------------------------------------------------------------------------------
def test_a_failing_scenario_stops_and_its_report_shows_the_step_expectation_and_answer(
    tmp_path: Path, contract: Contract
) -> None:
    result = run(
        tmp_path,
        contract,
        f"""\
  - name: open it
    actor: retailer
    action: create_conversation
{CREATE_BODY}    expect:
      status: 201
      paths: {{status: closed}}
    save_as: conv
  - name: never reached
    actor: supplier
    action: list_conversations
""",
    )
    assert not result.passed
    assert [step.status for step in result.steps] == ["failed", "skipped"]
    assert result.steps[1].reason == "an earlier step failed"
    report = format_result(result)
    assert "FAIL  1. open it  [retailer: create_conversation]" in report
    assert "paths: status: expected 'closed', got 'new'" in report
    assert 'expected:  {"status": 201, "paths": {"status": "closed"}}' in report
    assert "request:   POST /api/v3/conversation {" in report
    assert 'got:       201 Content-Type: application/json {"id": ' in report
    assert "SKIP  2. never reached  [supplier: list_conversations] — an earlier step failed" in report
    assert "Traceback" not in report


def test_a_text_error_is_shown_as_text(tmp_path: Path, contract: Contract) -> None:
    result = run(
        tmp_path,
        contract,
        """\
  - name: bad title
    actor: retailer
    action: create_conversation
    body: {title: "${repeat:x:51}"}
    expect: {status: 201}
""",
    )
    report = format_result(result)
    assert (
        "got:       400 Content-Type: text/plain; charset=utf-8 title: 51 characters, at most 50 allowed"
        in report
    )
    assert "status: expected 201, got 400" in report


def test_saved_values_keep_their_json_type(tmp_path: Path, contract: Contract) -> None:
    result = run(
        tmp_path,
        contract,
        f"""\
  - name: page size 7
    action: set_config
    body: {{pageSize: 7}}
    save_as: cfg
  - name: a number stays a number, an object an object, and text is text inside a string
    action: set_config
    body: {{pageSize: "${{cfg.pageSize}}", lag: "${{cfg.lag}}"}}
    expect:
      body: {{pageSize: 7}}
  - name: open it
    actor: retailer
    action: create_conversation
{CREATE_BODY}    save_as: conv
  - name: embed values in text
    actor: retailer
    action: add_message
    body: {{dscoConversationId: "${{conv.id}}", message: "page ${{cfg.pageSize}}, type ${{conv.type}}"}}
    expect:
      paths:
        message: 'page 7, type {{"type": "customer_care", "consumerId": "12345"}}'
""",
    )
    assert result.passed, format_result(result)
    second = result.steps[1].request
    assert second is not None
    assert second.body == {"pageSize": 7, "lag": {"min": 0.2, "max": 3.0}}


SEEDED = f"""\
  - name: open it
    actor: retailer
    action: create_conversation
{CREATE_BODY}  - name: more fake values
    actor: retailer
    action: list_conversations
    body: {{retailerReferenceId: "${{fake.numerify:C-#####}}-${{fake.uuid4}}"}}
"""


def fake_values(result: ScenarioResult) -> list[Any]:
    bodies = [step.request.body for step in result.steps if step.request is not None]
    return [bodies[0]["initialMessage"]["message"], bodies[1]["retailerReferenceId"]]


def test_faker_values_repeat_with_a_seed_and_change_with_another(tmp_path: Path, contract: Contract) -> None:
    scenario = load(tmp_path, contract, SEEDED, header="seed: 7\n")
    first = fake_values(run_in_process(scenario, contract=contract))
    again = fake_values(run_in_process(scenario, contract=contract))
    other = fake_values(run_in_process(scenario, contract=contract, seed=8))
    assert first == again
    assert first[0] != other[0] and first[1] != other[1]
    assert first[0].startswith("Why is my order late? ")
    assert first[1].startswith("C-")


def test_clock_expressions_follow_the_sandbox_clock(tmp_path: Path, contract: Contract) -> None:
    result = run(
        tmp_path,
        contract,
        """\
  - name: freeze the clock
    action: set_clock
    body: {freeze: true}
  - name: set it
    action: set_clock
    body: {set: "2023-05-01T10:00:00Z"}
  - name: until is five seconds before now
    actor: supplier
    action: list_messages
    body: {createdSince: "${clock.until}", until: "${clock.until}"}
  - name: now is refused as until
    actor: supplier
    action: list_messages
    body: {until: "${clock.now}"}
    expect:
      status: 400
      text: >-
        until: '2023-05-01T10:00:00.000Z' is less than 5 seconds before now
        (2023-05-01T10:00:00.000Z); use 2023-05-01T09:59:55.000Z or earlier
""",
    )
    assert result.passed, format_result(result)
    third = result.steps[2].request
    assert third is not None
    assert third.body == {"createdSince": "2023-05-01T09:59:55.000Z", "until": "2023-05-01T09:59:55.000Z"}


def test_the_polling_recipe_chains_createdsince_to_the_previous_until(
    tmp_path: Path, contract: Contract
) -> None:
    scenario = load(
        tmp_path,
        contract,
        f"""\
  - name: freeze the clock
    action: set_clock
    body: {{freeze: true}}
  - name: open it
    actor: retailer
    action: create_conversation
{CREATE_BODY}  - name: poll four times, ten seconds apart
    actor: supplier
    action: poll_messages
    poll: {{query: {{type: {{type: customer_care}}}}, interval: 10, max_polls: 4, until_found: 99}}
    expect:
      paths: {{length(messages): 1, polls: 4}}
""",
    )
    app = app_for(scenario, contract=contract)
    result = run_scenario(scenario, InProcessTransport(app))
    assert result.passed, format_result(result)
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    polls = [
        entry.to_json()["request"]
        for entry in sandbox.journal.entries(operation="getConversationMessages", kind="request")
    ]
    # The first window (from the start, ending 5 s before it) is empty and not asked for.
    assert len(polls) == 3
    for earlier, later in itertools.pairwise(polls):
        assert later["createdSince"] == earlier["until"]
    assert not sandbox.clock.frozen, "the run puts the clock's frozen state back"


def test_an_expired_token_is_renewed_once_by_ordinary_steps(tmp_path: Path, contract: Contract) -> None:
    result = run(
        tmp_path,
        contract,
        """\
  - name: a call gets the first token
    actor: retailer
    action: list_conversations
  - name: an hour passes
    action: advance_clock
    body: {seconds: 3601}
  - name: the next call is refused once, renews the token and succeeds
    actor: retailer
    action: list_conversations
    expect: {status: 200}
  - name: two tokens were issued
    action: list_events
    body: {operation: getAccessToken}
    expect:
      paths:
        length(events): 2
""",
    )
    assert result.passed, format_result(result)


def test_the_run_puts_the_settings_back(tmp_path: Path, contract: Contract) -> None:
    scenario = load(
        tmp_path,
        contract,
        """\
  - name: smaller pages
    action: set_config
    body: {pageSize: 2, faults: {getConversations: {forceStatus: 503, forceCount: 1}}}
""",
        header="config: {lag: {min: 0, max: 0}}\n",
    )
    app = app_for(scenario, contract=contract)
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    before = sandbox.config_json()
    result = run_scenario(scenario, InProcessTransport(app))
    assert result.passed, format_result(result)
    assert [step.index for step in result.steps] == [0, 1]
    assert sandbox.config_json() == before


def test_control_plane_steps_are_skipped_against_a_target_without_one(
    tmp_path: Path, contract: Contract
) -> None:
    scenario = load(
        tmp_path,
        contract,
        """\
  - name: start from an empty sandbox
    action: reset
  - name: list
    actor: retailer
    action: list_conversations
    expect: {paths: {length(conversations): 0}}
  - name: events
    action: list_events
    save_as: events
  - name: list again
    actor: retailer
    action: list_conversations
  - name: this needs what a skipped step would have saved
    actor: retailer
    action: list_conversations
    body: {retailerReferenceId: "${events.events[0].seq}"}
""",
        header="config: {pageSize: 2}\n",
    )
    transport = ScriptedTransport(fake_dsco)
    result = run_scenario(scenario, transport)
    statuses = [(step.index, step.status) for step in result.steps]
    assert statuses == [
        (0, "skipped"),
        (1, "skipped"),
        (2, "passed"),
        (3, "skipped"),
        (4, "passed"),
        (5, "failed"),
    ]
    reason = "needs the sandbox control plane (/_sandbox), which a scripted server does not have"
    assert result.steps[0].reason == reason
    assert result.steps[1].reason == reason
    assert "nothing was saved as 'events'" in result.steps[5].reason
    assert [path for _, path, _ in transport.requests].count("/api/v3/oauth2/token") == 1
    assert not any(path.startswith("/_sandbox") for _, path, _ in transport.requests)


def test_a_dropped_connection_is_the_steps_failure_not_an_exception(
    tmp_path: Path, contract: Contract
) -> None:
    scenario = load(
        tmp_path,
        contract,
        """\
  - name: list
    actor: retailer
    action: list_conversations
  - name: after
    actor: retailer
    action: list_conversations
""",
    )
    result = run_scenario(scenario, ScriptedTransport(dropping))
    assert [step.status for step in result.steps] == ["failed", "skipped"]
    assert result.steps[0].reason.startswith("no answer: POST /api/v3/conversation/list: Connection aborted")
    assert "got:       no answer" in format_result(result)


def test_an_unreachable_server_fails_the_first_step(tmp_path: Path, contract: Contract) -> None:
    scenario = load(tmp_path, contract, "  - {name: list, actor: retailer, action: list_conversations}\n")
    transport = HttpTransport("http://127.0.0.1:9", timeout=2)
    assert transport.has_control_plane is False
    result = run_scenario(scenario, transport)
    assert result.steps[0].status == "failed"
    assert "no answer while getting a token for 'retailer'" in result.steps[0].reason


def test_http_transport_maps_paths_for_a_server_root_and_an_api_base() -> None:
    root = HttpTransport("http://127.0.0.1:9/", control_plane=True)
    assert root.url("/api/v3/conversation") == "http://127.0.0.1:9/api/v3/conversation"
    assert root.url("/_sandbox/clock") == "http://127.0.0.1:9/_sandbox/clock"
    api = HttpTransport("https://api.example.test/api/v3")
    assert api.has_control_plane is False  # decided without a request
    assert api.url("/api/v3/oauth2/token") == "https://api.example.test/api/v3/oauth2/token"


def test_credentials_given_at_run_time_replace_the_files(tmp_path: Path, contract: Contract) -> None:
    scenario = load(tmp_path, contract, "  - {name: list, actor: retailer, action: list_conversations}\n")
    transport = ScriptedTransport(fake_dsco)
    run_scenario(scenario, transport, credentials={"retailer": ("real-id", "real-secret")})
    token_form = transport.requests[0][2]["form"]
    assert token_form == {
        "grant_type": "client_credentials",
        "client_id": "real-id",
        "client_secret": "real-secret",
    }
