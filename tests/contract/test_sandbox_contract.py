"""The control plane's contract (`contracts/sandbox-openapi.yaml` and `schemas/sandbox-*.json`) is
well-formed, its examples obey it, and its own formats refuse what a typo would produce.

These files are our own formats, not the vendor's: unlike the vendor schemas they are closed, so a
misspelt setting or clock command is refused instead of silently doing nothing.
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
from referencing.jsonschema import DRAFT202012

from simulator.domain.operations import CONTROL_OPERATIONS

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = REPO_ROOT / "contracts"
OPENAPI = CONTRACTS / "sandbox-openapi.yaml"
OPENAPI_URI = OPENAPI.resolve().as_uri()
SCHEMAS = CONTRACTS / "schemas"
DEFAULT_WORLD = REPO_ROOT / "fixtures" / "default-world.json"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

SANDBOX_SCHEMA_NAMES = (
    "sandbox-clock-state.json",
    "sandbox-clock-command.json",
    "sandbox-config.json",
    "sandbox-config-update.json",
    "sandbox-fault-rule.json",
    "sandbox-state.json",
    "sandbox-journal-entry.json",
    "sandbox-notification.json",
    "sandbox-namespace-create.json",
    "sandbox-namespace.json",
)
SANDBOX_SCHEMA_FILES = [SCHEMAS / name for name in SANDBOX_SCHEMA_NAMES]
CLOSED_SCHEMA_NAMES = (
    "sandbox-config.json",
    "sandbox-config-update.json",
    "sandbox-fault-rule.json",
    "sandbox-reset-command.json",
    "sandbox-namespace-create.json",
    "sandbox-namespace.json",
)

EXPECTED_OPERATIONS = {
    (operation.path, operation.method.lower()): operation.operation_id
    for operation in CONTROL_OPERATIONS.values()
}
"""The control plane's routes as the code calls them (``simulator/domain/operations.py``)."""

FULL_CONFIG: dict[str, Any] = {
    "seed": 0,
    "pageSize": 100,
    "lag": {"min": 0.2, "max": 3.0},
    "rateLimit": {"enabled": True, "perSecond": 5},
    "scrollTtl": 300.0,
    "tokenTtl": 3600,
    "untilMargin": 5.0,
    "strict": False,
    "validateResponses": False,
    "journalSize": 1000,
    "faults": {},
}


# --- loading ---------------------------------------------------------------------------------------


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_openapi() -> dict[str, Any]:
    document = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def registry() -> Registry:
    """Every JSON file under contracts/ at its own file URI (so relative refs resolve as any tool would),
    plus the OpenAPI document itself, so that its inline schemas can be validated in place."""
    resources = [
        (path.resolve().as_uri(), Resource.from_contents(load_json(path)))
        for path in sorted(CONTRACTS.rglob("*.json"))
    ]
    resources.append((OPENAPI_URI, Resource.from_contents(load_openapi(), default_specification=DRAFT202012)))
    return Registry().with_resources(resources)


REGISTRY = registry()


