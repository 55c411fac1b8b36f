"""The contract files are well-formed, self-consistent, and their examples obey their own schemas.

Everything else in the sandbox (request validation, docs, the stateful test) reads these files, so a
broken reference or a stale example here would surface later as a confusing failure somewhere else.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from contract_support import iter_refs, ref_target_exists
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from simulator.contract.yamlnodes import load_document

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = REPO_ROOT / "contracts"
OPENAPI = CONTRACTS / "openapi.yaml"
SCHEMAS = CONTRACTS / "schemas"
# The vendor contract's schemas; the control plane's own (sandbox-*.json) are tested in
# test_sandbox_contract.py.
SCHEMA_FILES = sorted(p for p in SCHEMAS.glob("*.json") if not p.name.startswith("sandbox-"))

VENDOR_OPERATION_IDS = {
    "getAccessToken",
    "createConversation",
    "updateConversation",
    "getConversations",
    "addConversationMessage",
    "getConversationMessages",
}
SUPPORT_DOCUMENTATION_OPERATION_IDS = {"getHello"}
"""Operations the vendor describes in its support documentation rather than in its OpenAPI."""
CONVERSATION_OPERATION_IDS = VENDOR_OPERATION_IDS - {"getAccessToken"}
LIST_OPERATION_IDS = {"getConversations", "getConversationMessages"}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def load_openapi() -> dict[str, Any]:
    document = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in document["paths"].values():
        for method in HTTP_METHODS:
            if method in item:
                found[item[method]["operationId"]] = item[method]
    return found


def follow_local(document: dict[str, Any], node: Any) -> Any:
    """Replace a local `#/...` reference by its target (the document's own components)."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = document
        for token in node["$ref"][2:].split("/"):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def load_schema(path: Path) -> dict[str, Any]:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


def registry() -> Registry:
    """Every schema file under its own file URI, so relative sibling refs resolve as any tool would."""
    resources = [
        (path.resolve().as_uri(), Resource.from_contents(load_schema(path))) for path in SCHEMA_FILES
    ]
    return Registry().with_resources(resources)


def validator_for(schema_node: dict[str, Any]) -> Draft202012Validator:
    """A validator for a media type's schema: an external file ref, or a small inline schema."""
    reference = schema_node.get("$ref")
    if isinstance(reference, str):
        path = (OPENAPI.parent / reference).resolve()
        schema = copy.deepcopy(load_schema(path))
        schema["$id"] = path.as_uri()
    else:
        schema = schema_node
    return Draft202012Validator(
        schema, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def media_examples() -> Iterator[Any]:
    """One (schema, example) case per request or response body of the contract, named by operation."""
    document = load_openapi()
    for operation_id, operation in operations(document).items():
        for media, body in operation.get("requestBody", {}).get("content", {}).items():
            yield pytest.param(body.get("schema"), body.get("example"), id=f"{operation_id}-request-{media}")
        for status, response in operation["responses"].items():
            response = follow_local(document, response)
            for media, body in response.get("content", {}).items():
                yield pytest.param(
                    body.get("schema"), body.get("example"), id=f"{operation_id}-{status}-{media}"
                )


EXPECTED_SCHEMA_FILES = {
    "conversation.json",
    "conversation-message.json",
    "conversation-message-initial.json",
    "conversation-for-create.json",
    "conversation-for-update.json",
    "conversation-query.json",
    "conversation-message-for-create.json",
    "conversation-message-query.json",
    "conversation-query-result.json",
    "conversation-message-query-result.json",
    "conversation-type-standard.json",
    "conversation-type-customer-care.json",
    "conversation-type-customer-care-query.json",
    "conversation-message-type-customer-care.json",
    "context-account.json",
    "context-order.json",
    "context-catalog.json",
    "context-inventory.json",
    "context-contract.json",
    "context-invoice.json",
    "context-return.json",
    "order-context-line-item.json",
    "access-token-request.json",
    "access-token-response.json",
    "oauth-invalid-request.json",
    "oauth-invalid-client.json",
    "hello.json",
}


def test_schema_folder_holds_exactly_the_expected_files() -> None:
    assert {path.name for path in SCHEMA_FILES} == EXPECTED_SCHEMA_FILES


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: path.name)
def test_schema_file_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    Draft202012Validator.check_schema(load_schema(path))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: path.name)
def test_schema_file_declares_dialect_title_and_description_but_no_id(path: Path) -> None:
    schema = load_schema(path)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema.get("title")
    assert schema.get("description")
    assert "$id" not in schema, "an $id would break resolving siblings relative to the file location"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda path: path.name)
def test_schema_file_never_forbids_unknown_fields(path: Path) -> None:
    # Production ignores fields it does not know; the sandbox warns about them instead of refusing.
    assert '"additionalProperties": false' not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", [OPENAPI, *SCHEMA_FILES], ids=lambda path: path.name)
