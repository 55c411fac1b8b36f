"""The vendor API under ``/api/v3``: every operation goes through the same pipeline.

authenticate -> rate limit -> content type -> parse JSON -> validate against the contract ->
call the domain -> validate the response (when enabled) -> render. Each step fails with the
status production would use, and none of them touches state before the domain is called.
"""

from __future__ import annotations

import json
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
                *(Problem(path, "unknown field (the sandbox runs in strict mode)") for path in unknown),
                code="unknown_field",
            )
        result = sandbox.call(operation, caller, body)
        headers = {"X-Sandbox-Warning": f"ignored unknown fields: {', '.join(unknown)}"} if unknown else {}
        return _render(operation, status, result, headers)

    view.__name__ = operation
    return view


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


def _json_body() -> Any:
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise _unsupported_media_type()
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise InvalidRequest.at("body", "a JSON object is required, the body is empty", code="empty_body")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise InvalidRequest.at("body", "is not UTF-8 text", code="malformed_json") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest.at(
            "body",
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            code="malformed_json",
        ) from None
    except ValueError as exc:
        raise InvalidRequest.at("body", str(exc), code="malformed_json") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


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
