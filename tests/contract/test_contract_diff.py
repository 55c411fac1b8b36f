"""Our contract matches the vendor's, and the diff tool notices each kind of drift it promises to.

The vendor document lives outside the repository (it is not ours to redistribute). Locally its
absence skips the comparison; in CI it must be present, or the check would silently stop guarding.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator.contract_diff import Difference, diff_specs, format_report, load_spec, normalise_nullable

REPO_ROOT = Path(__file__).resolve().parents[2]
OUR_CONTRACT = REPO_ROOT / "contracts" / "openapi.yaml"
DEFAULT_VENDOR_SPEC = REPO_ROOT.parent / "shared" / "reference" / "dsco-v3-conversation-openapi.yaml"


@pytest.fixture(scope="module")
def vendor_spec_path() -> Path:
    path = Path(os.environ.get("DSCO_VENDOR_SPEC") or DEFAULT_VENDOR_SPEC)
    if not path.is_file():
        reason = (
            f"vendor OpenAPI document not found at {path}; set DSCO_VENDOR_SPEC to its location "
            "to compare our contract with it"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    return load_spec(OUR_CONTRACT)


@pytest.fixture
def vendor_raw(vendor_spec_path: Path) -> dict[str, Any]:
    """The vendor document as parsed, without dereferencing, ready to be edited into a variant."""
    document = yaml.safe_load(vendor_spec_path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    # The vendor file shares sub-schemas through YAML anchors (deepcopy would keep the sharing); a JSON
    # round trip unshares them so that an edit stays where it is made.
    unshared = json.loads(json.dumps(document))
    assert isinstance(unshared, dict)
    return unshared


def write_variant(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "vendor-variant.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def diff_with_variant(ours: dict[str, Any], tmp_path: Path, document: dict[str, Any]) -> list[Difference]:
    return diff_specs(ours, load_spec(write_variant(tmp_path, document)))


def create_request_schema(document: dict[str, Any]) -> dict[str, Any]:
    schema = document["paths"]["/conversation"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert isinstance(schema, dict)
    return schema


def test_our_contract_has_no_difference_from_the_vendor_document(
    ours: dict[str, Any], vendor_spec_path: Path
) -> None:
    differences = diff_specs(ours, load_spec(vendor_spec_path))
    assert differences == [], format_report(differences)


def test_identical_documents_report_no_difference(ours: dict[str, Any]) -> None:
    assert diff_specs(ours, copy.deepcopy(ours)) == []
    assert format_report([]) == "No differences."


def test_property_missing_from_theirs_is_reported_by_name(
    ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path
) -> None:
    del create_request_schema(vendor_raw)["properties"]["dueDate"]

    differences = diff_with_variant(ours, tmp_path, vendor_raw)

    assert [(d.kind, d.operation) for d in differences] == [("property removed", "createConversation")]
    assert "dueDate" in str(differences[0])


def test_nested_property_missing_inside_a_oneof_branch_is_reported_with_its_path(
    ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path
) -> None:
    order_context = create_request_schema(vendor_raw)["properties"]["context"]["oneOf"][1]
    del order_context["properties"]["lineItem"]["properties"]["gtin"]

    differences = diff_with_variant(ours, tmp_path, vendor_raw)

    assert len(differences) == 1
    assert differences[0].kind == "property removed"
    assert "oneOf[OrderContext].lineItem.gtin" in differences[0].location


def test_enum_value_missing_from_theirs_is_reported(
    ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path
) -> None:
    query = vendor_raw["paths"]["/conversation/list"]["post"]["requestBody"]["content"]["application/json"]
    query["schema"]["properties"]["test"]["enum"].remove("all")

    differences = diff_with_variant(ours, tmp_path, vendor_raw)

    assert [(d.kind, d.operation) for d in differences] == [("enum value removed", "getConversations")]
    assert "'all'" in differences[0].detail
    assert differences[0].location.endswith("$.test")


def test_required_field_missing_from_theirs_is_reported(
    ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path
) -> None:
    create_request_schema(vendor_raw)["required"].remove("title")

    differences = diff_with_variant(ours, tmp_path, vendor_raw)

    assert [(d.kind, d.operation) for d in differences] == [("required field removed", "createConversation")]
    assert "'title'" in differences[0].detail


def test_changed_type_is_reported(ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path) -> None:
    token = vendor_raw["paths"]["/oauth2/token"]["post"]["responses"]["200"]["content"]["application/json"]
    token["schema"]["properties"]["expires_in"]["type"] = "string"

    differences = diff_with_variant(ours, tmp_path, vendor_raw)

    assert [(d.kind, d.operation) for d in differences] == [("type changed", "getAccessToken")]
    assert "expires_in" in differences[0].location
    assert differences[0].detail == "ours integer, theirs string"


def test_operation_only_in_theirs_is_reported_as_added(
    ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path
) -> None:
    vendor_raw["paths"]["/conversation/close"] = {
        "post": {
            "operationId": "closeConversation",
            "responses": {"204": {"description": "closed"}},
        }
    }

    differences = diff_with_variant(ours, tmp_path, vendor_raw)

    assert [(d.kind, d.operation, d.location) for d in differences] == [
        ("operation added", "closeConversation", "POST /conversation/close")
    ]


def test_sandbox_only_responses_are_ignored_but_vendor_statuses_are_not(
    ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path
) -> None:
    vendor_raw["paths"]["/conversation"]["post"]["responses"]["409"] = {
        "description": "conflict",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }

    differences = diff_with_variant(ours, tmp_path, vendor_raw)

    assert [(d.kind, d.location) for d in differences] == [("response status added", "response 409")]


def test_reordered_oneof_branches_are_matched_by_title_not_position(
    ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path
) -> None:
    create_request_schema(vendor_raw)["properties"]["context"]["oneOf"].reverse()

    assert diff_with_variant(ours, tmp_path, vendor_raw) == []


def test_nullable_keyword_and_null_in_type_list_compare_equal() -> None:
    def spec(schema: dict[str, Any]) -> dict[str, Any]:
        content = {"application/json": {"schema": {"type": "object", "properties": {"scope": schema}}}}
        return {"paths": {"/t": {"post": {"operationId": "t", "responses": {"200": {"content": content}}}}}}

    openapi_30_style = normalise_nullable(spec({"type": "string", "nullable": True}))
    assert diff_specs(spec({"type": ["string", "null"]}), openapi_30_style) == []
    assert [d.kind for d in diff_specs(spec({"type": "string"}), openapi_30_style)] == ["type changed"]


def test_relative_file_refs_resolve_against_the_referencing_file(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "outer.json").write_text(
        '{"type": "object", "properties": {"inner": {"$ref": "inner.json"}}}'
    )
    (tmp_path / "schemas" / "inner.json").write_text(
        '{"type": "object", "properties": {"self": {"$ref": "inner.json"}}}'
    )
    document = {
        "openapi": "3.1.0",
        "paths": {
            "/x": {
                "post": {
                    "operationId": "x",
                    "responses": {"200": {"$ref": "#/components/responses/Ok"}},
                }
            }
        },
        "components": {
            "responses": {"Ok": {"content": {"application/json": {"schema": {"$ref": "schemas/outer.json"}}}}}
        },
    }
    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")

    loaded = load_spec(path)

    schema = loaded["paths"]["/x"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    inner = schema["properties"]["inner"]
    assert inner["type"] == "object"
    # The self-reference is a cycle: it stays a reference instead of recursing forever.
    assert inner["properties"]["self"] == {"$ref": "inner.json"}


def test_report_lists_one_line_per_difference() -> None:
    differences = [
        Difference(
            "property added",
            "createConversation",
            "request application/json $.x",
            "'x' exists only in theirs",
        ),
        Difference("operation removed", "getThings", "POST /things", "exists only in ours"),
    ]

    report = format_report(differences)

    assert report.splitlines() == [
        "2 differences:",
        "  createConversation: property added at request application/json $.x: 'x' exists only in theirs",
        "  getThings: operation removed at POST /things: exists only in ours",
    ]
