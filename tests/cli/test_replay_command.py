"""``dsco-sandbox replay`` and ``dsco-sandbox scenario new`` as a user runs them."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from cli_support import REPO, run_cli

pytestmark = pytest.mark.e2e

FAILING = """\
name: a scenario that expects the wrong status
actors:
  retailer: {role: retailer, client_id: retailer-demo, client_secret: retailer-demo-secret}
steps:
  - name: the retailer opens a conversation
    actor: retailer
    action: create_conversation
    body: {title: Late order, otherPartyTradingPartnerId: aaa-bbb-ccc}
    expect:
      status: 201
      body: {status: closed}
"""


def test_replaying_the_shipped_scenarios_in_process_passes(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    result = run_cli("replay", str(REPO / "scenarios"), "--junit-xml", str(report))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The guide's late-order loop" in result.stdout
    suites = ElementTree.parse(report).getroot()
    assert len(suites.findall(".//testsuite")) == len(list((REPO / "scenarios").rglob("*.yaml")))


def test_a_failing_scenario_exits_1_showing_the_step_expectation_and_answer(tmp_path: Path) -> None:
    path = tmp_path / "wrong.yaml"
    path.write_text(FAILING, "utf-8")
    result = run_cli("replay", str(path))
    assert result.returncode == 1
    assert "the retailer opens a conversation" in result.stdout
    assert "closed" in result.stdout and "new" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_malformed_scenario_exits_2_naming_file_and_line_before_sending_anything(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(FAILING.replace("action: create_conversation", "action: create_convo"), "utf-8")
    result = run_cli("replay", str(path))
    assert result.returncode == 2
    assert f"{path}:7" in result.stdout + result.stderr
    assert "create_convo" in result.stdout + result.stderr


def test_scenario_new_writes_a_starter_that_replays(tmp_path: Path) -> None:
    result = run_cli("scenario", "new", "My first story", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    written = next(tmp_path.glob("*.yaml"))
    assert "#" in written.read_text("utf-8")  # commented
    assert run_cli("replay", str(written)).returncode == 0
    again = run_cli("scenario", "new", "My first story", "--dir", str(tmp_path))
    assert again.returncode == 2
