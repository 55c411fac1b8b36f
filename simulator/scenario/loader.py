"""Reading scenario files: every problem found up front, each pointing at its file and line.

A scenario that would fail half-way because of a typo wastes a run against a slow or shared target,
so loading checks everything that can be checked without sending a request: YAML syntax, the
format (``contracts/scenario.schema.json``), actors, actions, ``${...}`` references to names that no
earlier step saves, Faker methods, path syntax and matchers. All problems are reported together as
``FILE:LINE: step N (name): message``.

YAML is parsed with line information (``compose``), JSON files through the same parser (JSON is
YAML). Two YAML 1.1 surprises are switched off: ``yes``/``no``/``on``/``off`` stay text (only
``true``/``false`` are booleans) and dates stay text, since every value ends up in JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from ..contract.validation import Contract
from ..contract.yamlnodes import key_text as _key_text
from ..contract.yamlnodes import line as _line
from ..contract.yamlnodes import locate as _locate
from ..loading.bootstrap import WorldFileError, read_world
from .expectations import matcher_problems, path_problem
from .expressions import (
    EXPRESSION,
    RESERVED,
    ExpressionError,
    check_faker_method,
    expressions_in,
    new_faker,
    parse_expression,
    unterminated,
)
from .model import API_ACTIONS, MISSING, Actor, Expectation, Poll, Scenario, Step

SCHEMA: Final = "scenario.schema.json"
SUFFIXES: Final = (".yaml", ".yml", ".json")
_STR_TAG: Final = "tag:yaml.org,2002:str"
_BOOL_TAG: Final = "tag:yaml.org,2002:bool"
_DROPPED_TAGS: Final = frozenset({_BOOL_TAG, "tag:yaml.org,2002:timestamp"})
_RECIPE_FIELDS: Final = ("createdSince", "until", "scrollId")
_Report = Callable[[str | None, str], None]
"""Reports a problem of the current step at a field's line (None: the step's own line)."""


class ScenarioError(ValueError):
    """A scenario file that cannot be run, with every reason (one ``FILE:LINE: ...`` line each)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def _json_like_resolvers() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        resolvers[first] = [(tag, regexp) for tag, regexp in entries if tag not in _DROPPED_TAGS]
    boolean = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
    for first in "tTfF":
        resolvers.setdefault(first, []).insert(0, (_BOOL_TAG, boolean))
    return resolvers


class _ScenarioLoader(yaml.SafeLoader):
    """SafeLoader with JSON-like scalars: only true/false are booleans, and dates stay strings."""

    yaml_implicit_resolvers = _json_like_resolvers()


# --- public API ----------------------------------------------------------------------------------
def load_directory(paths: Iterable[str | Path]) -> list[Path]:
    """The scenario files named by ``paths``: files as given, folders searched recursively, sorted."""
    found: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            missing.append(f"{path}: no such file or folder")
    if missing:
        raise ScenarioError(missing)
    return list(dict.fromkeys(found))


def load_scenario(path: str | Path, *, contract: Contract | None = None) -> Scenario:
    """Read and check one scenario file; raise :class:`ScenarioError` listing every problem."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise ScenarioError([f"{where}: cannot read the file ({error.strerror})"]) from None
    except UnicodeDecodeError as error:
        raise ScenarioError([f"{where}: not UTF-8 text (byte {error.start})"]) from None
    root, data = _parse(where, text)
    checker = _Checker(where, path, root, contract or Contract())
    return checker.run(data)


# --- parsing -------------------------------------------------------------------------------------
def _parse(where: str, text: str) -> tuple[yaml.Node, Any]:
    loader = _ScenarioLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        detail = " ".join(part for part in (error.context, error.problem) if part)
        raise ScenarioError([f"{where}:{line}: not valid YAML: {detail}"]) from None
    except yaml.YAMLError as error:
        raise ScenarioError([f"{where}:1: not valid YAML: {error}"]) from None
    finally:
        loader.dispose()
    if root is None:
        raise ScenarioError([f"{where}:1: the file is empty; a scenario needs a name and steps"])
    return root, data


def _get(node: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    """(key node, value node) of ``key`` in a mapping node."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if _key_text(key_node) == key:
                return key_node, value_node
    return None


