"""Checking an answer against a step's ``expect``, producing readable diff lines.

Every mismatch becomes one line naming where it is, what was expected and what came back
(``paths: conversations[0].status: expected 'closed', got 'in_progress'``), so a failed step can be
understood from the report alone. The same module checks the shape of expectations for the loader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from .expressions import ExpressionError, format_path, lookup, parse_path
from .model import MISSING, Expectation

MATCHERS: Final = frozenset(
    {"absent", "exists", "matches", "one_of", "contains", "equals", "at_least", "at_most"}
)
"""Keys that turn an expected object into a test on the value instead of a partial match."""
MAX_DIFF_LINES: Final = 25
_LENGTH: Final = re.compile(r"length\((?P<inner>[^()]*)\)")
_EACH: Final = re.compile(r"each\((?P<inner>[^()]*)\)(?P<rest>.*)")


def is_matcher(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= MATCHERS


# --- shape checks for the loader ---------------------------------------------------------------
def matcher_problems(value: Any) -> list[str]:
    """Problems with the matchers inside an expected value (recursively), for the loader."""
    problems: list[str] = []
    if isinstance(value, dict):
        used = set(value) & MATCHERS
        if used and not set(value) <= MATCHERS:
            others = ", ".join(sorted(set(value) - MATCHERS))
            problems.append(
                f"mixes matchers ({', '.join(sorted(used))}) with other keys ({others}); "
                "put matchers alone in their own object"
            )
        elif used:
            problems.extend(_matcher_value_problems(value))
            return problems
        for item in value.values():
            problems.extend(matcher_problems(item))
    elif isinstance(value, list):
        for item in value:
            problems.extend(matcher_problems(item))
    return problems


def _matcher_value_problems(matcher: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for key in ("absent", "exists"):
        if key in matcher and not isinstance(matcher[key], bool):
            problems.append(f"{key}: expected true or false, got {show(matcher[key])}")
    if "matches" in matcher:
        pattern = matcher["matches"]
        if not isinstance(pattern, str):
            problems.append(f"matches: expected a regular expression (a string), got {show(pattern)}")
        elif "${" not in pattern:
            try:
                re.compile(pattern)
            except re.error as error:
                problems.append(f"matches: {pattern!r} is not a regular expression ({error})")
    if "one_of" in matcher and not isinstance(matcher["one_of"], list):
        problems.append(f"one_of: expected a list of values, got {show(matcher['one_of'])}")
    for key in ("at_least", "at_most"):
        if key in matcher and not _is_number(matcher[key]) and not _is_expression(matcher[key]):
            problems.append(f"{key}: expected a number, got {show(matcher[key])}")
    if "one_of" in matcher:
        problems.extend(p for option in matcher["one_of"] or [] for p in matcher_problems(option))
    for key in ("contains", "equals"):
        if key in matcher:
            problems.extend(matcher_problems(matcher[key]))
    return problems


def path_problem(key: str) -> str | None:
    """Why ``key`` is not a valid ``paths`` entry, or None."""
    try:
        _parse_key(key)
    except ExpressionError as error:
        return str(error)
    return None


def _parse_key(key: str) -> tuple[str, tuple[str | int, ...], tuple[str | int, ...]]:
    """(function, path, rest): function is ``length``, ``each`` or ``""``."""
    text = key.strip()
    length = _LENGTH.fullmatch(text)
    if length is not None:
        return "length", _path_or_root(length.group("inner")), ()
    each = _EACH.fullmatch(text)
    if each is not None:
        rest = each.group("rest")
        if rest and rest[0] not in ".[":
            raise ExpressionError(f"{key!r}: after each(...) write .field or [index]")
        rest_parts = parse_path(rest[1:] if rest.startswith(".") else rest) if rest else ()
        return "each", _path_or_root(each.group("inner")), rest_parts
    if "(" in text or ")" in text:
        raise ExpressionError(f"{key!r}: the path functions are length(PATH) and each(PATH).REST")
    return "", _path_or_root(text), ()


def _path_or_root(text: str) -> tuple[str | int, ...]:
    text = text.strip()
    return () if text in ("", "$") else parse_path(text)


# --- checking ----------------------------------------------------------------------------------
def check(
    expectation: Expectation, status: int, headers: Mapping[str, str], body: Any, text: str
) -> list[str]:
    """Every way the answer differs from a (resolved) expectation; empty when it matches."""
    lines: list[str] = []
    allowed = expectation.status
    if allowed is None:
        if not 200 <= status < 300:
            lines.append(f"status: expected a 2xx success, got {status}")
    elif status not in allowed:
        wanted = str(allowed[0]) if len(allowed) == 1 else f"one of {', '.join(map(str, allowed))}"
        lines.append(f"status: expected {wanted}, got {status}")
    if expectation.body is not MISSING:
        lines.extend(match(expectation.body, body, "body"))
    for key, expected in expectation.paths.items():
        lines.extend(f"paths: {line}" for line in check_path(body, key, expected))
    lowered = {name.lower(): value for name, value in headers.items()}
    for name, expected in expectation.headers.items():
        actual = lowered.get(name.lower(), MISSING)
        wanted = expected if is_matcher(expected) or not _is_scalar(expected) else str(expected)
        lines.extend(f"headers: {line}" for line in match(wanted, actual, name))
    if expectation.text is not MISSING:
        expected_text = expectation.text
        if isinstance(expected_text, str):
            if text.strip() != expected_text.strip():
                lines.append(f"text: expected {show(expected_text, 200)}, got {show(text.strip(), 200)}")
        else:
            lines.extend(match(expected_text, text, "text"))
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... and {len(lines) - MAX_DIFF_LINES} more differences"]
    return lines


def check_path(body: Any, key: str, expected: Any) -> list[str]:
    try:
        function, path, rest = _parse_key(key)
    except ExpressionError as error:
        return [str(error)]
    where = format_path(path) or "(the body)"
    found = lookup(body, path)
    if function == "length":
        if isinstance(found, list | str | dict):
            return match(expected, len(found), key)
        return [f"{key}: expected a list at {where}, got {show(found)}"]
    if function == "each":
        if not isinstance(found, list):
            return [f"{key}: expected a list at {where}, got {show(found)}"]
        if not found:
            return [f"{key}: the list at {where} is empty, so no item has the expected value"]
        lines: list[str] = []
        for index, item in enumerate(found):
            item_where = f"{format_path((*path, index))}{_suffix(rest)}"
            lines.extend(match(expected, lookup(item, rest), item_where))
        return lines
    return match(expected, found, format_path(path) or "(the body)")


def _suffix(rest: tuple[str | int, ...]) -> str:
    text = format_path(rest)
    return "" if not text else (text if text.startswith("[") else f".{text}")


def match(expected: Any, actual: Any, where: str) -> list[str]:
    """Partial match: objects need only the keys expected, lists match item by item."""
    if is_matcher(expected):
        return _match_matcher(expected, actual, where)
    if actual is MISSING:
        return [f"{where}: expected {show(expected)}, missing"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {show(actual)}"]
        lines: list[str] = []
        for key, value in expected.items():
            lines.extend(match(value, actual.get(key, MISSING), _join(where, key)))
        return lines
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {show(actual)}"]
        lines = []
        if len(expected) != len(actual):
            lines.append(f"{where}: expected {len(expected)} items, got {len(actual)}")
        for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
            lines.extend(match(want, got, f"{where}[{index}]"))
        return lines
    if not same(expected, actual):
        return [f"{where}: expected {show(expected)}, got {show(actual)}"]
    return []


def _match_matcher(matcher: Mapping[str, Any], actual: Any, where: str) -> list[str]:
    lines: list[str] = []
    missing = actual is MISSING
    for key, want in matcher.items():
        if key in ("absent", "exists"):
            must_exist = bool(want) if key == "exists" else not want
            if must_exist and missing:
                lines.append(f"{where}: expected to exist, missing")
            elif not must_exist and not missing:
                lines.append(f"{where}: expected absent, got {show(actual)}")
            continue
        if missing:
            lines.append(f"{where}: expected {_describe_matcher(key, want)}, missing")
            continue
        if not _matcher_holds(key, want, actual):
            lines.append(f"{where}: expected {_describe_matcher(key, want)}, got {show(actual)}")
    return lines


def _matcher_holds(key: str, want: Any, actual: Any) -> bool:
    if key == "matches":
        text = actual if isinstance(actual, str) else None
        if text is None and _is_number(actual):
            text = json.dumps(actual)
        return text is not None and re.search(str(want), text) is not None
    if key == "one_of":
        return any(not match(option, actual, "") for option in want or [])
    if key == "contains":
        if isinstance(actual, str):
            return isinstance(want, str) and want in actual
        if isinstance(actual, list):
            return any(not match(want, item, "") for item in actual)
        if isinstance(actual, dict):
            return not match(want, actual, "")
        return False
    if key == "equals":
        return _equal(want, actual)
    if key in ("at_least", "at_most"):
        if not _is_number(actual) or not _is_number(want):
            return False
        return bool(actual >= want) if key == "at_least" else bool(actual <= want)
    return False


def _describe_matcher(key: str, want: Any) -> str:
    return {
        "matches": f"to match /{want}/",
        "one_of": f"one of {show(want)}",
        "contains": f"to contain {show(want)}",
        "equals": f"exactly {show(want)}",
        "at_least": f"at least {show(want)}",
        "at_most": f"at most {show(want)}",
    }.get(key, key)


# --- values ------------------------------------------------------------------------------------
def same(expected: Any, actual: Any) -> bool:
    """Scalar equality as JSON sees it: 1 equals 1.0, but true is not 1 and "1" is not 1."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if _is_number(expected) and _is_number(actual):
        return bool(expected == actual)
    return type(expected) is type(actual) and bool(expected == actual)


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and set(expected) == set(actual)
            and all(_equal(expected[k], actual[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_equal(a, b) for a, b in zip(expected, actual, strict=True))
        )
    return same(expected, actual)


def show(value: Any, limit: int = 120) -> str:
    """A value as a person reads it in a diff: strings quoted, containers as compact JSON, cut short."""
    if value is MISSING:
        return "nothing (missing)"
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, sort_keys=False)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > limit:
        text = f"{text[: limit - 20]}... ({len(text)} characters)"
    return text


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and "${" in value
