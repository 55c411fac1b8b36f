"""Where requests go: a Flask test client in this process, or a server over HTTP.

The typed client, the control-plane client and the scenario runner speak only :class:`Transport`,
with paths as the sandbox serves them (``/api/v3/...`` and ``/_sandbox/...``), so the same code runs
in-process, against ``dsco-sandbox serve`` and against any server that speaks the Dsco API (which
has no control plane).
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlencode

import requests

from .domain.operations import API_PREFIX, CONTROL_PREFIX, split_api_base

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

__all__ = [
    "API_PREFIX",
    "CONTROL_PREFIX",
    "HttpTransport",
    "InProcessTransport",
    "Reply",
    "Transport",
    "TransportError",
]
JSON_TYPE: Final = "application/json"
FORM_TYPE: Final = "application/x-www-form-urlencoded"


class TransportError(Exception):
    """The request got no HTTP answer at all (refused or dropped connection, timeout)."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any
    """The parsed JSON body, or None when the answer is not JSON."""
    text: str
    elapsed: float = field(default=0.0, compare=False)
    raw: Any = field(default=None, compare=False, repr=False)
    """The transport's own response object (a ``requests.Response`` or a Flask ``TestResponse``),
    for callers that need more than this summary."""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


class Transport(Protocol):
    has_control_plane: bool

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        data: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send one request; raise :class:`TransportError` only when no answer came back."""
        ...

    def close(self) -> None: ...


def encode_body(
    *,
    json: Any = None,
    form: Mapping[str, str] | None = None,
    data: str | bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[bytes | None, dict[str, str]]:
    """The bytes to send and the headers with a Content-Type, which both transports then send as is.

    An explicit Content-Type header wins, so a scenario can send JSON labelled text/plain (a 415).
    """
    sent = dict(headers or {})
    has_type = any(key.lower() == "content-type" for key in sent)
    payload: bytes | None = None
    default_type: str | None = None
    if data is not None:
        payload = data.encode("utf-8") if isinstance(data, str) else data
        default_type = JSON_TYPE
    elif form is not None:
        payload = urlencode(dict(form)).encode("ascii")
        default_type = FORM_TYPE
    elif json is not None:
        payload = jsonlib.dumps(json, ensure_ascii=False).encode("utf-8")
        default_type = JSON_TYPE
    if default_type is not None and not has_type:
        sent["Content-Type"] = default_type
    return payload, sent


def parse_reply_body(content_type: str | None, text: str) -> Any:
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    if mimetype == JSON_TYPE or mimetype.endswith("+json"):
        try:
            return jsonlib.loads(text)
        except ValueError:
            return None
    return None


def _add_admin_token(headers: dict[str, str], path: str, admin_token: str | None) -> None:
    """Control-plane calls carry the admin token, when the target was started with one."""
    if admin_token and path.startswith(CONTROL_PREFIX):
        headers.setdefault("Authorization", f"bearer {admin_token}")


class InProcessTransport:
    """Calls a Flask app through its test client: no sockets, and the control plane is always there.

    Give ``client`` to send through a test client of your own (one that checks every answer, say)
    instead of a new plain one.
    """

    has_control_plane = True

    def __init__(
        self, app: Flask, *, admin_token: str | None = None, client: FlaskClient | None = None
    ) -> None:
        self.app = app
        self.client = client if client is not None else app.test_client()
        self.admin_token = admin_token
        self.description = "in-process"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        data: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Reply:
        payload, sent = encode_body(json=json, form=form, data=data, headers=headers)
        _add_admin_token(sent, path, self.admin_token)
        try:
            response = self.client.open(
                path, method=method, data=payload, headers=sent, query_string=dict(query or {})
            )
        except Exception as error:  # the app itself blew up: report it as this step's failure
            raise TransportError(f"{method} {path}: the in-process app raised {error!r}") from error
        text = response.get_data(as_text=True)
        merged: dict[str, str] = {}
        for key, value in response.headers.items():
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        body = parse_reply_body(response.content_type, text)
        return Reply(response.status_code, merged, body, text, raw=response)

    def close(self) -> None:
        """Nothing to release: the test client holds no connections."""


class HttpTransport:
    """Calls a server over HTTP with one ``requests`` session (connections are reused).

    ``base_url`` is the server root (``http://127.0.0.1:8765``), whose API lives under ``/api/v3``.
    A base URL that already ends in ``/api/v3`` (a vendor environment) is taken as the API itself,
    and then no control plane is assumed unless ``control_plane=True`` says otherwise. With
    ``control_plane=None`` the root is asked ``GET /_sandbox/health``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        control_plane: bool | None = None,
        timeout: float = 30,
        admin_token: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self.api_only = base.endswith(API_PREFIX)
        self.root, self.api_base = split_api_base(base)
        self.timeout = timeout
        self.admin_token = admin_token
        self.session = session if session is not None else requests.Session()
        self.description = base
        if control_plane is None:
            control_plane = False if self.api_only else self._detect_control_plane()
        self.has_control_plane = control_plane

    def _detect_control_plane(self) -> bool:
        try:
            reply = self.request("GET", f"{CONTROL_PREFIX}/health")
        except TransportError:
            return False
        return reply.status == 200 and isinstance(reply.body, dict) and reply.body.get("status") == "ok"

    def url(self, path: str) -> str:
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            return self.api_base + path[len(API_PREFIX) :]
        return self.root + path

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        data: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Reply:
        payload, sent = encode_body(json=json, form=form, data=data, headers=headers)
        _add_admin_token(sent, path, self.admin_token)
        url = self.url(path)
        try:
            response = self.session.request(
                method, url, data=payload, headers=sent, params=dict(query or {}), timeout=self.timeout
            )
            content = response.content
        except requests.RequestException as error:
            raise TransportError(f"{method} {url}: {type(error).__name__}: {error}") from error
        text = content.decode("utf-8", errors="replace")
        return Reply(
            response.status_code,
            dict(response.headers),
            parse_reply_body(response.headers.get("Content-Type"), text),
            text,
            response.elapsed.total_seconds(),
            raw=response,
        )

    def close(self) -> None:
        self.session.close()
