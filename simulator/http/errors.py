"""The one place where errors become HTTP responses.

Vendor operations answer 400 with ``text/plain``, one line per problem, each naming the field, the
value and what was expected. The token endpoint answers in OAuth2's JSON shape. Anything unexpected
is a sandbox bug and says so, rather than hiding behind a bare 500.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, request
from werkzeug import exceptions as http_exceptions
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..domain.errors import (
    Conflict,
    InvalidClient,
    InvalidRequest,
    InvalidTokenRequest,
    NotFound,
    RateLimited,
    Refused,
    SandboxError,
    StorageFailed,
    Unauthenticated,
)
from .bodies import MAX_BODY_BYTES

log = logging.getLogger("dsco_sandbox")

_STATUS: tuple[tuple[type[SandboxError], int], ...] = (
    (InvalidRequest, 400),
    (NotFound, 404),
    (Conflict, 409),
    (Unauthenticated, 401),
    (Refused, 403),
    (RateLimited, 429),
    (StorageFailed, 503),  # nothing was kept, and trying again later (space freed) may work
)


def text_response(status: int, lines: list[str] | str, headers: dict[str, str] | None = None) -> Response:
    body = lines if isinstance(lines, str) else "\n".join(lines)
    response = Response(body + "\n", status=status, mimetype="text/plain")
    response.headers.update(headers or {})
    return response


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return encoded_json_response(status, json.dumps(payload, ensure_ascii=False), headers)


def encoded_json_response(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    response = Response(text, status=status, mimetype="application/json")
    if headers:
        response.headers.update(headers)
    return response


def error_response(error: SandboxError) -> Response:
    lines = [str(p) for p in error.problems]
    if isinstance(error, InvalidTokenRequest | InvalidClient):
        status = 401 if isinstance(error, InvalidClient) else 400
        kind = "invalid_client" if isinstance(error, InvalidClient) else "invalid_request"
        return json_response(
            status, {"error": kind, "error_description": "; ".join(lines)}, {"Cache-Control": "no-store"}
        )
    if isinstance(error, Unauthenticated):
        description = "; ".join(lines).replace('"', "'")
        challenge = f'Bearer realm="dsco-sandbox", error="invalid_token", error_description="{description}"'
        if error.code == "token_missing":
            challenge = 'Bearer realm="dsco-sandbox"'
        return text_response(401, lines, {"WWW-Authenticate": challenge})
    if isinstance(error, RateLimited):
        return text_response(429, lines, {"Retry-After": str(error.retry_after)})
    status = next((code for kind, code in _STATUS if isinstance(error, kind)), 400)
    return text_response(status, lines)


def answer_for(error: Exception, method: str, path: str) -> Response:
    """The answer to a request of ``method`` on ``path`` that failed with ``error``: a domain error,
    an HTTP error werkzeug raised (a body too large, a media type refused, no such route), or a bug.

    Both ways a request is answered use it, the Flask app's error handlers and the API's fast path
    (``fast_path.py``), so an error looks the same whichever way its request went.
    """
    if isinstance(error, SandboxError):
        return error_response(error)
    if isinstance(error, RequestEntityTooLarge):
        return text_response(413, f"body: larger than the {MAX_BODY_BYTES} bytes (1 MiB) a request may carry")
    if isinstance(error, HTTPException):
        status = error.code or 400
        if status == 404:
            if error.description and error.description != http_exceptions.NotFound.description:
                return text_response(404, error.description)  # a route that names what is missing
            return text_response(404, f"no such route: {method} {path}")
        if status == 405:
            allowed = error.get_response().headers.get("Allow", "")
            return text_response(
                405, f"{method} is not allowed on {path} (allowed: {allowed})", {"Allow": allowed}
            )
        return text_response(status, error.description or error.name)
    log.exception("unhandled error on %s %s", method, path, exc_info=error)
    return text_response(500, f"internal sandbox error (this is a bug in dsco-sandbox): {error!r}")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Exception)
    def _answer(error: Exception) -> Response:
        return answer_for(error, request.method, request.path)
