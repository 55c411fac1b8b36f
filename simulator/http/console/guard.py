"""Who may use the console, and how its forms are kept from being posted by other sites.

The console follows the control plane's rule: without an admin token it answers loopback clients
only; with one, every client logs in once with that token and gets a session cookie (signed with a
key made at start, so a restart logs everyone out). Every POST must carry the session's own CSRF
token; a page elsewhere that the browser also has open cannot read it. The browser's own word on
where a request comes from (``Origin``, ``Sec-Fetch-Site``) is checked for every route, the console's
included, by ``http/site_guard.py``.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from flask import current_app, request, session
from werkzeug.exceptions import Forbidden

from ..control import accepted_admin_tokens

CSRF_FIELD = "csrf"
"""The hidden form field every console form carries."""
_SESSION_CSRF = "csrf"
_SESSION_ADMIN = "admin"
_SESSION_SERVER = "server"
"""Whether the session was opened with the server's admin token (not only a namespace's own)."""


def admin_token() -> str | None:
    token: str | None = current_app.extensions.get("dsco_admin_token")
    return token


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def has_login() -> bool:
    """Whether this app's console asks for a token at all."""
    return bool(accepted_admin_tokens())


def needs_login() -> bool:
    """Whether this client must log in first (only when an admin token is set)."""
    return has_login() and not session.get(_SESSION_ADMIN)


def may_see_the_server() -> bool:
    """Whether this client may see what else the server holds (the other sandboxes): anyone the
    console answers when there is no token; with one, those logged in with the server's token,
    as ``GET /_sandbox/namespaces`` asks for that token too."""
    if admin_token() is None:
        return is_loopback(request.remote_addr)
    return bool(session.get(_SESSION_SERVER))


def refuse_outsiders() -> None:
    """Without an admin token, the console is for this machine only."""
    if admin_token() is None and not is_loopback(request.remote_addr):
        raise Forbidden(
            "the console answers loopback clients only; start serve with --admin-token to open it to "
            "other machines (each then logs in with that token)"
        )


def log_in(given: str) -> bool:
    """Open a session when ``given`` is a token the control plane accepts (the admin token, or in a
    namespace its own token too); a fresh CSRF token comes with it."""
    matches = [hmac.compare_digest(given.strip().encode(), t.encode()) for t in accepted_admin_tokens()]
    if not any(matches):
        return False
    session.clear()
    session[_SESSION_ADMIN] = True
    session[_SESSION_SERVER] = hmac.compare_digest(given.strip().encode(), (admin_token() or "").encode())
    session[_SESSION_CSRF] = secrets.token_urlsafe(32)
    return True


def log_out() -> None:
    session.clear()


def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    token = session.get(_SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[_SESSION_CSRF] = token
    return token


def check_form_post() -> None:
    """Refuse a POST that lacks this session's CSRF token, or whose Referer is another site.

    ``Origin`` and ``Sec-Fetch-Site`` are checked for every route by ``http/site_guard.py`` before
    any console view runs; an old browser that sends neither may still send a Referer, checked here.
    """
    expected = f"{request.scheme}://{request.host}"
    referer = request.headers.get("Referer")
    if request.headers.get("Origin") is None and referer and _origin_of(referer) != expected:
        raise Forbidden("cross-site request refused: the Referer is not a page of this console")
    given = request.form.get(CSRF_FIELD, "")
    stored = session.get(_SESSION_CSRF)
    if not isinstance(stored, str) or not stored or not hmac.compare_digest(given.encode(), stored.encode()):
        raise Forbidden(
            "this form's CSRF token is missing or stale (was the server restarted?); reload the page "
            "and send it again"
        )


def safe_next(target: str | None, default: str) -> str:
    """A path on this server to go back to after an action or a login, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
