"""The vendor API under ``/api/v3``: every operation goes through the same pipeline.

fault injection -> authenticate -> rate limit -> content type -> parse JSON -> validate against the
contract -> call the domain -> validate the response (when enabled) -> render -> journal. Each step
fails with the status production would use, and none of them touches state before the domain is
called.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from ..contract import Contract
from ..domain.errors import InvalidRequest, InvalidTokenRequest, Problem, Unauthenticated
from ..domain.faults import FaultDecision
from ..domain.models import Account
from ..domain.sandbox import Sandbox
from .bodies import json_body
from .errors import json_response, text_response

_ROUTES = (
    ("createConversation", "/conversation", "POST", 201),
    ("updateConversation", "/conversation", "PUT", 200),
    ("getConversations", "/conversation/list", "POST", 200),
    ("addConversationMessage", "/conversation/message", "POST", 201),
    ("getConversationMessages", "/conversation/message/list", "POST", 200),
)
WRITE_OPERATIONS = frozenset({"createConversation", "updateConversation", "addConversationMessage"})
STATE_CHANGES = WRITE_OPERATIONS | {"getAccessToken"}
"""Operations whose success changes the saved state (a new token is part of it too)."""
FORM_TYPE = "application/x-www-form-urlencoded"
_JOURNAL_BODY_LIMIT = 64 * 1024
"""Bodies larger than this are journaled as a note, so the journal's memory stays bounded."""


def _sandbox() -> Sandbox:
    sandbox: Sandbox = current_app.extensions["dsco_sandbox"]
    return sandbox


def _contract() -> Contract:
    contract: Contract = current_app.extensions["dsco_contract"]
    return contract


def create_api_blueprint() -> Blueprint:
    api = Blueprint("api", __name__)
    api.before_request(_before)
    api.after_request(_journal)

    @api.post("/oauth2/token", endpoint="getAccessToken")
    def get_access_token() -> Response:
        if request.mimetype != FORM_TYPE:
            raise InvalidTokenRequest.at(
                "Content-Type", f"expected {FORM_TYPE}, got {request.mimetype or 'none'}"
            )
        form = {key: request.form[key] for key in request.form}
        g.request_body = {**form, "client_secret": "***"} if "client_secret" in form else form
        violations = _contract().validate_request("getAccessToken", form)
        if violations:
            g.violations = [str(v) for v in violations]
            raise InvalidTokenRequest(*(Problem(v.path, v.message) for v in violations))
        sandbox = _sandbox()
        token = sandbox.issue_token(form)
        g.account = token.account_id
        body = {
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires_in": sandbox.config.token_ttl,
        }
        return _render("getAccessToken", 200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    for operation, path, method, status in _ROUTES:
        api.add_url_rule(path, endpoint=operation, view_func=_make_view(operation, status), methods=[method])
    return api


def _make_view(operation: str, status: int) -> Any:
    def view() -> Response:
        caller = _authenticate()
        g.account = caller.id
        sandbox = _sandbox()
        sandbox.admit(caller, operation)
        body = json_body()
        g.request_body = body
        contract = _contract()
        violations = contract.validate_request(operation, body)
        if violations:
            g.violations = [str(v) for v in violations]
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


# --- before and after every call -------------------------------------------------------------
def _operation() -> str | None:
    endpoint = request.endpoint or ""
    return endpoint.split(".", 1)[1] if endpoint.startswith("api.") else None


def _before() -> Response | None:
    """Start the clock for the journal, then apply any fault configured for this operation."""
    g.started = time.perf_counter()
    operation = _operation()
    if operation is None:
        return None
    decision = _sandbox().fault_for(operation)
    if decision.delay > 0:
        time.sleep(decision.delay)  # real time: latency is about the client's own timeouts
    g.fault = decision.reason or None
    if decision.drop:
        return _dropped()
    if decision.status is not None:
        return _forced(operation, decision)
    return None


def _forced(operation: str, decision: FaultDecision) -> Response:
    status = decision.status or 503
    headers = {"X-Sandbox-Fault": decision.reason}
    line = f"injected fault ({decision.reason}): this call of {operation} was answered with {status}"
    if operation == "getAccessToken" and status in (400, 401):
        kind = "invalid_request" if status == 400 else "invalid_client"
        headers["Cache-Control"] = "no-store"  # as on every answer of the token endpoint
        return json_response(status, {"error": kind, "error_description": line}, headers)
    if status == 429:
        headers["Retry-After"] = "1"
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="dsco-sandbox", error="invalid_token"'
    return text_response(status, line, headers)


def _dropped() -> Response:
    """A response that promises a body and closes the connection before sending it.

    A WSGI application cannot reset a TCP connection, but a server that sees the application
    write less than its Content-Length closes the connection, so the client's read fails the way a
    dropped connection does.
    """

    def nothing() -> Iterator[bytes]:
        yield b""

    response = Response(nothing(), status=200, mimetype="application/json")
    response.headers["Content-Length"] = "64"
    response.headers["X-Sandbox-Fault"] = "dropped connection"
    return response


def _journal(response: Response) -> Response:
    operation = _operation()
    if operation is None:
        return response
    sandbox = _sandbox()
    details: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "durationMs": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 3),
        "violations": g.get("violations", []),
        "request": _bounded(g.request_body if "request_body" in g else _unread_body()),
        "response": _bounded(g.response_body if "response_body" in g else _body_of(response)),
    }
    if g.get("fault"):
        details["fault"] = g.fault
    if "X-Sandbox-Warning" in response.headers:
        details["warning"] = response.headers["X-Sandbox-Warning"]
    sandbox.journal.record(
        "request", sandbox.clock.now(), account=g.get("account"), operation=operation, **details
    )
    hook = current_app.extensions.get("dsco_after_change")
    if hook is not None and operation in STATE_CHANGES and response.status_code < 300:
        hook()
    return response


def _body_of(response: Response) -> Any:
    """An answer the handler did not hand over as JSON (an error, a fault): parsed when JSON."""
    if response.is_streamed or response.direct_passthrough:
        return None
    text = response.get_data(as_text=True)
    if response.mimetype == "application/json":
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _unread_body() -> Any:
    """The body of a call refused before its body was read (a fault, a missing token), if any.

    A body that was read and refused (malformed JSON) is gone; the 400 answer names the problem.
    """
    if request.content_length is not None and request.content_length > _JOURNAL_BODY_LIMIT:
        return f"({request.content_length} bytes, not kept)"
    try:
        if request.mimetype == FORM_TYPE:
            form = {key: request.form[key] for key in request.form}
            return {**form, "client_secret": "***"} if "client_secret" in form else form
        if _operation() == "getAccessToken":  # a mistyped token request may still hold a secret
            return (
                f"({request.content_length or 0} bytes of {request.mimetype or 'no Content-Type'}, not kept)"
            )
        text = request.get_data(cache=True).decode("utf-8", "replace")
    except Exception:  # a body that cannot even be read is not worth failing the answer for
        return None
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _bounded(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _JOURNAL_BODY_LIMIT:
        return f"({len(value)} characters, not kept)"
    return value


# --- helpers ---------------------------------------------------------------------------------
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


def _render(operation: str, status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if _sandbox().config.validate_responses:
        violations = _contract().validate_response(operation, status, body)
        if violations:
            lines = [f"response of {operation} breaks the contract: {v}" for v in violations]
            return text_response(500, ["internal sandbox error (this is a bug in dsco-sandbox):", *lines])
    g.response_body = body
    return json_response(status, body, headers)
