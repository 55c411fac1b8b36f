"""The sandbox's own control plane under ``/_sandbox`` (not part of the vendor contract).

Bodies are checked against ``contracts/schemas/sandbox-*.json`` like the vendor API's are, and the
same error mapping applies: a 400 names the field and what was expected, and changes nothing.
"""

from __future__ import annotations

import hmac
import json
import sys
from typing import Any

from flask import Blueprint, Response, current_app, request

from ..contract.validation import Contract, Violation
from ..domain.clock import parse_rfc3339
from ..domain.errors import InvalidRequest, Problem, Unauthenticated
from ..domain.sandbox import Sandbox
from ..loading.bootstrap import WorldFileError, world_from_document
from .bodies import json_body
from .errors import json_response
from .personas import add_persona_routes


def _sandbox() -> Sandbox:
    sandbox: Sandbox = current_app.extensions["dsco_sandbox"]
    return sandbox


_READ = object()
"""Marks "read the request's own body" (a JSON body may be ``null``, so None cannot)."""


def _checked_body(schema: str, body: Any = _READ) -> Any:
    """The JSON body, refused with one line per problem unless it fits ``schemas/<schema>``."""
    contract: Contract = current_app.extensions["dsco_contract"]
    body = json_body() if body is _READ else body
    violations = contract.validate(contract.schema_uri(f"schemas/{schema}"), body)
    if violations and schema == "sandbox-config-update.json":
        violations = _explain_fault_rules(contract, body, violations)
    if violations:
        raise InvalidRequest(*(Problem(v.path, v.message) for v in violations), code="contract_violation")
    return body


_CLOCK_COMMANDS = ("freeze", "set", "advance", "resume")


def _clock_command(body: Any) -> Any:
    """The clock command, refused by name when it is empty, names two changes or an unknown key.

    The schema alone would explain these through its first alternative (``freeze: required field
    is missing``), which points at the wrong field.
    """
    if isinstance(body, dict):
        known = [key for key in body if key in _CLOCK_COMMANDS]
        problems = [
            Problem(_printable(key), "unknown field; send one of freeze, set, advance or resume")
            for key in body
            if key not in _CLOCK_COMMANDS
        ]
        if len(known) > 1:
            problems += [
                Problem(key, f"one change per call, but {', '.join(known)} were sent together")
                for key in known
            ]
        if not body:
            problems.append(Problem("body", "{} changes nothing; send one of freeze, set, advance or resume"))
        if problems:
            raise InvalidRequest(*problems, code="contract_violation")
    return _checked_body("sandbox-clock-command.json", body)


def _reset_command() -> Any:
    """The reset's options: none when the POST has no body (its meaning from the start)."""
    if not request.content_length and not request.get_data(cache=True):
        return {}
    return json_body()


def _explain_fault_rules(contract: Contract, body: Any, violations: list[Violation]) -> list[Violation]:
    """Explain a refused fault rule field by field.

    A rule may also be null (remove it), and the schema's "a rule or null" only says that the value
    is neither; checking the rule on its own names the field that is wrong (``faults.*.errorRate``),
    or says that a rule must be an object.
    """
    faults = body.get("faults") if isinstance(body, dict) else None
    if not isinstance(faults, dict):
        return violations
    rule_schema = contract.schema_uri("schemas/sandbox-fault-rule.json")
    explained: list[Violation] = []
    for violation in violations:
        rule = (
            faults.get(violation.path.removeprefix("faults."))
            if violation.path.startswith("faults.")
            else None
        )
        if rule is not None:
            details = contract.validate(rule_schema, rule)
            if details:
                explained.extend(
                    Violation(violation.path if v.path == "body" else f"{violation.path}.{v.path}", v.message)
                    for v in details
                )
                continue
        explained.append(violation)
    return explained


def _printable(name: str) -> str:
    """A client-chosen key as one line of printable ASCII (JSON string escapes)."""
    return json.dumps(name, ensure_ascii=True)[1:-1]


def _changed() -> None:
    hook = current_app.extensions.get("dsco_after_change")
    if hook is not None:
        hook()


def accepted_admin_tokens() -> list[str]:
    """The tokens that open this app's control plane and console (none: no token is needed)."""
    # A namespace's control plane also opens to that namespace's own token (http/namespaces.py).
    return [
        token
        for token in (
            current_app.extensions.get("dsco_admin_token"),
            current_app.extensions.get("dsco_namespace_token"),
        )
        if token is not None
    ]


def require_admin_token() -> None:
    """Refuse a control call without an accepted admin token, when the app has any."""
    accepted = accepted_admin_tokens()
    if not accepted:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    matches = [hmac.compare_digest(given.strip().encode(), token.encode()) for token in accepted]
    if scheme.lower() != "bearer" or not any(matches):
        raise Unauthenticated.at(
            "Authorization",
            "the control plane needs 'Authorization: bearer <admin token>' (the --admin-token of serve)",
            code="token_missing",
        )


