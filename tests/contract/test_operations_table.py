"""The one operations table (``simulator/domain/operations.py``) says what both OpenAPI documents say.

The table is written as Python constants so that the domain and the client can read it without the
contract layer; this test is what keeps it honest: every operationId, method, path and success
status must agree with ``contracts/openapi.yaml`` (the vendor API) and
``contracts/sandbox-openapi.yaml`` (the control plane), in both directions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simulator.contract.validation import Contract
from simulator.domain.operations import (
    API_PREFIX,
    CONTROL_OPERATIONS,
    CONVERSATION_OPERATIONS,
    LIST_OPERATIONS,
    OPERATIONS,
    STATE_CHANGES,
    WRITE_OPERATIONS,
    api_path,
    split_api_base,
)

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def test_every_vendor_operation_matches_the_contract() -> None:
    contract = Contract()
    assert set(OPERATIONS) == set(contract.operations)
    for operation_id, operation in OPERATIONS.items():
        documented = contract.operations[operation_id]
        assert (operation.method, operation.path) == (documented.method, documented.path), operation_id
        successes = [int(status) for status in documented.responses if status.startswith("2")]
        assert successes == [operation.success], operation_id


def test_the_contract_serves_the_api_under_the_prefix() -> None:
    document: dict[str, Any] = yaml.safe_load((CONTRACTS / "openapi.yaml").read_text("utf-8"))
    assert any(server["url"].endswith(API_PREFIX) for server in document["servers"])


def test_every_control_operation_matches_the_control_contract() -> None:
    document: dict[str, Any] = yaml.safe_load((CONTRACTS / "sandbox-openapi.yaml").read_text("utf-8"))
    documented = {
        spec["operationId"]: (method.upper(), path)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if isinstance(spec, dict) and "operationId" in spec
    }
    assert documented == {op.operation_id: (op.method, op.path) for op in CONTROL_OPERATIONS.values()}


def test_the_kinds_of_operations() -> None:
    assert {"createConversation", "updateConversation", "addConversationMessage"} == WRITE_OPERATIONS
    assert LIST_OPERATIONS == ("getConversations", "getConversationMessages")
    assert WRITE_OPERATIONS | {"getAccessToken"} == STATE_CHANGES
    assert set(CONVERSATION_OPERATIONS) == WRITE_OPERATIONS | set(LIST_OPERATIONS)
    assert [op for op in OPERATIONS.values() if op.safe_to_repeat and op.writes] == []


def test_paths_and_base_urls() -> None:
    assert api_path("getConversationMessages") == "/api/v3/conversation/message/list"
    assert split_api_base("http://h:1/") == ("http://h:1", "http://h:1/api/v3")
    assert split_api_base("https://x.test/ns/a/api/v3") == (
        "https://x.test/ns/a",
        "https://x.test/ns/a/api/v3",
    )
