"""The vendor API under ``/api/v3``: every operation goes through the same pipeline.

fault injection -> authenticate -> rate limit -> content type -> parse JSON -> validate against the
contract -> call the domain -> validate the response (when enabled) -> render -> journal. Each step
fails with the status production would use, and none of them touches state before the domain is
called.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from flask import Blueprint, Response, current_app, request

from ..contract.validation import Contract
from ..domain.auth import complete_token_request
from ..domain.errors import InvalidRequest, InvalidTokenRequest, Problem, Unauthenticated
from ..domain.faults import FaultDecision
from ..domain.journal import JsonText
from ..domain.models import Account
from ..domain.operations import CONVERSATION_OPERATIONS, LIST_OPERATIONS, OPERATIONS, STATE_CHANGES
from ..domain.paging import continuation
from ..domain.sandbox import Sandbox
from ..domain.views import encode_json
from .bodies import json_text, parse_json
from .errors import encoded_json_response, json_response, text_response
from .presenter import Presenter

OPERATION_ROUTES = MappingProxyType(
    {
        operation.operation_id: (operation.method, operation.path, operation.success)
        for operation in OPERATIONS.values()
        if operation.operation_id in CONVERSATION_OPERATIONS
    }
)
"""Each conversation operation's method, path under the API base, and success status (the console
shows and journals its actions as these calls), read from the one operations table."""
FORM_TYPE = "application/x-www-form-urlencoded"
_JOURNAL_BODY_LIMIT = 64 * 1024
"""Bodies larger than this are journaled as a note, so the journal's memory stays bounded."""


@dataclass(slots=True)
class _Call:
    """What the journal keeps of one call, filled in as the pipeline goes."""

    operation: str
    started: float
    account: str | None = None
    request: Any = None
    """The body as received: JSON text, a (masked) form, or None when it was never read."""
    response: Any = None
    """The answer's body when the handler produced it; otherwise it is read from the response."""
    violations: list[str] = field(default_factory=list)
    fault: str | None = None
    warning: str | None = None
    method: str = ""
    path: str = ""
    status: int = 0
    duration_ms: float = 0.0

    def details(self) -> dict[str, Any]:
        """The journal entry's details, made when the journal is read (the call is journaled as is)."""
        details: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "durationMs": self.duration_ms,
            "violations": self.violations,
            "request": self.request,
            "response": self.response,
        }
        if self.fault:
            details["fault"] = self.fault
        if self.warning:
            details["warning"] = self.warning
        return details


_Handler = Callable[[_Call], Response]


def create_api_blueprint(sandbox: Sandbox, contract: Contract) -> Blueprint:
    """The vendor routes, each wrapped so that faults come first and every answer is journaled.

    The sandbox and contract are bound here rather than looked up per call: a page of the API is
    called thousands of times a second under load, and each lookup through Flask's context locals
    costs more than the lookup itself.
    """
    pipeline = _Pipeline(sandbox, contract)
    api = Blueprint("api", __name__)
    token, hello = OPERATIONS["getAccessToken"], OPERATIONS["getHello"]
    handlers: list[tuple[str, str, str, _Handler, bool]] = [
        (token.operation_id, token.path, token.method, pipeline.access_token, True),
        (hello.operation_id, hello.path, hello.method, pipeline.hello, False),
    ]
    for operation, (method, path, status) in OPERATION_ROUTES.items():
        handlers.append((operation, path, method, pipeline.operation(operation, status), True))
    for operation, path, method, handler, faulted in handlers:
        api.add_url_rule(
            path,
            endpoint=operation,
            view_func=pipeline.route(operation, handler, faulted=faulted),
            methods=[method],
        )
    return api