# --- the changes, one function each: the JSON routes and the console both call these -------------
def reset_sandbox(command: Any) -> None:
    """Apply a reset command (``{}`` or ``{"restoreSettings": bool}``) once it fits its schema."""
    checked = _checked_body("sandbox-reset-command.json", command)
    _sandbox().reset(restore_settings=bool(checked.get("restoreSettings", False)))
    _changed()


def change_clock(command: Any) -> dict[str, Any]:
    """Apply one clock command through the sandbox's single entry point for time changes."""
    state = _sandbox().control_clock(_clock_command(command))
    _changed()
    return state


def change_config(changes: Any) -> dict[str, Any]:
    """Apply a partial settings document (faults included); all of it or nothing."""
    config = _sandbox().update_config(_checked_body("sandbox-config-update.json", changes))
    _changed()
    return config


def create_control_blueprint() -> Blueprint:
    control = Blueprint("control", __name__)

    control.before_request(require_admin_token)

    @control.get("/health")
    def health() -> Response:
        return json_response(200, {"status": "ok"})

    @control.post("/reset")
    def reset() -> Response:
        reset_sandbox(_reset_command())
        return json_response(200, {"status": "ok"})

    @control.get("/clock")
    def get_clock() -> Response:
        return json_response(200, _sandbox().clock_state())

    @control.post("/clock")
    def control_clock() -> Response:
        return json_response(200, change_clock(json_body()))

    @control.get("/config")
    def get_config() -> Response:
        return json_response(200, _sandbox().config_json())

    @control.put("/config")
    def update_config() -> Response:
        return json_response(200, change_config(json_body()))

    @control.get("/state")
    def export_state() -> Response:
        # Streamed: a state of any size goes out piece by piece, never as one string in memory.
        return Response(_sandbox().export_state_text(), status=200, mimetype="application/json")

    @control.put("/state")
    def import_state() -> Response:
        # A state may be as large as the one exported (None would fall back to the app's 1 MiB).
        request.max_content_length = sys.maxsize
        document = _checked_body("sandbox-state.json")
        contract: Contract = current_app.extensions["dsco_contract"]
        try:
            world = world_from_document(contract, document["world"], "world")
        except WorldFileError as error:
            raise InvalidRequest(
                *(Problem("", line) for line in str(error).splitlines()), code="invalid_state"
            ) from None
        sandbox = _sandbox()
        sandbox.import_state(world, document)
        _changed()
        conversations, messages = sandbox.store.counts()
        return json_response(200, {"status": "ok", "conversations": conversations, "messages": messages})

    @control.get("/events")
    def events() -> Response:
        args = request.args
        entries = _sandbox().journal.entries(
            account=args.get("account"),
            operation=args.get("operation"),
            kind=_choice("kind", ("request", "notification", "webhook")),
            since=_instant("since"),
            after=_whole("after", 0),
            limit=_whole("limit", 1),
        )
        return json_response(200, {"events": [entry.to_json() for entry in entries]})

    @control.get("/notifications")
    def notifications() -> Response:
        center = _sandbox().notifications
        account, after = request.args.get("account"), _whole("after", 0)
        found = center.all() if account is None else center.for_account(account)
        return json_response(
            200, {"notifications": [n.to_json() for n in found if after is None or n.seq > after]}
        )

    add_persona_routes(control)
    return control


_LARGEST_QUERY_NUMBER = 10**18
"""Sequence numbers and limits in a query stay below this (far above any journal's count)."""


def _whole(name: str, minimum: int) -> int | None:
    """A query parameter that must be a whole number (ASCII digits only: ``²`` is a digit to
    ``str.isdigit`` but not to ``int``) between ``minimum`` and a bound no count reaches."""
    raw = request.args.get(name)
    if raw is None:
        return None
    digits = raw.isascii() and raw.isdigit() and len(raw) <= 18
    if not digits or not minimum <= int(raw) < _LARGEST_QUERY_NUMBER:
        shown = repr(raw) if len(raw) <= 40 else f"{raw[:12]!r}... ({len(raw)} characters)"
        raise InvalidRequest.at(
            name, f"{shown} is not a whole number from {minimum} to {_LARGEST_QUERY_NUMBER - 1}"
        )
    return int(raw)


def _instant(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    parsed = parse_rfc3339(raw)
    if parsed is None:
        raise InvalidRequest.at(name, f"{raw!r} is not an RFC 3339 date-time (like 2023-05-01T09:29:55Z)")
    return parsed


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.args.get(name)
    if raw is not None and raw not in allowed:
        raise InvalidRequest.at(name, f"{raw!r} is not one of {', '.join(allowed)}")
    return raw
