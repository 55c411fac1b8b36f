"""Errors: plain-text 400s naming field, value and expectation; transport-level 4xx; no 5xx, ever.

A refused request must never change state, and no body a client can send may produce a 5xx.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from http_support import API, NORTHWIND, OPERATIONS, Api, error_lines

from simulator.domain.errors import NotFound

LIST_OPERATIONS = {"getConversations", "getConversationMessages"}


def raw(api: Api, operation: str, data: bytes | str, content_type: str = "application/json") -> Any:
    method, path = OPERATIONS[operation]
    headers = {**api.auth(NORTHWIND), "Content-Type": content_type}
    return api.client.open(f"{API}{path}", method=method, data=data, headers=headers)


# --- the 400 body -------------------------------------------------------------------------------
def test_a_400_is_text_plain_with_one_line_per_problem(api: Api) -> None:
    body = {
        "title": "x" * 51,
        "otherPartyTradingPartnerId": 7,
        "dueDate": "tomorrow",
        "isTest": "yes",
        "context": {"type": "order", "lineItem": {"lineNumber": "one"}},
    }
    response = api.create(NORTHWIND, body)
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert sorted(error_lines(response)) == [
        "context.lineItem.lineNumber: expected an integer, got 'one'",
        "dueDate: 'tomorrow' is not an RFC 3339 date-time (like 2023-05-01T09:29:55Z)",
        "isTest: expected a boolean (true or false), got 'yes'",
        "otherPartyTradingPartnerId: expected a string, got 7",
        "title: 51 characters, at most 50 allowed",
    ]


def test_the_designs_example_error_line(api: Api) -> None:
    response = api.list_messages(NORTHWIND, {"until": "2023:05:01T9:29:55Z"})
    assert error_lines(response) == [
        "until: '2023:05:01T9:29:55Z' is not an RFC 3339 date-time (like 2023-05-01T09:29:55Z)"
    ]


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ({"statuses": ["open"]}, "statuses[0]: 'open' is not one of new, in_progress, closed"),
        ({"pastDue": 1}, "pastDue: expected a boolean (true or false), got 1"),
        ({"dscoAccountIds": "1000001"}, "dscoAccountIds: expected an array, got '1000001'"),
        ({"sort": {"field": "create_date"}}, "sort.direction: required field is missing"),
        ({"type": {"type": "customer_care", "consumerId": 5}}, "type.consumerId: expected a string, got 5"),
    ],
)
def test_a_contract_violation_names_field_value_and_expectation(
    api: Api, body: dict[str, Any], line: str
) -> None:
    response = api.list_conversations(NORTHWIND, body)
    assert response.status_code == 400
    assert error_lines(response) == [line]


# --- malformed bodies -----------------------------------------------------------------------
def test_malformed_json_is_400_naming_line_and_column(api: Api) -> None:
    response = raw(api, "createConversation", '{\n  "title": "x",\n}')
    assert response.status_code == 400
    [line] = error_lines(response)
    assert line.startswith("body: malformed JSON at line 3 column 1")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_refused(api: Api, constant: str) -> None:
    response = raw(api, "getConversations", f'{{"pastDue": {constant}}}')
    assert response.status_code == 400
    assert constant.lstrip("-") in error_lines(response)[0]


def test_an_empty_body_is_refused(api: Api) -> None:
    response = raw(api, "getConversations", b"")
    assert response.status_code == 400
    assert error_lines(response)[0].startswith("body: ")


def test_a_body_that_is_not_utf8_is_refused(api: Api) -> None:
    response = raw(api, "getConversations", b'{"test": "\xff\xfe"}')
    assert response.status_code == 400


def test_json_in_another_encoding_than_utf8_is_refused(api: Api) -> None:
    response = raw(api, "getConversations", '{"test": "all"}'.encode("utf-16"))
    assert response.status_code == 400
    assert error_lines(response)[0].startswith("body: is not UTF-8 text")


def test_a_lone_surrogate_is_refused_naming_the_field(api: Api) -> None:
    response = raw(
        api, "createConversation", b'{"otherPartyTradingPartnerId": "aaa-bbb-ccc", "title": "a\\udc00b"}'
    )
    assert response.status_code == 400
    [line] = error_lines(response)
    assert line.startswith("title: contains \\udc00, a lone surrogate")


def test_a_properly_paired_surrogate_escape_is_accepted(api: Api) -> None:
    response = raw(
        api, "createConversation", b'{"otherPartyTradingPartnerId": "aaa-bbb-ccc", "title": "\\ud83d\\udca5"}'
    )
    assert response.status_code == 201
    assert response.json is not None and response.json["title"] == "💥"


@pytest.mark.parametrize("depth", [65, 5000, 100_000])
def test_absurdly_deep_nesting_is_refused(api: Api, depth: int) -> None:
    response = raw(api, "getConversations", b'{"x": ' + b"[" * depth + b"]" * depth + b"}")
    assert response.status_code == 400
    assert "nested more than 64 levels deep" in error_lines(response)[0]


def test_a_number_too_large_for_a_double_is_refused(api: Api) -> None:
    response = raw(api, "getConversations", b'{"x": 1e999}')
    assert response.status_code == 400
    assert "1e999" in error_lines(response)[0]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""]
)
def test_a_body_that_is_not_json_is_415(api: Api, content_type: str) -> None:
    response = raw(api, "createConversation", '{"title": "x"}', content_type)
    assert response.status_code == 415
    assert response.mimetype == "text/plain"
    assert "application/json" in response.get_data(as_text=True)


def test_a_json_subtype_and_a_charset_are_accepted(api: Api) -> None:
    assert raw(api, "getConversations", "{}", "application/json; charset=utf-8").status_code == 200
    assert raw(api, "getConversations", "{}", "application/vnd.dsco+json").status_code == 200


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_body_over_one_mebibyte_is_413(api: Api, operation: str) -> None:
    body = json.dumps({"title": "x", "message": "y" * (1024 * 1024)})
    before = api.snapshot()
    response = raw(api, operation, body)
    assert response.status_code == 413
    assert response.mimetype == "text/plain"
    assert api.snapshot() == before


def test_a_body_of_exactly_one_mebibyte_is_read_and_one_byte_more_is_413(api: Api) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    frame = json.dumps({"dscoConversationId": cid, "message": ""}).encode()
    exact = frame[:-2] + b"y" * (1024 * 1024 - len(frame)) + frame[-2:]
    assert len(exact) == 1024 * 1024
    assert raw(api, "addConversationMessage", exact).status_code == 201
    over = frame[:-2] + b"y" * (1024 * 1024 - len(frame) + 1) + frame[-2:]
    assert raw(api, "addConversationMessage", over).status_code == 413


# --- routing --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", [f"{API}/nope", f"{API}/conversation/messages", "/api/v2/conversation", "/nope"]
)
def test_an_unknown_route_is_404(api: Api, path: str) -> None:
    response = api.client.post(path, json={}, headers=api.auth(NORTHWIND))
    assert response.status_code == 404
    assert response.mimetype == "text/plain"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/conversation"),
        ("DELETE", "/conversation"),
        ("GET", "/conversation/list"),
        ("PUT", "/conversation/message"),
        ("GET", "/oauth2/token"),
    ],
)
def test_a_wrong_method_is_405_with_allow(api: Api, method: str, path: str) -> None:
    response = api.client.open(f"{API}{path}", method=method, headers=api.auth(NORTHWIND))
    assert response.status_code == 405
    assert response.headers["Allow"]
    assert method not in response.headers["Allow"].split(", ")


# --- unknown fields ---------------------------------------------------------------------------
def test_unknown_fields_are_ignored_and_named_in_a_warning(api: Api) -> None:
    body = {
        "title": "x",
        "otherPartyTradingPartnerId": "aaa-bbb-ccc",
        "priority": "high",
        "initialMessage": {"message": "hi", "originatesFromExternal": True},
        "context": {
            "type": "order",
            "poNumber": "123-456-789",
            "lineItem": {"sku": "SKU-RED-SHOE-9", "colour": "red"},
        },
    }
    response = api.create(NORTHWIND, body)
    assert response.status_code == 201
    warning = response.headers["X-Sandbox-Warning"]
    for path in ("priority", "initialMessage.originatesFromExternal", "context.lineItem.colour"):
        assert path in warning
    assert response.json is not None
    assert "priority" not in response.json
    assert "colour" not in response.json["context"]["lineItem"]


def test_a_request_without_unknown_fields_has_no_warning(api: Api) -> None:
    response = api.list_conversations(NORTHWIND, {})
    assert "X-Sandbox-Warning" not in response.headers


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_in_strict_mode_unknown_fields_are_a_400_naming_them(api: Api, operation: str) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    valid: dict[str, Any] = {
        "createConversation": {"title": "x", "otherPartyTradingPartnerId": "aaa-bbb-ccc"},
        "updateConversation": {"dscoConversationId": cid, "title": "y"},
        # Strict mode also wants what the query descriptions ask for: a criterion, and updatedSince.
        "getConversations": {"updatedSince": "2000-01-01T00:00:00Z"},
        "addConversationMessage": {"dscoConversationId": cid, "message": "m"},
        "getConversationMessages": {"test": "legit"},
    }[operation]
    api.sandbox.config.strict = True
    before = api.snapshot()
    response = api.call(operation, NORTHWIND, {**valid, "bogus": 1})
    assert response.status_code == 400
    assert error_lines(response) == ["bogus: unknown field (the sandbox runs in strict mode)"]
    assert api.snapshot() == before
    assert api.call(operation, NORTHWIND, valid).status_code in (200, 201)


def test_in_strict_mode_the_guides_originates_from_external_is_refused(api: Api) -> None:
    api.sandbox.config.strict = True
    body = {
        "title": "x",
        "otherPartyTradingPartnerId": "aaa-bbb-ccc",
        "initialMessage": {"message": "Why is my order late?", "originatesFromExternal": True},
    }
    response = api.create(NORTHWIND, body)
    assert response.status_code == 400
    assert error_lines(response) == [
        "initialMessage.originatesFromExternal: unknown field (the sandbox runs in strict mode)"
    ]


def test_unknown_field_names_cannot_break_the_warning_header(api: Api) -> None:
    body = {"title": "x", "otherPartyTradingPartnerId": "aaa-bbb-ccc", "bad\r\nX-Injected: 1": 1, "ключ💥": 2}
    response = api.create(NORTHWIND, body)
    assert response.status_code == 201
    assert "X-Injected" not in response.headers
    warning = response.headers["X-Sandbox-Warning"]
    assert "\n" not in warning and "\r" not in warning
    warning.encode("latin-1")


def test_in_strict_mode_an_unknown_field_is_one_line_whatever_its_name(api: Api) -> None:
    api.sandbox.config.strict = True
    response = api.list_conversations(NORTHWIND, {"two\nlines": 1})
    assert response.status_code == 400
    assert error_lines(response) == ["two\\nlines: unknown field (the sandbox runs in strict mode)"]


def test_a_warning_names_at_most_a_few_dozen_fields(api: Api) -> None:
    body: dict[str, Any] = {f"field{i}": i for i in range(5000)}
    response = api.list_conversations(NORTHWIND, body)
    assert response.status_code == 200
    assert len(response.headers["X-Sandbox-Warning"]) < 2000
    assert "field0" in response.headers["X-Sandbox-Warning"]


# --- a refused request changes nothing --------------------------------------------------------
@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("createConversation", {"title": "x" * 51, "otherPartyTradingPartnerId": "aaa-bbb-ccc"}),
        (
            "createConversation",
            {"title": "x", "otherPartyTradingPartnerId": "aaa-bbb-ccc", "referenceId": "NW-1"},
        ),
        (
            "createConversation",
            {
                "title": "x",
                "otherPartyTradingPartnerId": "ddd-eee-fff",
                "context": {"type": "order", "poNumber": "123-456-789"},
                "initialMessage": {"message": "lost?"},
            },
        ),
        ("updateConversation", {"dscoConversationId": "CID", "title": "y", "status": "new"}),
        ("updateConversation", {"dscoConversationId": "CID", "title": "y", "supplierReferenceId": "S"}),
        (
            "updateConversation",
            {"dscoConversationId": "CID", "retailerReferenceId": "NW-2", "type": {"type": "standard"}},
        ),
        ("updateConversation", {"dscoConversationId": "CID", "dueDate": "soon"}),
        ("addConversationMessage", {"dscoConversationId": "CID", "message": 1}),
        (
            "addConversationMessage",
            {"dscoConversationId": "CID", "retailerReferenceId": "NW-2", "message": "x"},
        ),
        ("getConversations", {"until": "2099-01-01T00:00:00Z"}),
        ("getConversationMessages", {"dscoTradingPartnerIds": ["nope"]}),
    ],
)
def test_a_refused_request_leaves_state_unchanged(api: Api, operation: str, body: dict[str, Any]) -> None:
    cid = api.customer_care(referenceId="NW-1", initialMessage={"message": "first"})["id"]
    api.conversation(NORTHWIND, referenceId="NW-2", otherPartyTradingPartnerId="ddd-eee-fff")
    body = {k: (cid if v == "CID" else v) for k, v in body.items()}
    before = api.snapshot()
    response = api.call(operation, NORTHWIND, body)
    assert response.status_code == 400
    assert api.snapshot() == before
    stored = api.sandbox.store.conversation(cid)
    assert stored is not None and stored.title == "A question" and stored.retailer_reference_id == "NW-1"


# --- never a 5xx ------------------------------------------------------------------------------
DEPTH = 100_000
HOSTILE_DOCUMENTS: dict[str, bytes] = {
    "array": b"[]",
    "null": b"null",
    "number": b"0",
    "string": b'"a string"',
    "true": b"true",
    "array-of-objects": b'[{"title": "x"}]',
    "deep-array": b"[" * DEPTH + b"]" * DEPTH,
    "deep-object": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    "deep-in-a-field": b'{"title": ' + b"[" * DEPTH + b"]" * DEPTH + b"}",
    "lone-surrogate": b'{"title": "\\ud800", "message": "\\udfff", "test": "\\ud800"}',
    "lone-surrogate-key": b'{"\\ud800": 1}',
    "nul-bytes": b'{"title": "\\u0000", "message": "\\u0000", "test": "\\u0000"}',
    "huge-integer": b'{"pastDue": ' + b"9" * 5000 + b"}",
    "huge-exponent": b'{"context": {"type": "order", "lineItem": {"lineNumber": 1e999}}}',
    "duplicate-keys": b'{"title": "a", "title": 5, "test": "all", "test": 5, "message": "m", "message": 5}',
    "bom": b"\xef\xbb\xbf{}",
    "utf16": '{"title": 1}'.encode("utf-16"),
    "truncated": b'{"title": "x',
    "trailing-garbage": b"{} {}",
    "single-quotes": b"{'title': 'x'}",
    "comment": b'{"title": "x" /* hi */}',
}
HOSTILE_VALUES: dict[str, Any] = {
    "null": None,
    "zero": 0,
    "negative": -1,
    "float": 1.5e308,
    "true": True,
    "empty-array": [],
    "empty-object": {},
    "nested-array": [1, [2, [3]]],
    "nested-object": {"type": {"type": {"type": {}}}},
    "huge-string": "x" * 300_000,
    "unicode": "💥 ünïcödé \u202e\u0000 漢字",
    "array-of-strings": ["a", "b"],
}
FIELDS = sorted(
    {
        "title",
        "type",
        "context",
        "initialMessage",
        "otherPartyTradingPartnerId",
        "otherPartyDscoAccountId",
        "referenceId",
        "dueDate",
        "isTest",
        "testType",
        "dscoConversationId",
        "findByRetailerReferenceId",
        "findBySupplierReferenceId",
        "retailerReferenceId",
        "supplierReferenceId",
        "status",
        "message",
        "scrollId",
        "dscoMessageId",
        "dscoAccountIds",
        "dscoTradingPartnerIds",
        "dscoRetailerId",
        "dscoRetailerTradingPartnerId",
        "dscoSupplierId",
        "dscoSupplierTradingPartnerId",
        "contextTypes",
        "statuses",
        "pastDue",
        "dueInNextMs",
        "initiatedBy",
        "createdSince",
        "updatedSince",
        "conversationsUpdatedSince",
        "until",
        "test",
        "sort",
    }
)


@pytest.mark.parametrize("document", sorted(HOSTILE_DOCUMENTS))
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_hostile_document_is_a_4xx(api: Api, operation: str, document: str) -> None:
    response = raw(api, operation, HOSTILE_DOCUMENTS[document])
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("value", sorted(HOSTILE_VALUES))
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_wrong_value_in_every_field_is_a_4xx(api: Api, operation: str, value: str) -> None:
    before = api.snapshot()
    response = api.call(operation, NORTHWIND, dict.fromkeys(FIELDS, HOSTILE_VALUES[value]))
    assert 400 <= response.status_code < 500
    assert api.snapshot() == before


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_wrong_value_in_any_one_field_is_never_a_5xx(api: Api, operation: str, field: str) -> None:
    """Some of these are valid requests (a string where a string belongs); none may be a 5xx."""
    cid = api.conversation(NORTHWIND, referenceId="NW-1")["id"]
    for value in HOSTILE_VALUES.values():
        body: dict[str, Any] = {
            "createConversation": {"title": "x", "otherPartyTradingPartnerId": "aaa-bbb-ccc"},
            "updateConversation": {"dscoConversationId": cid, "title": "y"},
            "getConversations": {},
            "addConversationMessage": {"dscoConversationId": cid, "message": "m"},
            "getConversationMessages": {},
        }[operation]
        body[field] = value
        response = api.call(operation, NORTHWIND, body)
        assert response.status_code < 500  # CheckedClient also checks this, and the contract


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_an_empty_object_is_a_4xx_where_fields_are_required_and_a_200_for_lists(
    api: Api, operation: str
) -> None:
    response = api.call(operation, NORTHWIND, {})
    if operation in LIST_OPERATIONS:
        assert response.status_code == 200
    else:
        assert response.status_code == 400


# --- the harness itself -----------------------------------------------------------------------
def test_a_response_that_breaks_the_contract_is_a_500_that_fails_the_test(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app checks its own answers, and the fixtures' client turns any 5xx into a failure."""

    def broken(operation: str, caller: Any, body: Any, render: Any) -> str:
        return '{"conversations": [{"id": 5}]}'

    monkeypatch.setattr(api.sandbox, "answer", broken)
    with pytest.raises(AssertionError, match="server error 500"):
        api.list_conversations(NORTHWIND)


def test_an_undocumented_status_fails_the_test(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_found(operation: str, caller: Any, body: Any, render: Any) -> str:
        raise NotFound.at("dscoConversationId", "gone")

    monkeypatch.setattr(api.sandbox, "answer", not_found)
    with pytest.raises(AssertionError, match="does not document"):
        api.create(NORTHWIND, {"title": "x"})
