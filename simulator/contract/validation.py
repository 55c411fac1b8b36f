"""The contract: loading ``contracts/``, validating payloads, and explaining what is wrong.

Every validator is compiled once when the contract loads. Violations are explained the way a person
would say them — ``title: 51 characters, at most 50 allowed`` — with the JSON path of the field
first, and a failed ``oneOf`` is explained through the branch the payload most likely meant (the one
its ``type`` names) instead of a list of every alternative.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urljoin

from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ..domain.clock import parse_rfc3339
from ..loading.resources import data_dir
from .yamlnodes import load_document

DATE_TIME_EXAMPLE = "2023-05-01T09:29:55Z"
_JSON_TYPE_NAMES = MappingProxyType(
    {
        "object": "an object",
        "array": "an array",
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "boolean": "a boolean (true or false)",
        "null": "null",
    }
)


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a payload breaks the contract: the field's JSON path and a plain explanation."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class Operation:
    operation_id: str
    method: str
    path: str
    request_media_type: str
    request_schema: str | None
    responses: Mapping[str, str | None]
    """Schema URI of the body for each documented status code (``None`` when it has none)."""


def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or parse_rfc3339(value) is not None


def _native_module() -> Any:
    """The optional compiled validator; without it the pure-Python one does everything, slower."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - exercised only where the wheel is unavailable
        return None
    return jsonschema_rs


def _native_registry(documents: Mapping[str, Any]) -> Any:
    native = _native_module()
    return None if native is None else (native, native.Registry(list(documents.items())))


def _native_check(registry: Any, uri: str) -> Callable[[Any], bool] | None:
    """A native yes/no validity check (microseconds instead of hundreds of them).

    Only a "valid" answer is trusted on its own; anything else is re-checked and explained by the
    pure-Python validator, so both must agree before a request is refused.
    """
    if registry is None:
        return None
    native, native_registry = registry
    validator = native.Draft202012Validator(
        {"$ref": uri}, registry=native_registry, validate_formats=True, formats={"date-time": _is_date_time}
    )
    is_valid: Callable[[Any], bool] = validator.is_valid
    return is_valid


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    checker.checks("date-time")(_is_date_time)
    return checker


