"""Our contract matches the vendor's, and the diff tool notices each kind of drift it promises to.

The vendor document lives outside the repository (it is not ours to redistribute). Locally its
absence skips the comparison; in CI it must be present, or the check would silently stop guarding.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator.contract.deviations import Review, format_review, load_deviations, review
from simulator.contract.diff import Difference, diff_specs, format_report, load_spec, normalise_nullable

REPO_ROOT = Path(__file__).resolve().parents[2]
OUR_CONTRACT = REPO_ROOT / "contracts" / "openapi.yaml"
DEVIATIONS = REPO_ROOT / "contracts" / "deviations.yaml"
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


@pytest.fixture(scope="module")
def vendor_text(vendor_spec_path: Path) -> str:
    """The vendor document as JSON text: parsed from YAML once per module, as that parse is slow."""
    document = yaml.safe_load(vendor_spec_path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return json.dumps(document)


@pytest.fixture
def vendor_raw(vendor_text: str) -> dict[str, Any]:
    """The vendor document as parsed, without dereferencing, ready to be edited into a variant."""
    # The vendor file shares sub-schemas through YAML anchors (deepcopy would keep the sharing); a JSON
    # round trip unshares them so that an edit stays where it is made.
    unshared = json.loads(vendor_text)
    assert isinstance(unshared, dict)
    return unshared


def write_variant(tmp_path: Path, document: dict[str, Any]) -> Path:
    """The variant as a JSON file (any OpenAPI tool reads JSON too, and it loads much faster)."""
    path = tmp_path / "vendor-variant.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def diff_with_variant(ours: dict[str, Any], tmp_path: Path, document: dict[str, Any]) -> list[Difference]:
    """The differences of a vendor variant that no declared deviation accepts."""
    differences = diff_specs(ours, load_spec(write_variant(tmp_path, document)))
    return review(differences, load_deviations(DEVIATIONS)).differences


def create_request_schema(document: dict[str, Any]) -> dict[str, Any]:
    schema = document["paths"]["/conversation"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert isinstance(schema, dict)
    return schema


def test_our_contract_differs_from_the_vendor_document_only_by_the_declared_deviations(
    ours: dict[str, Any], vendor_spec_path: Path
) -> None:
    deviations = load_deviations(DEVIATIONS)
    outcome = review(diff_specs(ours, load_spec(vendor_spec_path)), deviations)

    assert outcome.differences == [], format_review(outcome)
    # Every declared deviation is still needed: a stale entry would hide a future change.
    assert [deviation for deviation, _ in outcome.accepted] == deviations


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


# --- every keyword that constrains a value, and the declared deviations ------------------------
ITEM_ID_FIELDS = ("upc", "ean", "isbn", "gtin")


def _item_id_schemas(node: Any) -> list[dict[str, Any]]:
    """Every schema of an item-id field that carries a pattern, anywhere in a document."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for name, value in node.items():
            if name in ITEM_ID_FIELDS and isinstance(value, dict) and "pattern" in value:
                found.append(value)
            found.extend(_item_id_schemas(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_item_id_schemas(item))
    return found


def vendor_review(ours: dict[str, Any], tmp_path: Path, document: dict[str, Any]) -> Review:
    differences = diff_specs(ours, load_spec(write_variant(tmp_path, document)))
    return review(differences, load_deviations(DEVIATIONS))


def test_every_vendor_pattern_replaced_is_reported_at_every_place(
    ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path
) -> None:
    patterns = _item_id_schemas(vendor_raw)
    # Twelve patterns (four ids in each of three contexts), which the vendor's YAML anchors repeat in
    # the create request and in every answer that embeds a context.
    assert len(patterns) == 48
    for schema in patterns:
        schema["pattern"] = "^x$"

    outcome = vendor_review(ours, tmp_path, vendor_raw)

    assert all(deviation.kind != "pattern changed" for deviation, _ in outcome.accepted)
    assert {d.kind for d in outcome.differences} == {"pattern changed"}
    assert len(outcome.differences) == 48
    assert all(d.theirs == "^x$" for d in outcome.differences)


def test_one_pattern_changed_is_the_only_difference_and_the_rest_stay_accepted(
    ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path
) -> None:
    order_context = create_request_schema(vendor_raw)["properties"]["context"]["oneOf"][1]
    order_context["properties"]["lineItem"]["properties"]["upc"]["pattern"] = "^(\\d{6}|\\d{12}|\\d{14})$"

    outcome = vendor_review(ours, tmp_path, vendor_raw)

    assert [(d.kind, d.operation) for d in outcome.differences] == [("pattern changed", "createConversation")]
    difference = outcome.differences[0]
    assert difference.location.endswith("oneOf[OrderContext].lineItem.upc")
    assert difference.ours == "^(\\d{6}|\\d{12})$"
    assert difference.theirs == "^(\\d{6}|\\d{12}|\\d{14})$"
    assert "1 difference:" in format_review(outcome)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("minLength", 1),
        ("maxLength", 40),
        ("format", "uuid"),
        ("const", "x"),
        ("pattern", "^[A-Z]+$"),
    ],
)
def test_a_string_keyword_added_by_the_vendor_is_reported(
    ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path, keyword: str, value: Any
) -> None:
    create_request_schema(vendor_raw)["properties"]["referenceId"][keyword] = value

    differences = diff_with_variant(ours, tmp_path, vendor_raw)

    assert [(d.kind, d.operation) for d in differences] == [(f"{keyword} changed", "createConversation")]
    assert differences[0].location.endswith("$.referenceId")
    assert (differences[0].ours, differences[0].theirs) == (None, value)


