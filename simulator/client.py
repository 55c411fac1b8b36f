"""A small typed client for the Dsco v3 Conversation API — the sandbox's or anyone's.

It does what every integration has to get right, in one place: OAuth2 client credentials with the
token cached and renewed (before expiry, and once on a 401), retries with exponential backoff on
429 and 5xx that honour ``Retry-After``, scroll iteration as a generator, and the guide's polling
recipe (``createdSince`` = the previous poll's ``until``, ``until`` = now − 5 s), which is what
makes polling see every message exactly once.

Requests go through a :class:`~simulator.transport.Transport`: over HTTP by default (a
``requests`` session), or to a Flask app in this process (:meth:`DscoClient.in_process`), so tests
and tools exercise the same protocol code an integration uses. :meth:`DscoClient.request` is the
raw mode (no retries, no renewal unless asked, the answer as it came) for callers that want to see
a 429, a 401 or an error themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import requests

from .domain.operations import API_PREFIX, OPERATIONS
from .transport import HttpTransport, InProcessTransport, Reply, Transport, TransportError

UNTIL_MARGIN = timedelta(seconds=5)
RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_PAGES = 1000
"""Pages followed in one scroll before giving up (a scroll that never ends is a bug worth reporting)."""
_BY_ROUTE = MappingProxyType({(op.method, op.path): op for op in OPERATIONS.values()})
_TOKEN = OPERATIONS["getAccessToken"]


class DscoApiError(Exception):
    """An answer the client could not turn into a result (after any retries)."""

    def __init__(self, status: int, text: str, method: str, path: str, reply: Reply | None = None) -> None:
        super().__init__(f"{method} {path} answered {status}: {text.strip()}")
        self.status = status
        self.text = text
        self.reply = reply
        """The answer itself (headers and parsed body too)."""


@dataclass
class Poll:
    """One poll's outcome: the messages found and the ``until`` the next poll starts from."""

    messages: list[dict[str, Any]]
    until: datetime


