"""Compare two OpenAPI documents field by field, to catch drift between our contract and the vendor's.

The sandbox is only useful while its contract (``contracts/openapi.yaml`` plus the JSON Schema files it
references) says the same thing as the vendor's published document. Vendors publish new versions
without a changelog, so this module answers one question mechanically: *what changed that a client
could notice?* It deliberately ignores prose (descriptions, titles, examples) and things the vendor
cannot see (responses we mark ``x-sandbox: true``), and reports wire-level facts: operations, status
codes, media types, properties, enums, required lists, types, formats and length limits.

Everything here is a pure function over plain ``dict``/``list`` data, so tests can build modified
documents freely; the only I/O is reading the files named by a caller.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

__all__ = [
    "Difference",
    "dereference",
    "diff_specs",
    "format_report",
    "load_spec",
    "normalise_nullable",
]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
VALUE_KEYWORDS = (
    "format",
    "pattern",
    "const",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "additionalProperties",
)
"""The JSON Schema keywords that constrain a value by themselves (enum, type and required are
compared on their own, as sets). A change in any of them changes what a client may send or receive."""
_ABSENT = object()
COMBINATORS = ("oneOf", "anyOf", "allOf")
SANDBOX_MARK = "x-sandbox"


@dataclass(frozen=True)
class Difference:
    """One client-visible way in which *theirs* differs from *ours*.

    ``kind`` is a short fixed phrase (``"property added"``, ``"type changed"`` ...) so that callers can
    filter or count; ``location`` says where in the operation (request or response, media type, and a
    ``$.a.b`` path into the body); ``detail`` says what exactly differs, in words.
    """

    kind: str
    operation: str
    location: str
    detail: str
    ours: Any = None
    """What ours holds, so that a declared deviation can name it: a changed keyword's value, or the
    name of a field only ours requires; None when absent."""
    theirs: Any = None
    """The same for theirs."""

    def __str__(self) -> str:
        return f"{self.operation}: {self.kind} at {self.location}: {self.detail}"


# --------------------------------------------------------------------------------------------------
# Loading and dereferencing
# --------------------------------------------------------------------------------------------------


def _read_file(path: Path) -> Any:
    """Parse one YAML or JSON file; JSON goes through ``json`` for exact number and string handling."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return json.loads(text)
    return yaml.safe_load(text)


def _follow_pointer(document: Any, pointer: str, where: str) -> Any:
    """Walk a JSON Pointer (RFC 6901) inside ``document``; an empty pointer is the whole document."""
    node = document
    if pointer in ("", "/"):
        return node
    if not pointer.startswith("/"):
        raise ValueError(f"{where}: only JSON Pointer fragments are supported, got '#{pointer}'")
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise ValueError(f"{where}: '#{pointer}' does not exist")
    return node


class _Dereferencer:
    """Inline every ``$ref`` of a document tree, following relative file references.

    A class only to carry the cache of parsed files through the recursion; each instance serves one
    ``dereference`` call, so nothing leaks between calls.
    """

    def __init__(self) -> None:
        self._files: dict[Path, Any] = {}

    def document(self, path: Path) -> Any:
        """Parse ``path`` once, however many references point into it."""
        path = path.resolve()
        if path not in self._files:
            self._files[path] = _read_file(path)
        return self._files[path]

    def resolve(self, node: Any, base: Path, refs: tuple[str, ...], containers: frozenset[int]) -> Any:
        """Return a copy of ``node`` with references inlined.

        ``base`` is the file the node was read from (relative references resolve against its folder),
        ``refs`` the references being expanded on the current path (a repeat is a reference cycle, which
        is left as an unexpanded ``$ref`` rather than recursing forever), and ``containers`` the ids of
        the containers on the current path (YAML aliases can build genuinely recursive data).
        """
        if isinstance(node, Mapping | list):
            if id(node) in containers:
                raise ValueError(f"{base.name}: the document contains a recursive YAML alias")
            containers = containers | {id(node)}
        if isinstance(node, list):
            return [self.resolve(item, base, refs, containers) for item in node]
        if not isinstance(node, Mapping):
            return node
        reference = node.get("$ref")
        if not isinstance(reference, str):
            return {str(key): self.resolve(value, base, refs, containers) for key, value in node.items()}

        file_part, _, fragment = reference.partition("#")
        if "://" in file_part:
            raise ValueError(f"{base.name}: remote reference '{reference}' is not supported")
        target_file = (base.parent / unquote(file_part)).resolve() if file_part else base.resolve()
        pointer = unquote(fragment)
        key = f"{target_file.as_uri()}#{pointer}"
        siblings = {str(k): self.resolve(v, base, refs, containers) for k, v in node.items() if k != "$ref"}
        if key in refs:
            return {"$ref": reference, **siblings}
        target = _follow_pointer(self.document(target_file), pointer, f"{base.name} -> {reference}")
        resolved = self.resolve(target, target_file, (*refs, key), frozenset())
        if isinstance(resolved, dict):
            # JSON Schema 2020-12 and OpenAPI 3.1 allow keywords next to $ref (typically a description);
            # the local ones win, as they are the more specific statement.
            return {**resolved, **siblings}
        return resolved


