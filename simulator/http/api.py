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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from flask import Blueprint, Response
from flask import request as flask_request
from werkzeug.wrappers import Request

from ..contract.validation import Contract
from ..domain.auth import complete_token_request
from ..domain.errors import InvalidRequest, InvalidTokenRequest, Problem, Unauthenticated
from ..domain.faults import FaultDecision
from ..domain.journal import JsonText
from ..domain.models import Account
from ..domain.operations import (
    API_PREFIX,
    CONVERSATION_OPERATIONS,
    LIST_OPERATIONS,
    OPERATIONS,
    STATE_CHANGES,
    ApiOperation,
)
from ..domain.paging import continuation
from ..domain.sandbox import Sandbox
from ..domain.views import encode_json
from .bodies import json_text, parse_json
from .errors import answer_for, encoded_json_response, json_response, text_response
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


_Handler = Callable[[_Call, Request], Response]


@dataclass(frozen=True, slots=True)
class ApiRoute:
    """One vendor operation's route: read from the operations table, answered by its handler."""

    operation: ApiOperation
    handler: _Handler
    faulted: bool
    """Whether the fault plan applies (everything but the vendor's ping)."""

    @property
    def path(self) -> str:
        """The full path on a sandbox server (``/api/v3/conversation``)."""
        return API_PREFIX + self.operation.path


class VendorApi:
    """The pipeline of the vendor API, bound to one sandbox, and the route of every operation.

    Requests reach :meth:`respond` two ways with the same result: through the Flask app's routes
    (``create_api_blueprint``), and, for a request naming a route's method and path exactly,
    through the fast path in front of the app (``fast_path.py``). So the pipeline takes its request
    as an argument and reads nothing from Flask's context.

    The sandbox and contract are bound here rather than looked up per call: a page of the API is
    called thousands of times a second under load, and each lookup through Flask's context locals
    costs more than the lookup itself.
    """

    def __init__(self, sandbox: Sandbox, contract: Contract, extensions: Mapping[str, Any]) -> None:
        self.sandbox = sandbox
        self.contract = contract
        self.presenter = Presenter(sandbox)
        self._extensions = extensions
        """The app's extensions, where a saver of the state may be hooked in after the app is built."""
        token, hello = OPERATIONS["getAccessToken"], OPERATIONS["getHello"]
        self.routes: tuple[ApiRoute, ...] = (
            ApiRoute(token, self.access_token, faulted=True),
            ApiRoute(hello, self.hello, faulted=False),
            *(
                ApiRoute(
                    OPERATIONS[operation],
                    self.operation(operation, OPERATIONS[operation].success),
                    faulted=True,
                )
                for operation in CONVERSATION_OPERATIONS
            ),
        )

    def respond(self, route: ApiRoute, request: Request) -> Response:
        """Answer ``request``: the fault plan first (unless not ``faulted``), then the route's
        handler; errors answered as every error is (``errors.answer_for``); then the journal."""
        call = _Call(route.operation.operation_id, time.perf_counter())
        try:
            response = (self._fault(call) if route.faulted else None) or route.handler(call, request)
        except Exception as error:
            response = answer_for(error, request.method, request.path)
        self._journal(call, request, response)
        return response

    # --- the operations ------------------------------------------------------------------------
    def access_token(self, call: _Call, request: Request) -> Response:
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

    def hello(self, call: _Call, request: Request) -> Response:
        """The vendor's ping (from its support documentation): the same greeting every time.

        It needs no token and is neither rate limited nor faulted, so a client's health check
        tells whether the sandbox answers at all; a valid token only names the caller in the journal.
        """
        if request.headers.get("Authorization"):
            try:
                call.account = _authenticate(self.sandbox, request).id
            except Unauthenticated:
                call.account = None
        headers = {"Expires": "0", "Cache-Control": "no-cache"}
        return self._render(call, 200, encode_json({"hello": "World!"}), headers)

    def operation(self, operation: str, status: int) -> _Handler:
        sandbox, contract = self.sandbox, self.contract

        def handle(call: _Call, request: Request) -> Response:
            caller = _authenticate(sandbox, request)
            call.account = caller.id
            sandbox.admit(caller, operation)
            text = json_text(request)
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

    def _journal(self, call: _Call, request: Request, response: Response) -> None:
        sandbox = self.sandbox
        call.method, call.path, call.status = request.method, request.path, response.status_code
        call.duration_ms = round((time.perf_counter() - call.started) * 1000, 3)
        if call.request is None:
            call.request = _unread_body(call.operation, request)
        if call.response is None:
            call.response = _body_of(response)
        sandbox.journal.record_deferred(
            "request", sandbox.clock.now(), call, account=call.account, operation=call.operation
        )
        if call.operation in STATE_CHANGES and response.status_code < 300:
            hook = self._extensions.get("dsco_after_change")
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


def _unread_body(operation: str, request: Request) -> Any:
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


def create_api_blueprint(api: VendorApi) -> Blueprint:
    """The vendor routes as Flask routes (a request the fast path does not take, such as a ``HEAD``
    of the ping, and the ``405`` and ``OPTIONS`` answers Flask gives from its routing table)."""
    blueprint = Blueprint("api", __name__)
    for route in api.routes:
        blueprint.add_url_rule(
            route.operation.path,
            endpoint=route.operation.operation_id,
            view_func=_view(api, route),
            methods=[route.operation.method],
        )
    return blueprint


def _view(api: VendorApi, route: ApiRoute) -> Callable[[], Response]:
    def view() -> Response:
        return api.respond(route, flask_request._get_current_object())  # type: ignore[attr-defined]

    view.__name__ = route.operation.operation_id
    return view


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


def _authenticate(sandbox: Sandbox, request: Request) -> Account:
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
