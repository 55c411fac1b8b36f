"""Session cookies for the pages that use them, and no session work for the vendor API.

Flask opens the session of every request before routing it: it builds a signing serializer and
looks for the cookie, 10-15 % of a small API call measured through the WSGI interface. Only the
console keeps a session (its login and CSRF token); the vendor API authenticates every call with
its bearer token and never reads one. So requests under the API's prefix get Flask's null session,
which also makes Flask skip saving one, and every other path works as before.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class SessionsOutside(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except below ``prefix`` (where no code uses a session)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.rstrip("/") + "/"

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(self.prefix):
            return self.make_null_session(app)
        return super().open_session(app, request)
