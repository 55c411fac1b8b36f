"""Violations read the way a person would say them, and name the field first."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from simulator.contract.validation import Contract

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract()


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text("utf-8"))


def messages(contract: Contract, operation: str, payload: Any) -> list[str]:
    return [str(v) for v in contract.validate_request(operation, payload)]


def test_guides_create_sample_is_rejected_only_for_its_51_character_title(contract: Contract) -> None:
    assert messages(contract, "createConversation", sample("guide-create-conversation.json")) == [
        "title: 51 characters, at most 50 allowed"
    ]


def test_guides_create_sample_validates_once_the_title_is_shortened(contract: Contract) -> None:
    body = sample("guide-create-conversation.json")
    body["title"] = body["title"][:50]
    assert messages(contract, "createConversation", body) == []


def test_guides_raw_create_sample_with_trailing_commas_is_not_json(contract: Contract) -> None:
    raw = (SAMPLES / "guide-create-conversation.raw.json").read_text("utf-8")
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads(raw)
    assert caught.value.lineno == 8  # the missing comma after "type": {...}


def test_guides_malformed_timestamps_are_named_with_an_example(contract: Contract) -> None:
    assert messages(contract, "getConversationMessages", sample("guide-get-messages.json")) == [
        "createdSince: '2023:05:01T9:29:55.0000Z' is not an RFC 3339 date-time (like 2023-05-01T09:29:55Z)",
        "until: '2023:05:01T09:59:55.0000Z' is not an RFC 3339 date-time (like 2023-05-01T09:29:55Z)",
    ]


def test_guides_add_message_sample_is_valid(contract: Contract) -> None:
    assert messages(contract, "addConversationMessage", sample("guide-add-message.json")) == []


def test_a_wrong_type_names_the_path_the_expectation_and_the_value(contract: Contract) -> None:
    body = {"title": "t", "context": {"type": "order", "poNumber": 123}}
    assert messages(contract, "createConversation", body) == ["context.poNumber: expected a string, got 123"]


def test_a_title_over_the_limit_says_how_long_it_is(contract: Contract) -> None:
    assert messages(contract, "createConversation", {"title": "x" * 61}) == [
        "title: 61 characters, at most 50 allowed"
    ]


def test_an_unknown_conversation_type_lists_every_allowed_value(contract: Contract) -> None:
    body = {"title": "t", "type": {"type": "customer-care", "consumerId": "1"}}
    assert messages(contract, "createConversation", body) == [
        "type.type: 'customer-care' is not one of standard, customer_care"
    ]


def test_one_of_failures_explain_the_branch_the_payload_meant(contract: Contract) -> None:
    body = {"title": "t", "type": {"type": "customer_care"}}
    assert messages(contract, "createConversation", body) == ["type.consumerId: required field is missing"]
    body = {"title": "t", "context": {"type": "contract"}}
    assert messages(contract, "createConversation", body) == [
        "context.dscoContractId: required field is missing"
    ]
    body = {"title": "t", "context": {"type": "order", "lineItem": {"upc": "12"}}}
    assert messages(contract, "createConversation", body) == [
        "context.lineItem.upc: '12' does not match the pattern ^(\\d{6}|\\d{12})$"
    ]


def test_a_context_without_a_type_says_type_is_missing(contract: Contract) -> None:
    assert messages(contract, "createConversation", {"title": "t", "context": {"poNumber": "1"}}) == [
        "context.type: required field is missing"
    ]


def test_a_missing_required_field_is_named(contract: Contract) -> None:
    assert messages(contract, "createConversation", {}) == ["title: required field is missing"]
    assert messages(contract, "addConversationMessage", {"dscoConversationId": "x"}) == [
        "message: required field is missing"
    ]


def test_a_body_that_is_not_an_object_is_reported_at_the_root(contract: Contract) -> None:
    assert messages(contract, "getConversations", [1, 2]) == ["body: expected an object, got an array"]


def test_array_items_are_addressed_by_index(contract: Contract) -> None:
    assert messages(contract, "getConversations", {"statuses": ["new", "done"]}) == [
        "statuses[1]: 'done' is not one of new, in_progress, closed"
    ]


def test_every_problem_is_reported_not_just_the_first(contract: Contract) -> None:
    body = {"title": 5, "dueDate": "tomorrow", "isTest": "yes"}
    assert messages(contract, "createConversation", body) == [
        "dueDate: 'tomorrow' is not an RFC 3339 date-time (like 2023-05-01T09:29:55Z)",
        "isTest: expected a boolean (true or false), got 'yes'",
        "title: expected a string, got 5",
    ]


@pytest.mark.parametrize(
    "value",
    ["2023-05-01T09:29:55Z", "2023-05-01T09:29:55.123Z", "2023-05-01T09:29:55+02:00", "2023-05-01t09:29:55z"],
)
def test_rfc3339_date_times_are_accepted(contract: Contract, value: str) -> None:
    assert messages(contract, "getConversations", {"createdSince": value}) == []


@pytest.mark.parametrize(
    "value",
    ["2023-05-01", "2023-05-01 09:29:55Z", "2023-05-01T09:29:55", "2023-02-30T00:00:00Z", "yesterday"],
)
def test_date_time_format_is_enforced(contract: Contract, value: str) -> None:
    assert messages(contract, "getConversations", {"createdSince": value}) == [
        f"createdSince: {value!r} is not an RFC 3339 date-time (like 2023-05-01T09:29:55Z)"
    ]


def test_unknown_fields_are_found_at_any_depth_but_are_not_violations(contract: Contract) -> None:
    body = copy.deepcopy(sample("guide-create-conversation.json"))
    body["title"] = "Late order"
    body["initialMessage"]["originatesFromExternal"] = True
    body["context"]["storeId"] = "x"
    body["extra"] = 1
    assert messages(contract, "createConversation", body) == []
    assert contract.unknown_fields("createConversation", body) == [
        "context.storeId",
        "initialMessage.originatesFromExternal",
        "extra",
    ]


def test_responses_are_checked_against_the_documented_status(contract: Contract) -> None:
    assert [str(v) for v in contract.validate_response("createConversation", 201, {"id": "x"})] == [
        "title: required field is missing",
        "initiatedBy: required field is missing",
    ]
    assert [str(v) for v in contract.validate_response("createConversation", 418, {})] == [
        "status: 418 is not a documented status (documented: 201, 400, 401, 413, 415, 429, 503)"
    ]
