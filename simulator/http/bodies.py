"""Reading request bodies: JSON as RFC 8259 defines it, refusing what parses but cannot be handled.

Every refusal is a 400 naming where the problem is, never a 500 later while rendering an answer.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable
from typing import Any

from flask import request as flask_request
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.wrappers import Request

from ..domain.errors import InvalidRequest

MAX_BODY_BYTES = 1024 * 1024
"""The largest body a request may carry (a larger one is refused with 413 before it is read)."""
MAX_DEPTH = 64
"""Deepest nesting of arrays and objects a body may have; the contract's deepest field is at 4."""


def json_body() -> Any:
    """The JSON body of the request Flask is handling."""
    return parse_json(json_text(flask_request))


def json_text(request: Request) -> str:
    """The body of ``request`` as text: a JSON media type, not empty, and UTF-8 (RFC 8259)."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise unsupported_media_type(request)
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise InvalidRequest.at("body", "a JSON object is required, the body is empty", code="empty_body")
    try:
        return raw.decode("utf-8")  # json.loads would guess the encoding
    except UnicodeDecodeError as exc:
        raise InvalidRequest.at(
            "body", f"is not UTF-8 text (byte {exc.start} is invalid)", code="malformed_json"
        ) from None


def parse_json(text: str) -> Any:
    try:
        document = _DECODER.decode(text)
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
    # Only a \u escape can make a lone surrogate (strict UTF-8 decoding refuses encoded ones), and
    # only that many brackets can nest too deep: most bodies need no walk at all.
    if "\\u" in text or text.count("{") + text.count("[") > MAX_DEPTH:
        _check_document(document)
    return document


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_parse_float)
"""Built once (``json.loads`` with hooks builds a decoder per call); it holds no state."""


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


def unsupported_media_type(request: Request) -> UnsupportedMediaType:
    got = request.mimetype or "no Content-Type"
    return UnsupportedMediaType(f"Content-Type: expected application/json, got {got}")


_WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def with_measured_bodies(wsgi_app: _WsgiApp, limit: int) -> _WsgiApp:
    """Give every body without a ``Content-Length`` (a chunked one) a length before the app reads it.

    A server that ends such a stream itself (granian sets ``wsgi.input_terminated``) leaves the
    limit to the framework, and werkzeug then stops reading at the limit without an error: the
    first MiB of a larger body was handled as if it were the whole body (and stored, when it
    parsed). Here at most ``limit + 1`` bytes are read and handed on with their length, so a body
    over the limit is refused (413) like one that declared its length, and nothing truncated is
    ever parsed. waitress already buffers chunked bodies and sets their length itself.
    """

    def measured(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("wsgi.input_terminated") and not environ.get("CONTENT_LENGTH"):
            stream = environ["wsgi.input"]
            chunks: list[bytes] = []
            size = 0
            while size <= limit:
                chunk = stream.read(limit + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            environ["wsgi.input"] = io.BytesIO(b"".join(chunks))
            environ["CONTENT_LENGTH"] = str(size)  # limit + 1 when there was more: refused as too large
            environ.pop("HTTP_TRANSFER_ENCODING", None)  # werkzeug ignores a length beside "chunked"
        return wsgi_app(environ, start_response)

    return measured
