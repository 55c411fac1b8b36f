"""A small typed client for the Dsco v3 Conversation API — the sandbox's or anyone's.

It does what every integration has to get right, in one place: OAuth2 client credentials with the
token cached and renewed (before expiry, and once on a 401), retries with exponential backoff on
429 and 5xx that honour ``Retry-After``, scroll iteration as a generator, and the guide's polling
recipe (``createdSince`` = the previous poll's ``until``, ``until`` = now − 5 s), which is what
makes polling see every message exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

UNTIL_MARGIN = timedelta(seconds=5)
RETRYABLE = frozenset({429, 500, 502, 503, 504})
_SAFE_TO_REPEAT = frozenset({"/oauth2/token", "/conversation/list", "/conversation/message/list"})


class DscoApiError(Exception):
    """An answer the client could not turn into a result (after any retries)."""

    def __init__(self, status: int, text: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path} answered {status}: {text.strip()}")
        self.status = status
        self.text = text


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
    _access_token: str | None = field(default=None, init=False, repr=False)
    _expires_at: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        base = self.base_url.rstrip("/")
        self.api_url = base if base.endswith("/api/v3") else f"{base}/api/v3"
        if self.token is None and (self.client_id is None or self.client_secret is None):
            raise ValueError("give either token or both client_id and client_secret")

    # --- authentication ----------------------------------------------------------------------
    def access_token(self, *, renew: bool = False) -> str:
        """The bearer token to send, fetching a new one when none is cached or it is about to expire."""
        if self.token is not None:
            return self.token
        if renew or self._access_token is None or time.monotonic() >= self._expires_at:
            response = self._send(
                "POST",
                "/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                },
            )
            if response.status_code != 200:
                raise DscoApiError(response.status_code, response.text, "POST", "/oauth2/token")
            payload = response.json()
            self._access_token = str(payload["access_token"])
            # Renew a minute early (or at half-life for short tokens) rather than meet a 401.
            lifetime = float(payload.get("expires_in", 3600))
            self._expires_at = time.monotonic() + max(lifetime - 60, lifetime / 2)
        return self._access_token

    # --- the five operations -----------------------------------------------------------------
    def create_conversation(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/conversation", body)

    def update_conversation(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("PUT", "/conversation", body)

    def add_message(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/conversation/message", body)

    def list_conversations(self, query: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/conversation/list", query)

    def list_messages(self, query: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/conversation/message/list", query)

    def iter_conversations(self, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every conversation matching ``query``, following scrollIds page by page."""
        return self._scroll("/conversation/list", "conversations", query)

    def iter_messages(self, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every message matching ``query``, following scrollIds page by page."""
        return self._scroll("/conversation/message/list", "messages", query)

    def poll_messages(self, query: Mapping[str, Any], since: datetime, now: datetime | None = None) -> Poll:
        """One poll the guide's way: messages created in [since, now − 5 s), every page of them.

        Pass the returned ``until`` as the next poll's ``since``: consecutive windows then meet
        exactly, so a message is seen once, provided it became visible less than 5 s after it was
        created (the reason production refuses a later ``until``).
        """
        until = (now or datetime.now(UTC)) - UNTIL_MARGIN
        window = {**query, "createdSince": _rfc3339(since), "until": _rfc3339(until)}
        return Poll(list(self.iter_messages(window)), until)

    # --- plumbing ------------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Send one API call with auth and retries, and return its JSON body (or raise)."""
        renewed = False
        while True:
            response = self._send(
                method, path, json=body, headers={"Authorization": f"bearer {self.access_token()}"}
            )
            if response.status_code == 401 and self.token is None and not renewed:
                self.access_token(renew=True)  # expired or revoked: one fresh token, one more try
                renewed = True
                continue
            if response.status_code >= 300:
                raise DscoApiError(response.status_code, response.text, method, path)
            result: dict[str, Any] = response.json()
            return result

    def _scroll(self, path: str, key: str, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        page = self.call("POST", path, query)
        while True:
            yield from page.get(key, [])
            scroll_id = page.get("scrollId")
            if not scroll_id:
                return
            page = self.call("POST", path, {"scrollId": scroll_id})

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request, retried on 429/5xx with exponential backoff.

        A dropped connection is retried only where repeating the call cannot do harm (the token
        and the two list calls): after a drop nobody knows whether a create went through, and
        creating twice is worse than reporting the failure.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(method, self.api_url + path, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
                if attempt > self.max_retries or path not in _SAFE_TO_REPEAT:
                    raise
                self.sleep(self._delay(attempt, None))
                continue
            if response.status_code not in RETRYABLE or attempt > self.max_retries:
                return response
            self.sleep(self._delay(attempt, response.headers.get("Retry-After")))

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """The server's Retry-After when it gives one (in seconds), else exponential backoff."""
        if retry_after is not None and retry_after.strip().isdigit():
            return float(retry_after)
        return self.backoff * 2.0 ** (attempt - 1)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
