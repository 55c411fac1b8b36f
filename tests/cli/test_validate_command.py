"""``dsco-sandbox validate``: offline checking of payloads against the contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import REPO, run_cli

pytestmark = pytest.mark.e2e

SAMPLES = REPO / "tests" / "contract" / "samples"


def test_validate_reads_standard_input_from_any_directory(elsewhere: Path) -> None:
    body = json.dumps({"title": "Where is my order?", "otherPartyTradingPartnerId": "aaa-bbb-ccc"})
    result = run_cli("validate", "createConversation", "-", stdin=body, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "a valid createConversation request" in result.stderr


def test_violations_are_printed_one_per_line_with_exit_1(elsewhere: Path) -> None:
    result = run_cli("validate", "createConversation", str(SAMPLES / "guide-create-conversation.json"))
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["title: 51 characters, at most 50 allowed"]
    assert "1 problem(s)" in result.stderr


def test_malformed_json_exits_2_naming_line_and_column() -> None:
    path = SAMPLES / "guide-create-conversation.raw.json"
    result = run_cli("validate", "createConversation", str(path))
    assert result.returncode == 2
    assert f"{path}: line 8 column 1: malformed JSON" in result.stderr


def test_a_missing_file_exits_2() -> None:
    result = run_cli("validate", "createConversation", "no-such-file.json")
    assert result.returncode == 2
    assert "no-such-file.json: cannot read" in result.stderr


def test_an_unknown_operation_exits_2_listing_the_known_ones() -> None:
    result = run_cli("validate", "createConvo", "-", stdin="{}")
    assert result.returncode == 2
    assert "unknown operation 'createConvo'" in result.stderr
    assert "createConversation" in result.stderr


def test_response_mode_checks_the_success_response_by_default() -> None:
    response = {"id": "c1", "title": "t", "initiatedBy": "retailer", "status": "open"}
    result = run_cli("validate", "createConversation", "--response", "-", stdin=json.dumps(response))
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["status: 'open' is not one of new, in_progress, closed"]


def test_response_mode_can_check_an_error_status() -> None:
    result = run_cli(
        "validate",
        "getAccessToken",
        "--response",
        "--status",
        "401",
        "-",
        stdin=json.dumps({"error": "invalid_client"}),
    )
    assert result.returncode == 0, result.stdout


def test_the_pings_answer_can_be_checked_too() -> None:
    good = run_cli("validate", "getHello", "--response", "-", stdin='{"hello": "World!"}')
    assert good.returncode == 0, good.stdout + good.stderr

    bad = run_cli("validate", "getHello", "--response", "-", stdin='{"hello": "Mars!"}')
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == ["hello: 'Mars!' must be 'World!'"]