class _Pipeline:
    def __init__(self, sandbox: Sandbox, contract: Contract) -> None:
        self.sandbox = sandbox
        self.contract = contract
        self.presenter = Presenter(sandbox)

    def route(self, operation: str, handler: _Handler, *, faulted: bool = True) -> Callable[[], Response]:
        """One route: the fault plan first (unless not ``faulted``), then ``handler``; errors answered
        by the app's error handlers (the one place errors become statuses); then the journal."""

        def view() -> Response:
            call = _Call(operation, time.perf_counter())
            try:
                response = (self._fault(call) if faulted else None) or handler(call)
            except Exception as error:
                app = current_app
                response = app.make_response(app.handle_user_exception(error))
            self._journal(call, response)
            return response

        view.__name__ = operation
        return view

    # --- the operations ------------------------------------------------------------------------
    def access_token(self, call: _Call) -> Response:
        if request.mimetype != FORM_TYPE:
            raise InvalidTokenRequest.at(
                "Content-Type", f"expected {FORM_TYPE}, got {request.mimetype or 'none'}"
            )
        form = {key: request.form[key] for key in request.form}
        call.request = _masked(form)
        violations = self.contract.validate_request("getAccessToken", form)
        if violations:
            call.violations = [str(v) for v in violations]
            raise InvalidTokenRequest(*(Problem(v.path, v.message) for v in violations))
        form, call.warning = complete_token_request(form, self.sandbox.config.strict)
        token = self.sandbox.issue_token(form)
        call.account = token.account_id
        body = {
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires_in": self.sandbox.config.token_ttl,
        }
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if call.warning:
            headers["X-Sandbox-Warning"] = call.warning
        return self._render(call, 200, encode_json(body), headers)

    def hello(self, call: _Call) -> Response:
        """The vendor's ping (from its support documentation): the same greeting every time.

        It needs no token and is neither rate limited nor faulted, so a client's health check
        tells whether the sandbox answers at all; a valid token only names the caller in the journal.
        """
        if request.headers.get("Authorization"):
            try:
                call.account = _authenticate(self.sandbox).id
            except Unauthenticated:
                call.account = None
        headers = {"Expires": "0", "Cache-Control": "no-cache"}
        return self._render(call, 200, encode_json({"hello": "World!"}), headers)

    def operation(self, operation: str, status: int) -> _Handler:
        sandbox, contract = self.sandbox, self.contract

        def handle(call: _Call) -> Response:
            caller = _authenticate(sandbox)
            call.account = caller.id
            sandbox.admit(caller, operation)
            text = json_text()
            call.request = _bounded(text)  # as sent, even if it turns out not to parse
            body = parse_json(text)
            call.request = _kept(text)
            ignored: tuple[str, ...] = ()
            if operation in LIST_OPERATIONS:
                body, ignored = continuation(body)
            violations = contract.validate_request(operation, body)
            if violations:
                call.violations = [str(v) for v in violations]
                raise InvalidRequest(
                    *(Problem(v.path, v.message) for v in violations), code="contract_violation"
                )
            unknown = contract.unknown_fields(operation, body)
            if unknown and sandbox.config.strict:
                raise InvalidRequest(
                    *(
                        Problem(_printable(path), "unknown field (the sandbox runs in strict mode)")
                        for path in unknown
                    ),
                    code="unknown_field",
                )
            headers = None
            if unknown or ignored:
                call.warning = _warning(unknown, ignored)
                headers = {"X-Sandbox-Warning": call.warning}
            return self._render(call, status, self.presenter.call(operation, caller, body), headers)

        return handle

    def _render(self, call: _Call, status: int, text: str, headers: dict[str, str] | None) -> Response:
        if self.sandbox.config.validate_responses:
            violations = self.contract.validate_response(call.operation, status, json.loads(text))
            if violations:
                lines = [f"response of {call.operation} breaks the contract: {v}" for v in violations]
                return text_response(500, ["internal sandbox error (this is a bug in dsco-sandbox):", *lines])
        call.response = _kept(text)
        return encoded_json_response(status, text, headers)

    # --- before and after every call -----------------------------------------------------------
    def _fault(self, call: _Call) -> Response | None:
        """Apply any fault configured for this operation (latency, a forced status, a drop)."""
        decision = self.sandbox.fault_for(call.operation)
        if decision.delay > 0:
            time.sleep(decision.delay)  # real time: latency is about the client's own timeouts
        call.fault = decision.reason or None
        if decision.drop:
            return _dropped()
        if decision.status is not None:
            return _forced(call.operation, decision)
        return None

    def _journal(self, call: _Call, response: Response) -> None:
        sandbox = self.sandbox
        call.method, call.path, call.status = request.method, request.path, response.status_code
        call.duration_ms = round((time.perf_counter() - call.started) * 1000, 3)
        if call.request is None:
            call.request = _unread_body(call.operation)
        if call.response is None:
            call.response = _body_of(response)
        sandbox.journal.record_deferred(
            "request", sandbox.clock.now(), call, account=call.account, operation=call.operation
        )
        if call.operation in STATE_CHANGES and response.status_code < 300:
            hook = current_app.extensions.get("dsco_after_change")
            if hook is not None:
                hook()


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