class Contract:
    """The loaded contract, with one compiled validator per schema that requests and responses use."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or data_dir("contracts")).resolve()
        self.openapi: dict[str, Any] = load_document((self.root / "openapi.yaml").read_text("utf-8"))
        self._documents: dict[str, Any] = {}
        for path in sorted(self.root.rglob("*.json")):
            uri = path.as_uri()
            self._documents[uri] = _absolute_refs(json.loads(path.read_text("utf-8")), uri)
        self.registry: Registry[Any] = Registry().with_resources(
            (uri, Resource.from_contents(doc, default_specification=DRAFT202012))
            for uri, doc in self._documents.items()
        )
        self._checker = _format_checker()
        self._validators: dict[str, Draft202012Validator] = {}
        self._fast: dict[str, Callable[[Any], bool]] = {}
        self._shapes: dict[str, _Shape] = {}
        self._native_registry = _native_registry(self._documents)
        self.operations: dict[str, Operation] = dict(self._read_operations())
        for operation in self.operations.values():
            for schema in (operation.request_schema, *operation.responses.values()):
                if schema is not None:
                    self._validator(schema)

    # --- reading the OpenAPI document ------------------------------------------------------
    def _read_operations(self) -> Iterator[tuple[str, Operation]]:
        base = (self.root / "openapi.yaml").as_uri()
        for path, item in self.openapi.get("paths", {}).items():
            for method, spec in item.items():
                if not isinstance(spec, dict) or "operationId" not in spec:
                    continue
                request_body: dict[str, Any] = spec.get("requestBody") or {}
                content: dict[str, Any] = request_body.get("content") or {}
                media_type = next(iter(content), "application/json")
                media: dict[str, Any] = content.get(media_type) or {}
                responses: dict[str, str | None] = {}
                for status, response in spec.get("responses", {}).items():
                    response = self._deref(response)
                    body: dict[str, Any] = response.get("content") or {}
                    json_media: dict[str, Any] = body.get("application/json") or {}
                    json_body = json_media.get("schema")
                    responses[str(status)] = self._schema_uri(base, json_body) if json_body else None
                schema = media.get("schema")
                yield (
                    spec["operationId"],
                    Operation(
                        operation_id=spec["operationId"],
                        method=method.upper(),
                        path=path,
                        request_media_type=media_type,
                        request_schema=self._schema_uri(base, schema) if schema else None,
                        responses=responses,
                    ),
                )

    def _deref(self, node: Any) -> Any:
        """Follow local ``#/...`` references (responses and headers live in ``components``)."""
        while isinstance(node, dict) and str(node.get("$ref", "")).startswith("#/"):
            target: Any = self.openapi
            for segment in node["$ref"][2:].split("/"):
                target = target[segment.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _schema_uri(self, base: str, schema: Mapping[str, Any]) -> str:
        ref = schema.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return urljoin(base, ref)
        uri = f"{base}#inline-{len(self._documents)}"
        self._documents[uri] = dict(schema)
        self.registry = self.registry.with_resource(uri, Resource.from_contents(schema, DRAFT202012))
        return uri

    def _validator(self, uri: str) -> Draft202012Validator:
        validator = self._validators.get(uri)
        if validator is None:
            validator = Draft202012Validator(
                {"$ref": uri}, registry=self.registry, format_checker=self._checker
            )
            # Request threads share this cache: publish the fast check before the validator, so a
            # thread that finds the validator finds its check too (two threads may both compile a
            # schema on its first use; either result will do).
            self._fast[uri] = _native_check(self._native_registry, uri) or validator.is_valid
            self._validators[uri] = validator
        return validator

    def schema_uri(self, relative: str) -> str:
        """The URI a schema file of ``contracts/`` is registered under (e.g. ``world.schema.json``)."""
        return (self.root / relative).as_uri()

    # --- validation ------------------------------------------------------------------------
    def validate_request(self, operation_id: str, payload: Any) -> list[Violation]:
        uri = self.operation(operation_id).request_schema
        return [] if uri is None else self.validate(uri, payload)

    def validate_response(self, operation_id: str, status: int, payload: Any) -> list[Violation]:
        responses = self.operation(operation_id).responses
        if str(status) not in responses:
            documented = ", ".join(sorted(responses))
            return [Violation("status", f"{status} is not a documented status (documented: {documented})")]
        uri = responses[str(status)]
        return [] if uri is None else self.validate(uri, payload)

    def validate(self, schema_uri: str, payload: Any) -> list[Violation]:
        """Validate against any registered schema, explaining each problem."""
        if self.passes_fast_check(schema_uri, payload):
            return []
        return self.explain(schema_uri, payload)

    def passes_fast_check(self, schema_uri: str, payload: Any) -> bool:
        """The compiled yes/no check alone, which ``validate`` trusts when it says "valid".

        Public so that tests can hold it to agreement with :meth:`explain`: through ``validate``
        alone, a check that wrongly said "valid" would never be compared with anything.
        """
        self._validator(schema_uri)
        return self._fast[schema_uri](payload)

    def explain(self, schema_uri: str, payload: Any) -> list[Violation]:
        """Every violation the pure-Python validator finds, without asking the compiled check first."""
        validator = self._validator(schema_uri)
        violations: list[Violation] = []
        for error in sorted(validator.iter_errors(payload), key=lambda e: list(map(str, e.absolute_path))):
            violations.extend(_explain(error, self.registry))
        return _dedupe([Violation(v.path or "body", v.message) for v in violations])

    def operation(self, operation_id: str) -> Operation:
        try:
            return self.operations[operation_id]
        except KeyError:
            known = ", ".join(sorted(self.operations))
            raise KeyError(f"unknown operation {operation_id!r}; known: {known}") from None

    def unknown_fields(self, operation_id: str, payload: Any) -> list[str]:
        """JSON paths of fields the request schema does not define (production ignores them)."""
        uri = self.operation(operation_id).request_schema
        if uri is None:
            return []
        shape = self._shapes.get(uri)
        if shape is None:
            shape = self._shapes[uri] = _compile_shape(self.registry, {"$ref": uri})
        found: list[str] = []
        shape.unknown(payload, "", found)
        return found


# --- explaining errors ---------------------------------------------------------------------
def _explain(error: ValidationError, registry: Registry[Any]) -> list[Violation]:
    path = _path(error.absolute_path)
    kind = error.validator
    instance: Any = error.instance
    expected: Any = error.validator_value
    if kind == "oneOf":
        return _explain_one_of(error, registry)
    if kind == "type":
        return [Violation(path, f"expected {_expected(expected)}, got {_describe(instance)}")]
    if kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else str(error.message)
        return [Violation(_join_path(path, name), "required field is missing")]
    if kind == "maxLength":
        return [Violation(path, f"{len(instance)} characters, at most {expected} allowed")]
    if kind == "minLength":
        return [Violation(path, f"{len(instance)} characters, at least {expected} required")]
    if kind == "format" and expected == "date-time":
        return [Violation(path, f"{instance!r} is not an RFC 3339 date-time (like {DATE_TIME_EXAMPLE})")]
    if kind == "enum":
        allowed = ", ".join(str(v) for v in expected)
        return [Violation(path, f"{_describe(instance)} is not one of {allowed}")]
    if kind == "const":
        return [Violation(path, f"{_describe(instance)} must be {expected!r}")]
    if kind == "pattern":
        return [Violation(path, f"{instance!r} does not match the pattern {expected}")]
    if kind == "additionalProperties":
        extras = re.findall(r"'([^']+)'", error.message.split("(")[-1])
        return [
            Violation(_join_path(path, extra), "unknown field, not allowed here") for extra in extras
        ] or [Violation(path or "body", error.message)]
    return [Violation(path or "body", error.message)]


def _explain_one_of(error: ValidationError, registry: Registry[Any]) -> list[Violation]:
    """Explain a failed ``oneOf`` through the branch the payload's ``type`` names."""
    path = _path(error.absolute_path)
    instance: Any = error.instance
    alternatives: Any = error.validator_value
    branches = [_resolve(registry, branch) for branch in alternatives]
    discriminators = [_type_enum(branch) for branch in branches]
    if not isinstance(instance, dict):
        titles = " or ".join(_expected(b.get("type", "object")) for b in branches[:1])
        return [Violation(path or "body", f"expected {titles}, got {_describe(instance)}")]
    if all(discriminators):
        value = instance.get("type")
        chosen = next((i for i, d in enumerate(discriminators) if value in d), None)
        if chosen is None:
            if "type" not in instance:
                return [Violation(_join_path(path, "type"), "required field is missing")]
            allowed = ", ".join(str(v) for d in discriminators for v in d)
            return [Violation(_join_path(path, "type"), f"{_describe(value)} is not one of {allowed}")]
        return _branch_errors(error, chosen, registry)
    # No discriminator: the branch with the fewest problems is the likeliest intent.
    per_branch = {i: _branch_errors(error, i, registry) for i in range(len(branches))}
    best = min(per_branch, key=lambda i: len(per_branch[i]))
    return per_branch[best] or [Violation(path or "body", "matches more than one of the allowed shapes")]


def _branch_errors(error: ValidationError, index: int, registry: Registry[Any]) -> list[Violation]:
    found: list[Violation] = []
    for sub in error.context or []:
        if sub.schema_path and sub.schema_path[0] == index:
            found.extend(_explain(sub, registry))
    return found


def _resolve(registry: Registry[Any], schema: Any) -> dict[str, Any]:
    resolver = registry.resolver()
    while isinstance(schema, dict) and "$ref" in schema:
        resolved = resolver.lookup(schema["$ref"])
        schema, resolver = resolved.contents, resolved.resolver
    return schema if isinstance(schema, dict) else {}


def _type_enum(schema: Mapping[str, Any]) -> list[Any]:
    prop = schema.get("properties", {}).get("type", {})
    if isinstance(prop, dict) and "enum" in prop:
        return list(prop["enum"])
    if isinstance(prop, dict) and "const" in prop:
        return [prop["const"]]
    return []


@dataclass
class _Shape:
    """The field names a schema defines, compiled once so unknown-field checks are dict lookups."""

    properties: dict[str, _Shape] | None = None
    items: _Shape | None = None
    branches: dict[Any, _Shape] | None = None
    """For a ``oneOf`` told apart by ``type``: the branch for each discriminator value."""

    def unknown(self, instance: Any, path: str, found: list[str]) -> None:
        if self.branches is not None:
            if isinstance(instance, dict) and isinstance(instance.get("type"), str | int | bool):
                branch = self.branches.get(instance["type"])
                if branch is not None:
                    branch.unknown(instance, path, found)
            return
        if self.properties is not None and isinstance(instance, dict):
            for key, value in instance.items():
                child = self.properties.get(key)
                if child is None:
                    found.append(_join_path(path, key))
                elif child.properties is not None or child.items is not None or child.branches is not None:
                    child.unknown(value, _join_path(path, key), found)  # leaves have nothing to check
        elif self.items is not None and isinstance(instance, list):
            for i, value in enumerate(instance):
                self.items.unknown(value, f"{path}[{i}]", found)


def _compile_shape(registry: Registry[Any], schema: Any) -> _Shape:
    schema = _resolve(registry, schema)
    shape = _Shape()
    if "oneOf" in schema:
        branches = [_resolve(registry, branch) for branch in schema["oneOf"]]
        if all(_type_enum(branch) for branch in branches):
            shape.branches = {
                value: _compile_shape(registry, branch) for branch in branches for value in _type_enum(branch)
            }
        return shape
    if "properties" in schema:
        shape.properties = {
            name: _compile_shape(registry, child) for name, child in schema["properties"].items()
        }
    if "items" in schema:
        shape.items = _compile_shape(registry, schema["items"])
    return shape


def _absolute_refs(node: Any, base: str) -> Any:
    """Make relative file references absolute, so any branch resolves without knowing its file."""
    if isinstance(node, dict):
        return {
            key: urljoin(base, value)
            if key == "$ref" and isinstance(value, str) and not value.startswith("#")
            else _absolute_refs(value, base)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_absolute_refs(item, base) for item in node]
    return node


def _path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text = f"{text}[{part}]" if isinstance(part, int) else _join_path(text, str(part))
    return text


def _join_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _expected(json_type: Any) -> str:
    if isinstance(json_type, list):
        return " or ".join(_JSON_TYPE_NAMES.get(t, str(t)) for t in json_type)
    return _JSON_TYPE_NAMES.get(json_type, str(json_type))


def _describe(value: Any) -> str:
    """A value as a person would quote it: scalars verbatim, containers by their kind."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return json.dumps(value)


def _dedupe(violations: list[Violation]) -> list[Violation]:
    seen: set[Violation] = set()
    unique: list[Violation] = []
    for violation in violations:
        if violation not in seen:
            seen.add(violation)
            unique.append(violation)
    return unique
