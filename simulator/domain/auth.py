"""Credentials: the OAuth2 client-credentials flow and the static legacy tokens.

Access tokens expire after ``token_ttl`` seconds of *sandbox* time, so advancing the clock an hour
expires them at once. Several tokens can be valid for one client at the same time, as the vendor
allows. Tokens survive a sandbox reset: a reset clears conversations, not the caller's login.

Tokens come from the operating system's cryptographic source, never from the seed: a seed makes
ids and lags repeatable, and a repeatable token would be a guessable one (the first token after
every start would be the same string).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .clock import MICROS
from .config import SandboxConfig
from .errors import InvalidClient, InvalidTokenRequest, Problem, Unauthenticated
from .models import Account
from .world import World


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    account_id: str
    expires_at: int


DEFAULT_GRANT_TYPE = "client_credentials"


def complete_token_request(form: Mapping[str, str], strict: bool) -> tuple[dict[str, str], str | None]:
    """A token request with ``grant_type`` filled in where the sandbox lets it be left out.

    The vendor's schema requires ``grant_type``, yet the vendor's own public Java demo client
    (commercehub-pub/v3streamsclientjava) never sends it and worked against the vendor's staging
    API, so the real endpoint evidently takes a request without it as client credentials. The
    sandbox does the same and says so in the returned warning; strict mode keeps the schema's rule
    and refuses the request. Returns the form and the warning.
    """
    if "grant_type" in form:
        return dict(form), None
    if strict:
        raise InvalidTokenRequest.at(
            "grant_type", "required form field is missing (the sandbox runs in strict mode)"
        )
    warning = f"grant_type is missing: taken as {DEFAULT_GRANT_TYPE} (the vendor's schema requires it)"
    return {**form, "grant_type": DEFAULT_GRANT_TYPE}, warning


def token_to_json(token: IssuedToken) -> dict[str, str | int]:
    return {
        "accessToken": token.access_token,
        "dscoAccountId": token.account_id,
        "expiresAt": token.expires_at,
    }


class Authenticator:
    def __init__(self, world: World, config: SandboxConfig) -> None:
        self.world = world
        self.config = config
        self._tokens: dict[str, IssuedToken] = {}
        self._sweep_at = 1024

    def issue(self, form: dict[str, str], now: int) -> IssuedToken:
        """Mint a token for a client-credentials request (the form fields of ``getAccessToken``)."""
        missing = [name for name in ("grant_type", "client_id", "client_secret") if not form.get(name)]
        if missing:
            raise InvalidTokenRequest(*(Problem(name, "required form field is missing") for name in missing))
        if form["grant_type"] != DEFAULT_GRANT_TYPE:
            raise InvalidTokenRequest.at(
                "grant_type", f"{form['grant_type']!r} is not supported; use {DEFAULT_GRANT_TYPE!r}"
            )
        account = self.world.account_by_client_id(form["client_id"])
        if account is None or not hmac.compare_digest(
            account.client_secret.encode(), form["client_secret"].encode()
        ):
            raise InvalidClient.at("client_id", "unknown client_id or wrong client_secret")
        self._forget_expired(now)
        token = IssuedToken(f"sbx-{secrets.token_hex(20)}", account.id, now + self.config.token_ttl * MICROS)
        self._tokens[token.access_token] = token
        return token

    def authenticate(self, token: str, now: int) -> Account:
        """The account a bearer token belongs to; raises :class:`Unauthenticated` otherwise."""
        issued = self._tokens.get(token)
        if issued is not None:
            if issued.expires_at <= now:
                raise Unauthenticated.at(
                    "Authorization", "the access token has expired; get a new one", code="token_expired"
                )
            account = self.world.account(issued.account_id)
        else:
            account = self.world.account_by_legacy_token(token)
        if account is None:
            raise Unauthenticated.at("Authorization", "unknown bearer token", code="token_unknown")
        return account

    @property
    def issued(self) -> dict[str, IssuedToken]:
        """The live tokens, in the order issued. Issuing appends; only a sweep of expired tokens or
        a restore makes a new table, so a durable copy can tell new tokens by position. Read only."""
        return self._tokens

    def restore(self, tokens: list[dict[str, Any]]) -> None:
        self._tokens = {
            t["accessToken"]: IssuedToken(t["accessToken"], t["dscoAccountId"], t["expiresAt"])
            for t in tokens
        }

    def _forget_expired(self, now: int) -> None:
        """Drop expired tokens, amortised: only when the table has doubled since the last sweep
        (sweeping on every request once many tokens were alive made each token cost O(n))."""
        if len(self._tokens) > self._sweep_at:
            self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now}
            self._sweep_at = max(1024, 2 * len(self._tokens))