def _body_of(response: Response) -> Any:
    """An answer the handler did not produce itself (an error, a fault), as JSON when it is JSON."""
    if response.is_streamed or response.direct_passthrough:
        return None
    text = response.get_data(as_text=True)
    return _kept(text) if response.mimetype == "application/json" else _bounded(text)


def _unread_body(operation: str) -> Any:
    """The body of a call refused before its body was read (a fault, a missing token), if any."""
    if request.content_length is not None and request.content_length > _JOURNAL_BODY_LIMIT:
        return f"({request.content_length} bytes, not kept)"
    try:
        if request.mimetype == FORM_TYPE:
            return _masked({key: request.form[key] for key in request.form})
        if operation == "getAccessToken":  # a mistyped token request may still hold a secret
            return (
                f"({request.content_length or 0} bytes of {request.mimetype or 'no Content-Type'}, not kept)"
            )
        text = request.get_data(cache=True).decode("utf-8", "replace")
    except Exception:  # a body that cannot even be read is not worth failing the answer for
        return None
    return _kept(text) if text else None


def _masked(form: dict[str, str]) -> dict[str, str]:
    return {**form, "client_secret": "***"} if "client_secret" in form else form


def _bounded(text: str) -> str:
    return f"({len(text)} characters, not kept)" if len(text) > _JOURNAL_BODY_LIMIT else text


def _kept(text: str) -> Any:
    """JSON text as the journal keeps it: decoded when read, or a note when it is too large."""
    return JsonText(text) if len(text) <= _JOURNAL_BODY_LIMIT else _bounded(text)


# --- helpers ---------------------------------------------------------------------------------
_WARNING_NAMES = 20


def _warning(unknown: list[str], beside_scroll: tuple[str, ...] = ()) -> str:
    """The X-Sandbox-Warning header: the first few unknown field paths (and the fields ignored beside
    a scrollId), as safe printable ASCII.

    Field names come from the client, so they may hold newlines (header injection), characters a
    header cannot carry, or be numerous enough to make the header huge; JSON string escaping fixes
    the first two and a cap fixes the last.
    """
    parts = []
    for label, names in (("ignored unknown fields", unknown), ("ignored beside scrollId", beside_scroll)):
        if names:
            shown = [_printable(path) for path in names[:_WARNING_NAMES]]
            more = len(names) - len(shown)
            parts.append(f"{label}: {', '.join(shown)}" + (f" and {more} more" if more > 0 else ""))
    return "; ".join(parts)


def _printable(path: str) -> str:
    """A client-chosen field path as one line of printable ASCII (JSON string escapes)."""
    return json.dumps(path, ensure_ascii=True)[1:-1]


def _authenticate(sandbox: Sandbox) -> Account:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if not header:
        raise Unauthenticated.at(
            "Authorization", "missing; send 'Authorization: bearer <token>'", code="token_missing"
        )
    if scheme.lower() != "bearer" or not token.strip():
        # Name the scheme only when it is one (a word followed by a credential): whatever else the
        # header holds may be the secret itself, and an answer (or the journal) must not repeat it.
        named = _SCHEME.fullmatch(scheme) is not None and token.strip()
        got = f"got a {scheme!r} credential" if named else "got something else (not repeated here)"
        raise Unauthenticated.at(
            "Authorization",
            f"expected 'bearer <token>' (one space between them), {got}",
            code="token_malformed",
        )
    return sandbox.authenticate(token.strip())


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,19}")
"""An authentication scheme's name (Basic, Bearer, Digest...), safe to show back."""