def validator_at(pointer: str) -> Draft202012Validator:
    """A validator for the schema found at a JSON pointer into the OpenAPI document."""
    return Draft202012Validator(
        {"$ref": f"{OPENAPI_URI}#{pointer}"},
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def schema_validator(name: str) -> Draft202012Validator:
    path = (SCHEMAS / name).resolve()
    schema = copy.deepcopy(load_json(path))
    schema["$id"] = path.as_uri()
    return Draft202012Validator(schema, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(validator: Draft202012Validator, instance: Any) -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(map(str, error.path)))
    return [f"{list(error.path)}: {error.message}" for error in errors]


# --- walking the OpenAPI document -------------------------------------------------------------------


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def follow_local(document: dict[str, Any], pointer: str) -> tuple[str, Any]:
    """The node at ``pointer``, following local `#/...` references; returns its final pointer too."""
    node: Any = document
    for token in [t for t in pointer.split("/") if t]:
        node = node[token.replace("~1", "/").replace("~0", "~")]
    if isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        return follow_local(document, node["$ref"][1:])
    return pointer, node


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(path, method, pointer, operation) for every operation of the document."""
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, f"/paths/{escape(path)}/{method}", item[method]


def example_cases() -> Iterator[Any]:
    """One (schema pointer, example) case per body and parameter of the document, named after where."""
    document = load_openapi()
    for _, _, op_pointer, operation in operations(document):
        operation_id = operation["operationId"]
        for i, parameter in enumerate(operation.get("parameters", [])):
            yield pytest.param(
                f"{op_pointer}/parameters/{i}/schema",
                parameter.get("example"),
                id=f"{operation_id}-query-{parameter['name']}",
            )
        bodies: list[tuple[str, str]] = []
        if "requestBody" in operation:
            bodies.append((f"{op_pointer}/requestBody", "request"))
        for status in operation["responses"]:
            bodies.append((f"{op_pointer}/responses/{escape(str(status))}", str(status)))
        for body_pointer, label in bodies:
            target, body = follow_local(document, body_pointer)
            for media, content in body.get("content", {}).items():
                media_pointer = f"{target}/content/{escape(media)}"
                yield pytest.param(
                    f"{media_pointer}/schema", content.get("example"), id=f"{operation_id}-{label}-{media}"
                )


# --- references -------------------------------------------------------------------------------------


# --- the files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SANDBOX_SCHEMA_FILES, ids=lambda path: path.name)
def test_schema_file_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    assert path.is_file(), f"missing {path.name}"
    Draft202012Validator.check_schema(load_json(path))


@pytest.mark.parametrize("path", SANDBOX_SCHEMA_FILES, ids=lambda path: path.name)
def test_schema_file_declares_dialect_title_and_description_but_no_id(path: Path) -> None:
    schema = load_json(path)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema.get("title")
    assert schema.get("description")
    assert "$id" not in schema, "an $id would break resolving siblings relative to the file location"


@pytest.mark.parametrize("name", CLOSED_SCHEMA_NAMES)
def test_own_formats_refuse_unknown_keys(name: str) -> None:
    assert load_json(SCHEMAS / name)["additionalProperties"] is False


def test_every_clock_command_branch_refuses_unknown_keys() -> None:
    branches = load_json(SCHEMAS / "sandbox-clock-command.json")["oneOf"]
    assert [branch["title"] for branch in branches] == ["Freeze", "Set", "Advance", "Resume"]
    assert all(branch["additionalProperties"] is False for branch in branches)


@pytest.mark.parametrize("path", [OPENAPI, *SANDBOX_SCHEMA_FILES], ids=lambda path: path.name)
def test_every_ref_points_at_an_existing_target(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    references = list(iter_refs(document))
    broken = [reference for reference in references if not ref_target_exists(path, document, reference)]
    assert not broken, f"{path.name}: unresolvable $ref {broken}"
    resolver = REGISTRY.resolver(base_uri=path.resolve().as_uri())
    for reference in references:
        resolver.lookup(reference)  # raises if a JSON Schema tool could not follow it


def test_openapi_refers_to_schemas_by_relative_paths_only() -> None:
    for reference in iter_refs(load_openapi()):
        assert reference.startswith(("#/", "schemas/sandbox-")), reference


# --- the OpenAPI document ---------------------------------------------------------------------------


def test_openapi_header_server_and_optional_admin_token() -> None:
    document = load_openapi()
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "dsco-sandbox control plane"
    assert [server["url"] for server in document["servers"]] == ["http://127.0.0.1:8765/_sandbox"]
    assert document["security"] == [{}, {"AdminToken": []}]
    scheme = document["components"]["securitySchemes"]["AdminToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "--admin-token" in scheme["description"]


def test_openapi_declares_exactly_the_control_operations() -> None:
    found = {(path, method): op["operationId"] for path, method, _, op in operations(load_openapi())}
    assert found == EXPECTED_OPERATIONS


def test_every_operation_answers_401_and_body_taking_ones_answer_400() -> None:
    document = load_openapi()
    for _, _, _, operation in operations(document):
        statuses = set(operation["responses"])
        assert "401" in statuses, operation["operationId"]
        if "requestBody" in operation or operation.get("parameters"):
            assert "400" in statuses, operation["operationId"]
            # Every body is required, except the reset's options: a bodiless reset keeps working.
            optional = operation["operationId"] == "resetSandbox"
            assert operation.get("requestBody", {}).get("required", True) is not optional
    for status in ("BadRequest", "Unauthorized", "NotFound"):
        content = document["components"]["responses"][status]["content"]
        assert list(content) == ["text/plain"], status


def test_bodies_are_json_and_errors_plain_text() -> None:
    document = load_openapi()
    for _, _, op_pointer, operation in operations(document):
        for media in operation.get("requestBody", {}).get("content", {}):
            assert media == "application/json", operation["operationId"]
        for status in operation["responses"]:
            _, response = follow_local(document, f"{op_pointer}/responses/{escape(str(status))}")
            expected = ["application/json"] if str(status).startswith("2") else ["text/plain"]
            assert list(response["content"]) == expected, f"{operation['operationId']} {status}"


@pytest.mark.parametrize("pointer, example", list(example_cases()))
def test_example_validates_against_its_schema(pointer: str, example: Any) -> None:
    assert example is not None, "every body and parameter of the control plane carries an example"
    found = problems(validator_at(pointer), example)
    assert not found, "\n".join(found)


# --- clock commands ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [{"freeze": True}, {"freeze": False}, {"set": "2026-05-01T10:00:00Z"}, {"advance": 0}, {"advance": 1.5}],
    ids=str,
)
def test_clock_command_accepts_one_change(command: dict[str, Any]) -> None:
    assert not problems(schema_validator("sandbox-clock-command.json"), command)


@pytest.mark.parametrize(
    "command",
    [
        {},
        {"freeze": True, "advance": 1},
        {"advance": -1},
        {"sett": "2026-05-01T10:00:00Z"},
        {"set": 1777629600},
        {"freeze": "yes"},
    ],
    ids=str,
)
def test_clock_command_refuses(command: dict[str, Any]) -> None:
    assert problems(schema_validator("sandbox-clock-command.json"), command)


# --- settings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "update",
    [
        {},
        {"faults": None},
        {"faults": {"createConversation": None}},
        {"faults": {"*": {"errorRate": 0.5, "errorStatus": 500}}},
        {"faults": {"getConversations": {"latency": 2}}},
        {"faults": {"getConversations": {"latency": {"min": 0.5}}}},
        {"faults": {"addConversationMessage": {"forceStatus": 503, "forceCount": 3, "dropNext": 1}}},
        {"lag": {"min": 8, "max": 8}},
        {"lag": {"min": 8}},
        {"rateLimit": {"enabled": False}},
        FULL_CONFIG,
    ],
    ids=str,
)
def test_config_update_accepts(update: dict[str, Any]) -> None:
    assert not problems(schema_validator("sandbox-config-update.json"), update)


@pytest.mark.parametrize(
    "update",
    [
        {"pageSize": 0},
        {"pageSize": 1001},
        {"lag": {"min": -1}},
        {"lag": {"mn": 1}},
        {"rateLimit": {"perSecond": 0}},
        {"scrollTtl": 0},
        {"tokenTtl": 0},
        {"journalSize": 0},
        {"faults": {"createConversaton": {}}},
        {"faults": {"*": {"errorRate": 2}}},
        {"faults": {"*": {"errorStatus": 200}}},
        {"faults": {"*": {"latency": -1}}},
        {"faults": {"*": {"latency": {"max": 2}}}},
        {"faults": {"*": {"eror_rate": 0.1}}},
        {"faults": []},
        {"strikt": True},
    ],
    ids=str,
)
def test_config_update_refuses(update: dict[str, Any]) -> None:
    assert problems(schema_validator("sandbox-config-update.json"), update)


def test_full_config_is_a_valid_answer_and_every_setting_is_required() -> None:
    validator = schema_validator("sandbox-config.json")
    assert not problems(validator, FULL_CONFIG)
    for key in FULL_CONFIG:
        partial = {k: v for k, v in FULL_CONFIG.items() if k != key}
        assert problems(validator, partial), f"{key} should be required"
    assert problems(validator, {**FULL_CONFIG, "faults": {"createConversation": None}})


def test_config_update_offers_exactly_the_settings_of_the_config() -> None:
    config = load_json(SCHEMAS / "sandbox-config.json")
    update = load_json(SCHEMAS / "sandbox-config-update.json")
    assert set(update["properties"]) == set(config["properties"]) == set(FULL_CONFIG)
    assert "required" not in update


# --- state ------------------------------------------------------------------------------------------


def minimal_state(world: Any) -> dict[str, Any]:
    return {
        "format": "dsco-sandbox-state",
        "version": 1,
        "world": world,
        "clock": {"now": "2026-05-01T10:00:00Z", "frozen": False},
        "config": copy.deepcopy(FULL_CONFIG),
        "conversations": [],
        "messages": [],
    }


def test_default_world_embedded_in_a_minimal_state_validates() -> None:
    state = minimal_state(load_json(DEFAULT_WORLD))
    found = problems(schema_validator("sandbox-state.json"), state)
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "change",
    [
        {"format": "dsco-sandbox-world"},
        {"version": 2},
        {"extra": True},
        {"world": {"format": "dsco-sandbox-world", "version": 1}},
        {"conversations": [{"id": "c1"}]},
        {"messages": [{"id": "m1", "unknown": 1}]},
        {"tokens": [{"accessToken": "t", "dscoAccountId": "1000001", "expiresAt": "tomorrow"}]},
    ],
    ids=str,
)
def test_state_refuses_a_broken_document(change: dict[str, Any]) -> None:
    state = {**minimal_state(load_json(DEFAULT_WORLD)), **change}
    assert problems(schema_validator("sandbox-state.json"), state)


def test_state_requires_its_core_parts() -> None:
    validator = schema_validator("sandbox-state.json")
    state = minimal_state(load_json(DEFAULT_WORLD))
    for key in ("format", "version", "world", "clock", "config", "conversations", "messages"):
        assert problems(validator, {k: v for k, v in state.items() if k != key}), key


# --- a real consumer --------------------------------------------------------------------------------


def test_schemathesis_loads_every_operation() -> None:
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_path(str(OPENAPI))
    loaded = [result.ok() for result in schema.get_all_operations()]
    assert {operation.definition.raw["operationId"] for operation in loaded} == set(
        EXPECTED_OPERATIONS.values()
    )