def test_every_ref_points_at_an_existing_target(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    references = list(iter_refs(document))
    broken = [reference for reference in references if not ref_target_exists(path, document, reference)]
    assert not broken, f"{path.name}: unresolvable $ref {broken}"


def test_openapi_refers_to_schemas_by_relative_paths_only() -> None:
    for reference in iter_refs(load_openapi()):
        assert reference.startswith(("#/", "schemas/")), reference


def test_openapi_declares_exactly_the_six_vendor_operations_and_the_ping() -> None:
    ops = operations(load_openapi())
    assert set(ops) == VENDOR_OPERATION_IDS | SUPPORT_DOCUMENTATION_OPERATION_IDS
    for operation_id in SUPPORT_DOCUMENTATION_OPERATION_IDS:
        assert ops[operation_id]["x-vendor-source"] == "support documentation", operation_id
        assert ops[operation_id]["security"] == [], operation_id


@pytest.mark.parametrize("schema_node, example", list(media_examples()))
def test_body_example_validates_against_its_schema(schema_node: dict[str, Any], example: Any) -> None:
    assert example is not None, "every request and response body in the contract carries an example"
    errors = sorted(validator_for(schema_node).iter_errors(example), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(error.path)}: {error.message}" for error in errors)


def test_every_operation_has_request_and_success_examples() -> None:
    for operation_id, operation in operations(load_openapi()).items():
        if operation_id not in SUPPORT_DOCUMENTATION_OPERATION_IDS:  # the ping takes no body
            for media, body in operation["requestBody"]["content"].items():
                assert "example" in body, f"{operation_id} request {media}"
        successes = [status for status in operation["responses"] if str(status).startswith("2")]
        assert successes, operation_id
        for status in successes:
            for media, body in operation["responses"][status]["content"].items():
                assert "example" in body, f"{operation_id} {status} {media}"


@pytest.mark.parametrize("operation_id", sorted(CONVERSATION_OPERATION_IDS))
def test_conversation_operation_documents_the_sandbox_responses_marked_as_such(operation_id: str) -> None:
    document = load_openapi()
    responses = operations(document)[operation_id]["responses"]
    expected = {"401", "413", "415", "429"} | ({"404"} if operation_id in LIST_OPERATION_IDS else set())
    assert expected <= {str(status) for status in responses}
    for status in expected:
        response = follow_local(document, responses[status])
        assert response.get("x-sandbox") is True, f"{operation_id} {status}"
    assert "WWW-Authenticate" in follow_local(document, responses["401"])["headers"]
    assert "Retry-After" in follow_local(document, responses["429"])["headers"]


def test_only_sandbox_additions_carry_the_sandbox_mark() -> None:
    document = load_openapi()
    for operation_id, operation in operations(document).items():
        for status, response in operation["responses"].items():
            marked = follow_local(document, response).get("x-sandbox") is True
            is_addition = (
                operation_id in CONVERSATION_OPERATION_IDS
                and str(status) in {"401", "404", "413", "415", "429", "503"}
            ) or (operation_id == "getAccessToken" and str(status) == "413")
            assert marked == is_addition, f"{operation_id} {status}"


def test_vendor_status_codes_are_kept() -> None:
    document = load_openapi()
    vendor_statuses = {
        "getAccessToken": {"200", "400", "401"},
        "createConversation": {"201", "400"},
        "updateConversation": {"200", "400"},
        "getConversations": {"200", "400"},
        "addConversationMessage": {"201", "400"},
        "getConversationMessages": {"200", "400"},
        "getHello": {"200"},
    }
    for operation_id, operation in operations(document).items():
        unmarked = {
            str(status)
            for status, response in operation["responses"].items()
            if follow_local(document, response).get("x-sandbox") is not True
        }
        assert unmarked == vendor_statuses[operation_id], operation_id


def test_security_keeps_the_vendor_schemes_and_the_token_call_is_open() -> None:
    document = load_openapi()
    assert document["security"] == [{"DscoAuth": []}, {"DscoOauth": []}]
    schemes = document["components"]["securitySchemes"]
    assert schemes["DscoAuth"]["type"] == "http" and schemes["DscoAuth"]["scheme"] == "bearer"
    flow = schemes["DscoOauth"]["flows"]["clientCredentials"]
    assert flow == {"tokenUrl": "/api/v3/oauth2/token", "scopes": {}}
    assert operations(document)["getAccessToken"]["security"] == []


def test_links_chain_created_ids_into_the_follow_up_operations() -> None:
    ops = operations(load_openapi())
    created_links = ops["createConversation"]["responses"]["201"]["links"].values()
    assert {link["operationId"] for link in created_links} == {
        "updateConversation",
        "addConversationMessage",
        "getConversationMessages",
    }
    for link in created_links:
        assert link["requestBody"]["dscoConversationId"] == "$response.body#/id"
    (message_link,) = ops["addConversationMessage"]["responses"]["201"]["links"].values()
    assert message_link["operationId"] == "getConversationMessages"
    assert message_link["requestBody"]["dscoMessageId"] == "$response.body#/dscoMessageId"
    targets = {link["operationId"] for link in created_links} | {message_link["operationId"]}
    assert targets <= set(ops)


@pytest.mark.parametrize("name", ["openapi.yaml", "sandbox-openapi.yaml", "deviations.yaml"])
def test_the_fast_loader_reads_each_contract_file_as_safe_load_does(name: str) -> None:
    """The sandbox parses its contract with libyaml's loader where PyYAML has one; it must read our
    files exactly as the pure-Python safe loader does."""
    text = (CONTRACTS / name).read_text(encoding="utf-8")
    assert load_document(text) == yaml.safe_load(text)