def dereference(document: Any, base: Path) -> Any:
    """Return ``document`` with every ``$ref`` replaced by a copy of what it points at.

    Handles local refs (``#/components/...``) and relative file refs (``schemas/x.json``,
    ``other.json#/$defs/y``), each resolved against the folder of the file that contains it, so that
    referenced files may reference their own siblings. ``base`` is the path ``document`` was read
    from. The input is not modified.
    """
    return _Dereferencer().resolve(document, base.resolve(), (), frozenset())


def normalise_nullable(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 ``nullable: true`` as a JSON Schema type list containing ``"null"``.

    The vendor still writes the 3.0 idiom inside a 3.1 document while our schema files use the 2020-12
    form; both mean the same, so they must compare equal. Returns a new tree.
    """
    if isinstance(node, list):
        return [normalise_nullable(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    result = {key: normalise_nullable(value) for key, value in node.items() if key != "nullable"}
    if "nullable" in node and not isinstance(node["nullable"], bool):
        result["nullable"] = node["nullable"]  # not the keyword (a property called "nullable", say)
    elif node.get("nullable") is True and "type" in node:
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        result["type"] = [*types, "null"] if "null" not in types else list(types)
    return result


def load_spec(path: Path | str) -> dict[str, Any]:
    """Read an OpenAPI document (YAML or JSON) and return it fully dereferenced and normalised."""
    source = Path(path)
    document = _read_file(source)
    if not isinstance(document, dict):
        raise ValueError(f"{source.name}: an OpenAPI document must be a mapping at the top level")
    resolved = normalise_nullable(dereference(document, source))
    assert isinstance(resolved, dict)
    return resolved


# --------------------------------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------------------------------


def _operations(spec: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Map each operation's key (operationId, else ``METHOD /path``) to (``METHOD /path``, operation)."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    paths = spec.get("paths") or {}
    for path, item in paths.items():
        if not isinstance(item, Mapping):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                route = f"{method.upper()} {path}"
                key = operation.get("operationId")
                found[key if isinstance(key, str) and key else route] = (route, operation)
    return found


def _content(holder: Any) -> dict[str, Any]:
    """The ``content`` map of a request body or response, empty when there is none."""
    if isinstance(holder, Mapping):
        content = holder.get("content")
        if isinstance(content, dict):
            return content
    return {}


def _is_sandbox_only(response: Any) -> bool:
    return isinstance(response, Mapping) and response.get(SANDBOX_MARK) is True


def _list_of(schema: Mapping[str, Any], keyword: str) -> list[Any]:
    """The value of an array-valued keyword, or an empty list when it is absent or malformed."""
    value = schema.get(keyword)
    return value if isinstance(value, list) else []


def _mapping_of(schema: Mapping[str, Any], keyword: str) -> Mapping[str, Any]:
    """The value of an object-valued keyword, or an empty mapping when it is absent or malformed."""
    value = schema.get(keyword)
    return value if isinstance(value, Mapping) else {}


def _types(schema: Mapping[str, Any]) -> frozenset[str] | None:
    """The ``type`` keyword as a set, so ``"string"`` equals ``["string"]``; None when absent."""
    declared = schema.get("type")
    if declared is None:
        return None
    if isinstance(declared, list):
        return frozenset(str(t) for t in declared)
    return frozenset({str(declared)})


def _show_types(types: frozenset[str] | None) -> str:
    if types is None:
        return "(unspecified)"
    return "|".join(sorted(types))


def _canonical(value: Any) -> str:
    """A hashable, order-independent spelling of a JSON value, to compare enum members."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _show(value: Any) -> str:
    """A keyword's value in a report line: JSON spelling, so a pattern shows its backslashes as is."""
    if value is _ABSENT:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _discriminator(branch: Mapping[str, Any]) -> str | None:
    """The enum of a branch's ``type`` property: how the vendor tells its oneOf variants apart."""
    properties = branch.get("properties")
    if isinstance(properties, Mapping):
        tag = properties.get("type")
        if isinstance(tag, Mapping) and isinstance(tag.get("enum"), list):
            return _canonical(sorted(_canonical(v) for v in tag["enum"]))
    return None


def _title(branch: Mapping[str, Any]) -> str | None:
    title = branch.get("title")
    return title if isinstance(title, str) and title else None


def _branch_label(branch: Any, index: int) -> str:
    """How a oneOf/anyOf/allOf branch is named in a location: title, else discriminator, else index."""
    if isinstance(branch, Mapping):
        title = _title(branch)
        if title:
            return title
        properties = branch.get("properties")
        if isinstance(properties, Mapping):
            tag = properties.get("type")
            if isinstance(tag, Mapping) and isinstance(tag.get("enum"), list):
                return "type=" + "|".join(str(v) for v in tag["enum"])
    return str(index)


def _match_branches(
    ours: Sequence[Any], theirs: Sequence[Any]
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Pair up the branches of two combinators.

    Branch order carries no meaning, so pairing by position alone would report a reordering as a
    change. Pairs are found by title first, then by the enum of the ``type`` property (the vendor's
    discriminator), and only the leftovers by position. Returns (pairs, unpaired ours, unpaired theirs).
    """
    free_ours = list(range(len(ours)))
    free_theirs = list(range(len(theirs)))
    pairs: list[tuple[int, int]] = []
    for key in (_title, _discriminator):
        for i in list(free_ours):
            mine = key(ours[i]) if isinstance(ours[i], Mapping) else None
            if mine is None:
                continue
            for j in free_theirs:
                if isinstance(theirs[j], Mapping) and key(theirs[j]) == mine:
                    pairs.append((i, j))
                    free_ours.remove(i)
                    free_theirs.remove(j)
                    break
    for i, j in zip(list(free_ours), list(free_theirs), strict=False):
        pairs.append((i, j))
        free_ours.remove(i)
        free_theirs.remove(j)
    return pairs, free_ours, free_theirs


def _diff_schema(ours: Any, theirs: Any, operation: str, where: str, path: str) -> Iterator[Difference]:
    """Walk two schemas in step and yield every client-visible difference between them."""
    mine: Mapping[str, Any] = ours if isinstance(ours, Mapping) else {}
    other: Mapping[str, Any] = theirs if isinstance(theirs, Mapping) else {}
    location = f"{where} {path}"

    ours_types, theirs_types = _types(mine), _types(other)
    if ours_types != theirs_types:
        detail = f"ours {_show_types(ours_types)}, theirs {_show_types(theirs_types)}"
        yield Difference("type changed", operation, location, detail)

    for keyword in VALUE_KEYWORDS:
        ours_value, theirs_value = mine.get(keyword, _ABSENT), other.get(keyword, _ABSENT)
        if keyword == "additionalProperties" and (
            isinstance(ours_value, Mapping) or isinstance(theirs_value, Mapping)
        ):
            continue  # a schema for the extra properties: walked below, like any sub-schema
        if ours_value is _ABSENT and theirs_value is _ABSENT:
            continue
        if (
            ours_value is _ABSENT
            or theirs_value is _ABSENT
            or _canonical(ours_value) != _canonical(theirs_value)
        ):
            detail = f"ours {_show(ours_value)}, theirs {_show(theirs_value)}"
            yield Difference(
                f"{keyword} changed",
                operation,
                location,
                detail,
                ours=None if ours_value is _ABSENT else ours_value,
                theirs=None if theirs_value is _ABSENT else theirs_value,
            )

    ours_values = {_canonical(v): v for v in _list_of(mine, "enum")}
    theirs_values = {_canonical(v): v for v in _list_of(other, "enum")}
    if ours_values or theirs_values:
        for key, value in theirs_values.items():
            if key not in ours_values:
                yield Difference(
                    "enum value added", operation, location, f"{value!r} is allowed only in theirs"
                )
        for key, value in ours_values.items():
            if key not in theirs_values:
                yield Difference(
                    "enum value removed", operation, location, f"{value!r} is allowed only in ours"
                )

    ours_required = [str(name) for name in _list_of(mine, "required")]
    theirs_required = [str(name) for name in _list_of(other, "required")]
    for name in theirs_required:
        if name not in ours_required:
            yield Difference(
                "required field added",
                operation,
                location,
                f"'{name}' is required only in theirs",
                theirs=name,
            )
    for name in ours_required:
        if name not in theirs_required:
            yield Difference(
                "required field removed",
                operation,
                location,
                f"'{name}' is required only in ours",
                ours=name,
            )

    ours_props, theirs_props = _mapping_of(mine, "properties"), _mapping_of(other, "properties")
    for name in theirs_props:
        if name not in ours_props:
            yield Difference(
                "property added", operation, f"{where} {path}.{name}", f"'{name}' exists only in theirs"
            )
    for name in ours_props:
        if name not in theirs_props:
            yield Difference(
                "property removed", operation, f"{where} {path}.{name}", f"'{name}' exists only in ours"
            )
    for name in ours_props:
        if name in theirs_props:
            yield from _diff_schema(ours_props[name], theirs_props[name], operation, where, f"{path}.{name}")

    if "items" in mine or "items" in other:
        yield from _diff_schema(mine.get("items"), other.get("items"), operation, where, f"{path}[]")

    for keyword in ("additionalProperties", "not"):
        if isinstance(mine.get(keyword), Mapping) or isinstance(other.get(keyword), Mapping):
            yield from _diff_schema(
                mine.get(keyword), other.get(keyword), operation, where, f"{path}.<{keyword}>"
            )

    for keyword in COMBINATORS:
        ours_branches, theirs_branches = _list_of(mine, keyword), _list_of(other, keyword)
        if not ours_branches and not theirs_branches:
            continue
        pairs, only_ours, only_theirs = _match_branches(ours_branches, theirs_branches)
        for i, j in pairs:
            label = _branch_label(ours_branches[i], i)
            yield from _diff_schema(
                ours_branches[i], theirs_branches[j], operation, where, f"{path}.{keyword}[{label}]"
            )
        for j in only_theirs:
            label = _branch_label(theirs_branches[j], j)
            yield Difference(
                "variant added", operation, f"{location}.{keyword}", f"'{label}' exists only in theirs"
            )
        for i in only_ours:
            label = _branch_label(ours_branches[i], i)
            yield Difference(
                "variant removed", operation, f"{location}.{keyword}", f"'{label}' exists only in ours"
            )


def _diff_content(ours: Any, theirs: Any, operation: str, where: str) -> Iterator[Difference]:
    """Compare two ``content`` maps: media types present on one side only, then each shared schema."""
    ours_content, theirs_content = _content(ours), _content(theirs)
    for media in theirs_content:
        if media not in ours_content:
            yield Difference("media type added", operation, where, f"'{media}' exists only in theirs")
    for media in ours_content:
        if media not in theirs_content:
            yield Difference("media type removed", operation, where, f"'{media}' exists only in ours")
    for media, ours_media in ours_content.items():
        if media in theirs_content:
            ours_schema = ours_media.get("schema") if isinstance(ours_media, Mapping) else None
            theirs_media = theirs_content[media]
            theirs_schema = theirs_media.get("schema") if isinstance(theirs_media, Mapping) else None
            yield from _diff_schema(ours_schema, theirs_schema, operation, f"{where} {media}", "$")


def _diff_operation(key: str, ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> Iterator[Difference]:
    """Compare the request body and the vendor-visible responses of one operation."""
    yield from _diff_content(ours.get("requestBody"), theirs.get("requestBody"), key, "request")

    ours_responses = {str(k): v for k, v in (ours.get("responses") or {}).items()}
    theirs_responses = {str(k): v for k, v in (theirs.get("responses") or {}).items()}
    for status in theirs_responses:
        if status not in ours_responses and not _is_sandbox_only(theirs_responses[status]):
            yield Difference(
                "response status added", key, f"response {status}", f"{status} exists only in theirs"
            )
    for status in ours_responses:
        if status not in theirs_responses and not _is_sandbox_only(ours_responses[status]):
            yield Difference(
                "response status removed", key, f"response {status}", f"{status} exists only in ours"
            )
    for status, ours_response in ours_responses.items():
        if status not in theirs_responses:
            continue
        theirs_response = theirs_responses[status]
        if _is_sandbox_only(ours_response) or _is_sandbox_only(theirs_response):
            continue
        yield from _diff_content(ours_response, theirs_response, key, f"response {status}")


def diff_specs(ours: dict[str, Any], theirs: dict[str, Any]) -> list[Difference]:
    """List every client-visible difference between two dereferenced OpenAPI documents.

    "added" means present in ``theirs`` (typically a newer vendor document) but not in ``ours``;
    "removed" the reverse. Operations are matched by operationId (else by method and path), so a
    vendor moving an operation to a new path shows up as "operation moved" rather than as one
    removal plus one addition. Responses marked ``x-sandbox: true`` on either side are skipped: they
    document the sandbox's own answers, not the vendor's.
    """
    ours_ops, theirs_ops = _operations(ours), _operations(theirs)
    differences: list[Difference] = []
    for key, (route, _) in theirs_ops.items():
        if key not in ours_ops:
            differences.append(Difference("operation added", key, route, "exists only in theirs"))
    for key, (route, _) in ours_ops.items():
        if key not in theirs_ops:
            differences.append(Difference("operation removed", key, route, "exists only in ours"))
    for key, (ours_route, ours_op) in ours_ops.items():
        if key not in theirs_ops:
            continue
        theirs_route, theirs_op = theirs_ops[key]
        if ours_route != theirs_route:
            differences.append(
                Difference(
                    "operation moved", key, theirs_route, f"ours is {ours_route}, theirs {theirs_route}"
                )
            )
        differences.extend(_diff_operation(key, ours_op, theirs_op))
    return differences


def format_report(differences: Sequence[Difference]) -> str:
    """Render differences for a terminal or a CI log: a count, then one line each, grouped by operation."""
    if not differences:
        return "No differences."
    noun = "difference" if len(differences) == 1 else "differences"
    lines = [f"{len(differences)} {noun}:"]
    by_operation: dict[str, list[Difference]] = {}
    for difference in differences:
        by_operation.setdefault(difference.operation, []).append(difference)
    for operation_differences in by_operation.values():
        lines.extend(f"  {difference}" for difference in operation_differences)
    return "\n".join(lines)


def read_openapi(path: Path | str) -> dict[str, Any]:
    """:func:`load_spec` for a document a user names: any way it cannot be read becomes one line.

    Raises ``ValueError`` (or ``OSError``) whose message names the file and what is wrong: YAML
    that does not parse (with its line and column, not the parser's stack), or a document that is
    not an OpenAPI one at all, which would otherwise be compared as an API with no operations.
    """
    source = Path(path)
    try:
        spec = load_spec(source)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ValueError(f"{source}: {where}malformed YAML: {problem}") from None
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{source}: line {error.lineno} column {error.colno}: malformed JSON: {error.msg}"
        ) from None
    version = spec.get("openapi")
    if (
        not isinstance(version, str)
        or not version.startswith("3.")
        or not isinstance(spec.get("paths"), dict)
    ):
        raise ValueError(
            f"{source}: not an OpenAPI 3 document (expected an 'openapi: 3.x' version and a 'paths' mapping)"
        )
    return spec