@dataclass
class DscoClient:
    base_url: str
    """The server root (``http://127.0.0.1:8765``) or the API base (``.../api/v3``)."""
    client_id: str | None = None
    client_secret: str | None = None
    token: str | None = None
    """A static bearer token (the legacy DscoAuth scheme) instead of client credentials."""
    max_retries: int = 5
    backoff: float = 0.5
    timeout: float = 30.0
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    transport: Transport | None = None
    """Where requests go; by default HTTP to ``base_url`` through ``session``."""
    _access_token: str | None = field(default=None, init=False, repr=False)
    _expires_at: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.transport is None:
            http = HttpTransport(
                self.base_url, control_plane=False, timeout=self.timeout, session=self.session
            )
            self.transport = http
            self.api_url = http.api_base
        else:
            self.api_url = self.base_url.rstrip("/") + API_PREFIX
        if self.token is None and (self.client_id is None or self.client_secret is None):
            raise ValueError("give either token or both client_id and client_secret")

    @classmethod
    def in_process(
        cls, app: Any, client_id: str | None = None, client_secret: str | None = None, **options: Any
    ) -> DscoClient:
        """A client of a Flask app in this process (through ``client=`` a test client of your own)."""
        test_client = options.pop("client", None)
        return cls(
            "", client_id, client_secret, transport=InProcessTransport(app, client=test_client), **options
        )

    @property
    def _transport(self) -> Transport:
        assert self.transport is not None  # set in __post_init__
        return self.transport

    # --- authentication ----------------------------------------------------------------------
    def access_token(self, *, renew: bool = False) -> str:
        """The bearer token to send, fetching a new one when none is cached or it is about to expire."""
        if self.token is not None:
            return self.token
        if renew or self._access_token is None or time.monotonic() >= self._expires_at:
            reply = self._send(_TOKEN.method, _TOKEN.path, form=self._credentials(), retry=True)
            if reply.status != _TOKEN.success or not isinstance(reply.body, dict):
                raise DscoApiError(reply.status, reply.text, _TOKEN.method, _TOKEN.path, reply)
            self.adopt_token(reply.body)
        assert self._access_token is not None
        return self._access_token

    def adopt_token(self, answer: Mapping[str, Any]) -> str:
        """Cache the token of a token answer (``access_token``, ``expires_in``) fetched elsewhere, as
        if :meth:`access_token` had fetched it."""
        self._access_token = str(answer["access_token"])
        # Renew a minute early (or at half-life for short tokens) rather than meet a 401.
        lifetime = float(answer.get("expires_in", 3600))
        self._expires_at = time.monotonic() + max(lifetime - 60, lifetime / 2)
        return self._access_token

    def forget_token(self) -> None:
        """Drop the cached token, so the next call fetches a new one."""
        self._access_token = None

    def request_token(
        self,
        form: Mapping[str, str] | None = None,
        *,
        data: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """One raw token request: the client's credentials unless ``form`` (or a ``data`` body as is)
        replaces them; nothing is retried or cached."""
        if data is not None:
            return self._send(_TOKEN.method, _TOKEN.path, data=data, headers=headers)
        sent = dict(self._credentials() if form is None else form)
        return self._send(_TOKEN.method, _TOKEN.path, form=sent, headers=headers)

    def credentials_form(self) -> dict[str, str]:
        """The token request's form for this client's credentials."""
        return self._credentials()

    def _credentials(self) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": str(self.client_id),
            "client_secret": str(self.client_secret),
        }

    # --- the five operations -----------------------------------------------------------------
    def create_conversation(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.operation("createConversation", body)

    def update_conversation(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.operation("updateConversation", body)

    def add_message(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.operation("addConversationMessage", body)

    def list_conversations(self, query: Mapping[str, Any]) -> dict[str, Any]:
        return self.operation("getConversations", query)

    def list_messages(self, query: Mapping[str, Any]) -> dict[str, Any]:
        return self.operation("getConversationMessages", query)

    def iter_conversations(self, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every conversation matching ``query``, following scrollIds page by page."""
        return self._items("getConversations", query)

    def iter_messages(self, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every message matching ``query``, following scrollIds page by page."""
        return self._items("getConversationMessages", query)

    def poll_messages(self, query: Mapping[str, Any], since: datetime, now: datetime | None = None) -> Poll:
        """One poll the guide's way: messages created in [since, now − 5 s), every page of them.

        Pass the returned ``until`` as the next poll's ``since``: consecutive windows then meet
        exactly, so a message is seen once, provided it became visible less than 5 s after it was
        created (the reason production refuses a later ``until``).
        """
        until = (now or datetime.now(UTC)) - UNTIL_MARGIN
        window = poll_window(query, rfc3339(since), rfc3339(until))
        return Poll(list(self.iter_messages(window)), until)

    # --- plumbing ------------------------------------------------------------------------------
    def operation(self, operation_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Call one operation by its operationId with auth and retries; its JSON body (or raise)."""
        operation = OPERATIONS[operation_id]
        return self.call(operation.method, operation.path, body)

    def call(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Send one API call with auth and retries, and return its JSON body (or raise).

        A connection that dropped for good raises what the transport met (over HTTP, the
        ``requests`` exception), as a call without this client would.
        """
        try:
            reply = self.request(method, path, json=body, renew=True, retry=True)
        except TransportError as error:
            raise (error.__cause__ or error) from None
        if reply.status >= 300 or not isinstance(reply.body, dict):
            raise DscoApiError(reply.status, reply.text, method, path, reply)
        return reply.body

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        authorize: bool = True,
        renew: bool = False,
        retry: bool = False,
    ) -> Reply:
        """One API call (``path`` under the API base), its answer as it came: the raw mode.

        ``authorize`` sends the bearer token unless ``headers`` carry an Authorization already;
        ``renew`` fetches one fresh token and sends again after a 401; ``retry`` retries 429 and 5xx
        with backoff (and a dropped connection where that is safe). Without them nothing is hidden:
        a 429, a 401 or an error is the answer. :class:`TransportError` when no answer came.
        """
        sent = dict(headers or {})
        explicit = any(key.lower() == "authorization" for key in sent)
        if authorize and not explicit:
            sent["Authorization"] = f"bearer {self.access_token()}"
        reply = self._send(method, path, json=json, data=data, headers=sent, retry=retry)
        if reply.status == 401 and renew and authorize and not explicit and self.token is None:
            sent["Authorization"] = f"bearer {self.access_token(renew=True)}"  # expired or revoked
            reply = self._send(method, path, json=json, data=data, headers=sent, retry=retry)
        return reply

    def pages(
        self,
        operation_id: str,
        query: Mapping[str, Any],
        *,
        raw: bool = False,
        max_pages: int = MAX_PAGES,
        **options: Any,
    ) -> Iterator[Reply]:
        """Each page's answer of a list operation, following scrollIds until the last page.

        With ``raw`` nothing is retried, a refused page is yielded (as the last one) instead of
        raised, and a scroll longer than ``max_pages`` just stops, for callers that judge the
        answers themselves. ``options`` go to :meth:`request` (the token is renewed once on a 401
        unless ``renew=False``).
        """
        operation = OPERATIONS[operation_id]
        options.setdefault("renew", True)
        body: dict[str, Any] = dict(query)
        for _ in range(max_pages):
            reply = self.request(operation.method, operation.path, json=body, retry=not raw, **options)
            if reply.status != operation.success or not isinstance(reply.body, dict):
                if raw:
                    yield reply
                    return
                raise DscoApiError(reply.status, reply.text, operation.method, operation.path, reply)
            yield reply
            scroll_id = reply.body.get("scrollId")
            if not scroll_id:
                return
            body = {"scrollId": scroll_id}
        if not raw:
            raise DscoApiError(0, f"a scroll longer than {max_pages} pages", operation.method, operation.path)

    def _items(self, operation_id: str, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        key = str(OPERATIONS[operation_id].items)
        try:
            for reply in self.pages(operation_id, query):
                yield from reply.body.get(key, [])
        except TransportError as error:
            raise (error.__cause__ or error) from None

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: str | bytes | None = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = False,
    ) -> Reply:
        """One request, retried (with ``retry``) on 429/5xx with exponential backoff.

        A dropped connection is retried only where repeating the call cannot do harm (the token
        and the list calls): after a drop nobody knows whether a create went through, and creating
        twice is worse than reporting the failure.
        """
        operation = _BY_ROUTE.get((method, path))
        safe = operation is not None and operation.safe_to_repeat
        attempt = 0
        while True:
            attempt += 1
            try:
                reply = self._transport.request(
                    method, API_PREFIX + path, json=json, data=data, form=form, headers=headers
                )
            except TransportError:
                if not retry or attempt > self.max_retries or not safe:
                    raise
                self.sleep(self._delay(attempt, None))
                continue
            if not retry or reply.status not in RETRYABLE or attempt > self.max_retries:
                return reply
            self.sleep(self._delay(attempt, reply.header("Retry-After")))

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """The server's Retry-After when it gives one (in seconds), else exponential backoff."""
        if retry_after is not None and retry_after.strip().isdigit():
            return float(retry_after)
        return self.backoff * 2.0 ** (attempt - 1)


def poll_window(query: Mapping[str, Any], since: str, until: str) -> dict[str, Any]:
    """The guide's polling query: ``query`` for messages created in [since, until)."""
    return {**query, "createdSince": since, "until": until}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