def _strings(node: yaml.Node, skip: frozenset[str] = frozenset()) -> Iterator[tuple[str, int]]:
    """Every text scalar under ``node`` (values only, not keys) with its line."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR_TAG:
            yield str(node.value), _line(node)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _strings(item)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if _key_text(key_node) not in skip:
                yield from _strings(value_node)


def _key_problems(node: yaml.Node) -> Iterator[tuple[int, str]]:
    """Duplicate keys (YAML keeps only the last, silently) and keys that are not text."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = _key_text(key_node)
            if key_node.tag != _STR_TAG or key is None:
                yield _line(key_node), f"the key {key!r} must be text (put it in quotes)"
            elif key in seen:
                yield _line(key_node), f"{key!r} appears twice in one mapping (first on line {seen[key]})"
            else:
                seen[key] = _line(key_node)
            yield from _key_problems(value_node)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _key_problems(item)


# --- checking ------------------------------------------------------------------------------------
class _Checker:
    def __init__(self, where: str, path: Path, root: yaml.Node, contract: Contract) -> None:
        self.where = where
        self.path = path
        self.root = root
        self.contract = contract
        self.problems: list[tuple[int, str]] = []
        self.steps_node = _get(root, "steps")
        self._faker: Any = None

    def report(self, line: int, message: str, step: int | None = None, data: Any = None) -> None:
        if step is not None:
            name = ""
            if isinstance(data, dict) and isinstance(data.get("name"), str):
                name = f" ({data['name']})"
            message = f"step {step + 1}{name}: {message}"
        self.problems.append((line, message))

    def fail_if_any(self) -> None:
        if self.problems:
            ordered = sorted(dict.fromkeys(self.problems), key=lambda item: item[0])
            raise ScenarioError([f"{self.where}:{line}: {message}" for line, message in ordered])

    def step_node(self, index: int) -> yaml.Node:
        assert self.steps_node is not None and isinstance(self.steps_node[1], yaml.SequenceNode)
        node: yaml.Node = self.steps_node[1].value[index]
        return node

    def run(self, data: Any) -> Scenario:
        for line, message in _key_problems(self.root):
            self.report(line, message)
        self.fail_if_any()
        violations = self.contract.validate(self.contract.schema_uri(SCHEMA), data)
        broken_steps: set[int] = set()
        for violation in violations:
            if self._is_expression(violation.path):
                continue  # "${saved.count}" becomes a number at run time; the target checks it then
            index = self._report_violation(violation.path, violation.message, data)
            broken_steps.add(-1 if index is None else index)
        if -1 in broken_steps:  # the file's own shape is wrong: nothing below can be trusted
            self.fail_if_any()
        # Steps that fit the format are checked further even when others do not, so that one
        # run of the loader reports every problem it can.
        actors = self._actors(data)
        world = self._world(data)
        steps = [
            self._step(index, raw, actors, data)
            for index, raw in enumerate(data["steps"])
            if index not in broken_steps
        ]
        self.fail_if_any()
        return Scenario(
            name=data["name"],
            path=self.path,
            steps=tuple(steps),
            actors=actors,
            description=data.get("description", ""),
            seed=data.get("seed"),
            world=world,
            config=data.get("config"),
        )

    def _is_expression(self, path: str) -> bool:
        node = _locate(self.root, path, value=True)
        return (
            isinstance(node, yaml.ScalarNode)
            and node.tag == _STR_TAG
            and EXPRESSION.fullmatch(str(node.value)) is not None
        )

    def _report_violation(self, path: str, message: str, data: Any) -> int | None:
        """Report one schema violation at its line; the index of the step it is in, if any."""
        node = _locate(self.root, path)
        match = re.match(r"steps\[([0-9]+)\]\.?(.*)", path)
        if match is not None:
            index = int(match.group(1))
            steps = data.get("steps") if isinstance(data, dict) else None
            step = steps[index] if isinstance(steps, list) and index < len(steps) else None
            inner = match.group(2)
            self.report(_line(node), f"{inner}: {message}" if inner else message, index, step)
            return index
        self.report(_line(node), f"{path}: {message}" if path != "body" else message)
        return None

    def _actors(self, data: dict[str, Any]) -> dict[str, Actor]:
        return {
            name: Actor(
                name=name,
                role=raw["role"],
                client_id=raw.get("client_id"),
                client_secret=raw.get("client_secret"),
                dsco_account_id=raw.get("dscoAccountId"),
                id=raw.get("id"),
            )
            for name, raw in (data.get("actors") or {}).items()
        }

    def _world(self, data: dict[str, Any]) -> Path | None:
        raw = data.get("world")
        if raw is None or raw == "default":
            return None
        located = _get(self.root, "world")
        line = _line(located[1]) if located else 1
        world: Path = (self.path.parent / str(raw)).resolve()
        if not world.is_file():
            self.report(line, f"world: {raw!r} is not a file (looked for {world})")
            return None
        try:
            read_world(self.contract, world)
        except WorldFileError as error:
            for text in str(error).splitlines():
                self.report(line, f"world: {text}")
        return world

    # --- one step ------------------------------------------------------------------------------
    def _step(self, index: int, raw: dict[str, Any], actors: dict[str, Actor], data: dict[str, Any]) -> Step:
        node = self.step_node(index)
        action: str = raw["action"]

        def problem(field: str | None, message: str) -> None:
            located = _get(node, field) if field else None
            self.report(_line(located[0]) if located else _line(node), message, index, raw)

        self._check_actor(raw, action, actors, problem)
        self._check_fields(raw, action, problem)
        self._check_expressions(index, raw, node, actors, data)
        expect = raw.get("expect") or {}
        self._check_expect(index, raw, node, expect)
        save_as = raw.get("save_as")
        if save_as in RESERVED:
            problem("save_as", f"save_as: {save_as!r} is reserved for expressions; choose another name")
        status = expect.get("status")
        poll_raw = raw.get("poll")
        return Step(
            index=index + 1,
            name=raw["name"],
            action=action,
            line=_line(node),
            actor=raw.get("actor"),
            body=raw.get("body", MISSING),
            raw_body=raw.get("raw_body"),
            content_type=raw.get("content_type"),
            auth=raw.get("auth"),
            headers=dict(raw.get("headers") or {}),
            poll=None
            if poll_raw is None
            else Poll(
                query=dict(poll_raw.get("query") or {}),
                since=poll_raw.get("since"),
                interval=float(poll_raw.get("interval", 30)),
                max_polls=int(poll_raw.get("max_polls", 10)),
                until_found=int(poll_raw.get("until_found", 1)),
            ),
            expect=Expectation(
                status=None if status is None else tuple(status) if isinstance(status, list) else (status,),
                body=expect.get("body", MISSING),
                paths=dict(expect.get("paths") or {}),
                headers=dict(expect.get("headers") or {}),
                text=expect.get("text", MISSING),
            ),
            save_as=save_as,
        )

    def _check_actor(
        self, raw: dict[str, Any], action: str, actors: dict[str, Actor], problem: _Report
    ) -> None:
        name = raw.get("actor")
        known = ", ".join(actors) or "none are declared under actors:"
        if name is not None and name not in actors:
            problem("actor", f"actor {name!r} is not one of the scenario's actors ({known})")
            return
        actor = actors.get(name) if name is not None else None
        if action in API_ACTIONS:
            if actor is None:
                problem(None, f"{action} calls the API, so it needs an actor ({known})")
            elif actor.role == "consumer":
                problem("actor", f"{name!r} is a consumer: consumers are data only and never call the API")
        if action == "expect_notification":
            body = raw.get("body") or {}
            if "account" not in body and (actor is None or actor.dsco_account_id is None):
                problem(
                    "body" if "body" in raw else None,
                    "expect_notification needs body.account or an actor with a dscoAccountId",
                )

    def _check_fields(self, raw: dict[str, Any], action: str, problem: _Report) -> None:
        if "poll" in raw and action != "poll_messages":
            problem("poll", f"poll: only poll_messages takes a poll (this step is {action})")
        if action == "poll_messages":
            for field in ("body", "raw_body", "content_type"):
                if field in raw:
                    problem(field, f"{field}: poll_messages sends poll.query as JSON; drop {field}")
            query = (raw.get("poll") or {}).get("query") or {}
            for field in _RECIPE_FIELDS:
                if field in query:
                    problem(
                        "poll",
                        f"poll.query.{field}: the polling recipe sets {', '.join(_RECIPE_FIELDS)} itself "
                        "(use poll.since for the first createdSince)",
                    )
        if action not in API_ACTIONS:
            for field in ("raw_body", "content_type", "auth"):
                if field in raw:
                    problem(field, f"{field}: only API calls take it (this step is {action})")
        if "raw_body" in raw and "body" in raw:
            problem("raw_body", "give body or raw_body, not both")

    def _check_expressions(
        self, index: int, raw: dict[str, Any], node: yaml.Node, actors: dict[str, Actor], data: dict[str, Any]
    ) -> None:
        earlier = {
            step.get("save_as"): number + 1
            for number, step in enumerate(data["steps"][:index])
            if isinstance(step, dict) and step.get("save_as")
        }
        later = {
            step.get("save_as"): number + 1
            for number, step in enumerate(data["steps"])
            if number >= index and isinstance(step, dict) and step.get("save_as")
        }
        for text, line in _strings(node, skip=frozenset({"name", "description", "save_as", "action"})):
            if unterminated(text):
                self.report(line, f"{text[:60]!r}: '${{' without a closing '}}'", index, raw)
            for inner in expressions_in(text):
                message = self._expression_problem(inner, earlier, later, actors)
                if message is not None:
                    self.report(line, message, index, raw)

    def _expression_problem(
        self, inner: str, earlier: dict[Any, int], later: dict[Any, int], actors: dict[str, Actor]
    ) -> str | None:
        try:
            reference = parse_expression(inner)
        except ExpressionError as error:
            return str(error)
        if reference.kind == "saved" and reference.name not in earlier:
            if reference.name in later:
                return (
                    f"${{{inner}}}: {reference.name!r} is saved only by step {later[reference.name]}, "
                    "which runs later (or is this step)"
                )
            saved = ", ".join(str(name) for name in earlier) or "nothing yet"
            return f"${{{inner}}}: no earlier step saves {reference.name!r} (save_as); saved so far: {saved}"
        if reference.kind == "actor":
            actor = actors.get(reference.name)
            if actor is None:
                return f"${{{inner}}}: no actor named {reference.name!r}"
            field = str(reference.path[0])
            if field not in ("client_id", "client_secret") and actor.attribute(field) is None:
                return f"${{{inner}}}: actor {reference.name!r} has no {field}"
        if reference.kind == "fake":
            if self._faker is None:
                self._faker = new_faker(0)
            return check_faker_method(self._faker, reference.name)
        return None

    def _check_expect(self, index: int, raw: dict[str, Any], node: yaml.Node, expect: dict[str, Any]) -> None:
        located = _get(node, "expect")
        expect_node = located[1] if located else node

        def line_of(*keys: str) -> int:
            current = expect_node
            found = _line(current)
            for key in keys:
                pair = _get(current, key)
                if pair is None:
                    break
                found, current = _line(pair[0]), pair[1]
            return found

        for key, expected in (expect.get("paths") or {}).items():
            why = path_problem(str(key))
            if why is not None:
                self.report(line_of("paths", str(key)), f"expect.paths: {why}", index, raw)
            for message in matcher_problems(expected):
                self.report(line_of("paths", str(key)), f"expect.paths.{key}: {message}", index, raw)
        for section in ("body", "headers", "text"):
            if section in expect:
                for message in matcher_problems(expect[section]):
                    self.report(line_of(section), f"expect.{section}: {message}", index, raw)
