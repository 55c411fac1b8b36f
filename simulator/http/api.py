"""The vendor API under ``/api/v3``: every operation goes through the same pipeline.

authenticate -> rate limit -> content type -> parse JSON -> validate against the contract ->
call the domain -> validate the response (when enabled) -> render. Each step fails with the
status production would use, and none of them touches state before the domain is called.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import UnsupportedMediaType

from ..contract import Contract, Violation
from ..domain.errors import InvalidRequest, InvalidTokenRequest, Problem, Unauthenticated
from ..domain.models import Account
from ..domain.sandbox import Sandbox
from .errors import json_response, text_response

_ROUTES = (
    ("createConversation", "/conversation", "POST", 201),
    ("updateConversation", "/conversation", "PUT", 200),
    ("getConversations", "/conversation/list", "POST", 200),
    ("addConversationMessage", "/conversation/message", "POST", 201),
    ("getConversationMessages", "/conversation/message/list", "POST", 200),
)
FORM_TYPE = "application/x-www-form-urlencoded"


def _sandbox() -> Sandbox:
    sandbox: Sandbox = current_app.extensions["dsco_sandbox"]
    return sandbox


def _contract() -> Contract:
    contract: Contract = current_app.extensions["dsco_contract"]
    return contract


def create_api_blueprint() -> Blueprint:
    api = Blueprint("api", __name__)

    @api.post("/oauth2/token")
    def get_access_token() -> Response:
        if request.mimetype != FORM_TYPE:
            raise InvalidTokenRequest.at(
                "Content-Type", f"expected {FORM_TYPE}, got {request.mimetype or 'none'}"
            )
        form = {key: request.form[key] for key in request.form}
        violations = _contract().validate_request("getAccessToken", form)
        if violations:
            raise InvalidTokenRequest(*(Problem(v.path, v.message) for v in violations))
        token = _sandbox().issue_token(form)
        body = {
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires_in": _sandbox().auth.token_ttl,
        }
        return _render("getAccessToken", 200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    for operation, path, method, status in _ROUTES:
        api.add_url_rule(
            path,
            endpoint=operation,
            view_func=_make_view(operation, status),
            methods=[method],
        )
    return api


def _make_view(operation: str, status: int) -> Any:
    def view() -> Response:
        caller = _authenticate()
        sandbox = _sandbox()
        sandbox.admit(caller, operation)
        body = _json_body()
        contract = _contract()
        violations = contract.validate_request(operation, body)
        if violations:
            raise InvalidRequest(*(Problem(v.path, v.message) for v in violations), code="contract_violation")
        unknown = contract.unknown_fields(operation, body)
        if unknown and sandbox.config.strict:
            raise InvalidRequest(
                *(
                    Problem(_printable(path), "unknown field (the sandbox runs in strict mode)")
                    for path in unknown
                ),
                code="unknown_field",
            )
        headers = {"X-Sandbox-Warning": _warning(unknown)} if unknown else {}
        result = sandbox.call(operation, caller, body)
        return _render(operation, status, result, headers)

    view.__name__ = operation
    return view


_WARNING_NAMES = 20


def _warning(unknown: list[str]) -> str:
    """The X-Sandbox-Warning header: the first few unknown field paths, as safe printable ASCII.

    Field names come from the client, so they may hold newlines (header injection), characters a
    header cannot carry, or be numerous enough to make the header huge; JSON string escaping fixes
    the first two and a cap fixes the last.
    """
    shown = [_printable(path) for path in unknown[:_WARNING_NAMES]]
    more = len(unknown) - len(shown)
    suffix = f" and {more} more" if more > 0 else ""
    return f"ignored unknown fields: {', '.join(shown)}{suffix}"


def _printable(path: str) -> str:
    """A client-chosen field path as one line of printable ASCII (JSON string escapes)."""
    return json.dumps(path, ensure_ascii=True)[1:-1]


def _authenticate() -> Account:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if not header:
        raise Unauthenticated.at(
            "Authorization", "missing; send 'Authorization: bearer <token>'", code="token_missing"
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated.at(
            "Authorization", f"expected 'bearer <token>', got a {scheme!r} credential", code="token_malformed"
        )
    return _sandbox().authenticate(token.strip())


MAX_DEPTH = 64
"""Deepest nesting of arrays and objects a body may have; the contract's deepest field is at 4."""


def _json_body() -> Any:
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise _unsupported_media_type()
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise InvalidRequest.at("body", "a JSON object is required, the body is empty", code="empty_body")
    try:
        text = raw.decode("utf-8")  # RFC 8259: JSON between systems is UTF-8 (json.loads would guess)
    except UnicodeDecodeError as exc:
        raise InvalidRequest.at(
            "body", f"is not UTF-8 text (byte {exc.start} is invalid)", code="malformed_json"
        ) from None
    try:
        document = json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        raise InvalidRequest.at(
            "body",
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            code="malformed_json",
        ) from None
    except RecursionError:
        raise _too_deep("body") from None
    except ValueError as exc:
        raise InvalidRequest.at("body", str(exc), code="malformed_json") from None
    _check_document(document)
    return document


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


def _too_deep(path: str) -> InvalidRequest:
    return InvalidRequest.at(
        path, f"nested more than {MAX_DEPTH} levels deep (no field of this API is)", code="malformed_json"
    )


def _check_document(document: Any) -> None:
    """Refuse what parses but cannot be handled: absurd nesting, and text that is not Unicode.

    JSON's ``\\ud800`` escapes can produce lone surrogates, which no response could encode; they
    are refused here, naming the field, instead of failing later while rendering an answer.
    """
    stack: list[tuple[str, Any, int]] = [("", document, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(path or "body")
        if isinstance(value, str):
            _require_unicode(path or "body", value)
        elif isinstance(value, dict):
            for key, item in value.items():
                _require_unicode(f"{path}.{key!r}" if path else "body", key)
                stack.append((f"{path}.{key}" if path else key, item, depth + 1))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item, depth + 1) for i, item in enumerate(value))


def _require_unicode(path: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end].encode("unicode_escape").decode("ascii")
        raise InvalidRequest.at(
            path.encode("unicode_escape").decode("ascii"),
            f"contains {bad}, a lone surrogate: not valid Unicode text",
            code="malformed_json",
        ) from None


def _unsupported_media_type() -> UnsupportedMediaType:
    got = request.mimetype or "no Content-Type"
    return UnsupportedMediaType(f"Content-Type: expected application/json, got {got}")


def _render(operation: str, status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if current_app.config.get("DSCO_VALIDATE_RESPONSES", True):
        violations: list[Violation] = _contract().validate_response(operation, status, body)
        if violations:
            lines = [f"response of {operation} breaks the contract: {v}" for v in violations]
            return text_response(500, ["internal sandbox error (this is a bug in dsco-sandbox):", *lines])
    return json_response(status, body, headers)