@pytest.mark.parametrize(
    ("keyword", "value"), [("minimum", 60), ("maximum", 7200), ("exclusiveMinimum", 0), ("multipleOf", 60)]
)
def test_a_number_keyword_added_by_the_vendor_is_reported(
    ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path, keyword: str, value: int
) -> None:
    token = vendor_raw["paths"]["/oauth2/token"]["post"]["responses"]["200"]["content"]["application/json"]
    token["schema"]["properties"]["expires_in"][keyword] = value

    differences = diff_with_variant(ours, tmp_path, vendor_raw)

    assert [(d.kind, d.operation) for d in differences] == [(f"{keyword} changed", "getAccessToken")]
    assert f"theirs {value}" in differences[0].detail


def test_closing_an_object_to_extra_properties_is_reported(
    ours: dict[str, Any], vendor_raw: dict[str, Any], tmp_path: Path
) -> None:
    create_request_schema(vendor_raw)["additionalProperties"] = False

    differences = diff_with_variant(ours, tmp_path, vendor_raw)

    assert [(d.kind, d.location) for d in differences] == [
        ("additionalProperties changed", "request application/json $")
    ]
    assert differences[0].detail == "ours (none), theirs false"


def test_a_deviation_matches_by_kind_place_and_values_only(tmp_path: Path) -> None:
    path = tmp_path / "deviations.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "deviations": [
                    {"kind": "pattern changed", "at": "*.upc", "ours": "a", "theirs": "b", "reason": "why"}
                ]
            }
        ),
        encoding="utf-8",
    )
    (deviation,) = load_deviations(path)

    def difference(location: str, ours: str, theirs: str, kind: str = "pattern changed") -> Difference:
        return Difference(kind, "op", location, "detail", ours=ours, theirs=theirs)

    assert deviation.matches(difference("request $.context.oneOf[OrderContext].lineItem.upc", "a", "b"))
    assert not deviation.matches(difference("request $.context.oneOf[OrderContext].lineItem.ean", "a", "b"))
    assert not deviation.matches(difference("request $.upc", "a", "c"))
    assert not deviation.matches(difference("request $.upc", "a", "b", kind="format changed"))


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"kind": "pattern changed", "at": "*.upc"}, "deviations[0].reason: required"),
        ({"kind": "pattern changed", "at": "*", "reason": "r", "ours": "a"}, "both 'ours' and 'theirs'"),
        ({"kind": "pattern changed", "at": "*", "reason": "r", "where": "x"}, "unknown field 'where'"),
        ("pattern changed", "deviations[0]: expected a mapping"),
    ],
)
def test_a_malformed_declared_deviation_is_refused_by_name(
    tmp_path: Path, entry: Any, complaint: str
) -> None:
    path = tmp_path / "deviations.yaml"
    path.write_text(yaml.safe_dump({"deviations": [entry]}), encoding="utf-8")

    with pytest.raises(ValueError, match=re.escape(complaint)):
        load_deviations(path)


def run_diff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator", "contract", "diff", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.e2e
def test_the_command_on_the_vendor_document_lists_only_accepted_deviations(vendor_spec_path: Path) -> None:
    result = run_diff(str(vendor_spec_path))

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("No differences; ")
    assert lines[1:] and all(line.startswith("  accepted deviation: ") for line in lines[1:])
    assert any("pattern changed at *.upc" in line for line in lines)


@pytest.mark.e2e
def test_the_command_reports_one_changed_vendor_pattern_with_exit_1(
    vendor_raw: dict[str, Any], tmp_path: Path
) -> None:
    inventory = create_request_schema(vendor_raw)["properties"]["context"]["oneOf"][3]
    assert inventory["title"] == "InventoryContext"
    inventory["properties"]["gtin"]["pattern"] = "^x$"

    result = run_diff(str(write_variant(tmp_path, vendor_raw)))

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("1 difference:\n")
    assert (
        "createConversation: pattern changed at request application/json "
        "$.context.oneOf[InventoryContext].gtin: ours ^(\\d{8}|\\d{12,14})$, theirs ^x$"
    ) in result.stdout
    assert "accepted deviation: pattern changed at *.gtin" in result.stdout


def test_the_readme_fidelity_section_names_every_declared_deviation() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    fidelity = readme[readme.index("## Fidelity") : readme.index("## Command reference")]
    for deviation in load_deviations(DEVIATIONS):
        # The field a deviation is about: a required field's name, else the last name in its place.
        theirs = deviation.values[1] if deviation.values is not None else None
        if isinstance(theirs, str) and re.fullmatch(r"\w+", theirs):
            field = theirs
        else:
            field = re.findall(r"\w+", deviation.at[0])[-1]
        assert field in fidelity, f"README's Fidelity section does not mention {field!r}"
