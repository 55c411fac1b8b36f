"""JUnit XML for CI, the starter file, and the replay entry point's exit codes."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from scenario_support import CREATE_BODY, scenario_text, write

from simulator.contract.validation import Contract
from simulator.scenario.loader import load_scenario
from simulator.scenario.replay import (
    merge_credentials,
    new_scenario,
    read_credentials,
    replay_main,
    run_in_process,
)
from simulator.scenario.report import starter_scenario, write_junit_xml

FAILING = scenario_text(
    f"""\
  - name: start
    action: reset
  - name: open it
    actor: retailer
    action: create_conversation
{CREATE_BODY}    expect:
      status: 201
      paths: {{status: closed}}
  - name: never reached
    action: reset
""",
    name="a <failing> & story",
)


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract()


def test_junit_xml_has_one_suite_per_scenario_and_one_case_per_step(
    tmp_path: Path, contract: Contract
) -> None:
    failing = run_in_process(
        load_scenario(write(tmp_path, FAILING, "f.yaml"), contract=contract), contract=contract
    )
    starter = write(tmp_path, starter_scenario("the starter"), "s.yaml")
    passing = run_in_process(load_scenario(starter, contract=contract), contract=contract)
    report = tmp_path / "out" / "junit.xml"
    write_junit_xml([failing, passing], report)
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [suite.get("name") for suite in suites] == ["a <failing> & story", "the starter"]
    assert root.get("tests") == str(len(failing.steps) + len(passing.steps))
    assert root.get("failures") == "1"
    cases = suites[0].findall("testcase")
    assert [case.get("name") for case in cases] == ["1. start", "2. open it", "3. never reached"]
    assert suites[0].get("failures") == "1" and suites[0].get("skipped") == "1"
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "paths: status: expected 'closed', got 'new'"
    assert failure.text is not None and "request:   POST /api/v3/conversation" in failure.text
    skipped = cases[2].find("skipped")
    assert skipped is not None and skipped.get("message") == "an earlier step failed"
    assert len(suites[1].findall("testcase")) == len(passing.steps)
    assert suites[1].findall("testcase/failure") == []


def test_the_starter_loads_and_passes_in_process(tmp_path: Path, contract: Contract) -> None:
    text = starter_scenario("x")
    assert text.count("\n#") > 5, "the starter explains itself in comments"
    result = run_in_process(load_scenario(write(tmp_path, text), contract=contract), contract=contract)
    assert result.passed
    assert {step.action for step in result.steps} >= {
        "create_conversation",
        "update_conversation",
        "add_message",
        "list_conversations",
        "list_messages",
        "get_token",
        "poll_messages",
        "advance_clock",
        "set_clock",
        "set_config",
        "set_personas",
        "reset",
        "expect_notification",
        "list_events",
    }


def test_new_scenario_writes_a_starter_and_never_overwrites(tmp_path: Path, contract: Contract) -> None:
    path = new_scenario('Refund for order "C-123"', tmp_path / "scenarios")
    assert path == tmp_path / "scenarios" / "refund-for-order-c-123.yaml"
    assert load_scenario(path, contract=contract).name == 'Refund for order "C-123"'
    with pytest.raises(FileExistsError):
        new_scenario('Refund for order "C-123"', tmp_path / "scenarios")


def test_replay_exit_codes_reports_and_junit(tmp_path: Path) -> None:
    good = write(tmp_path, starter_scenario("good"), "good/a.yaml")
    bad = write(tmp_path, FAILING, "bad/b.yaml")
    out = io.StringIO()
    assert replay_main([good.parent], out=out, junit_xml=tmp_path / "j.xml") == 0
    assert "1 of 1 scenario(s) passed" in out.getvalue()
    assert ET.parse(tmp_path / "j.xml").getroot().get("failures") == "0"
    out = io.StringIO()
    assert replay_main([good, bad], out=out) == 1
    assert "FAIL  a <failing> & story" in out.getvalue()
    assert "Traceback" not in out.getvalue()
    out = io.StringIO()
    assert replay_main([tmp_path / "missing.yaml"], out=out) == 2
    assert f"{tmp_path / 'missing.yaml'}: no such file or folder" in out.getvalue()
    empty = tmp_path / "empty"
    empty.mkdir()
    out = io.StringIO()
    assert replay_main([empty], out=out) == 2
    assert "no scenario files" in out.getvalue()


def test_credentials_from_a_file_and_from_options(tmp_path: Path) -> None:
    path = write(tmp_path, "retailer: {client_id: r-id, client_secret: r-secret}\n", "creds.yaml")
    from_file = read_credentials(path)
    assert from_file == {"retailer": ("r-id", "r-secret")}
    merged = merge_credentials(from_file, ["supplier=s-id"], ["retailer=other", "supplier=s-secret"])
    assert merged == {"retailer": ("r-id", "other"), "supplier": ("s-id", "s-secret")}
    with pytest.raises(ValueError, match="ACTOR=VALUE"):
        merge_credentials(None, ["no-equals-sign"])
    bad = write(tmp_path, "retailer: {client_id: x, secret: y}\n", "bad.yaml")
    with pytest.raises(ValueError, match="expected"):
        read_credentials(bad)
