"""Who may talk to the sandbox: no other web site, and no name but loopback's when bound there.

A sandbox on 127.0.0.1 is reachable from every web page the developer opens. A browser lets any
page send "simple" requests (a form, or a text/plain body) without asking first, and a page whose
DNS name is rebound to 127.0.0.1 becomes same-origin with the sandbox and can read its answers,
``/_sandbox/state`` included (demo secrets and live tokens). So, for every route:

* bound to loopback, only loopback names are served in ``Host`` (localhost, ``*.localhost``,
  127.0.0.0/8, ``[::1]``): a rebound name is refused before anything runs;
* outside the vendor API, a request whose ``Origin`` is not the sandbox's own, or whose
  ``Sec-Fetch-Site`` says it comes from another site, is refused: the control plane and any page
  served beside it are for the developer's own tools and the sandbox's own pages;
* on the control plane, a form or text/plain body is refused: its calls take JSON or nothing, and
  those are the bodies a foreign page can send without a preflight. A bodiless ``POST`` (curl's
  ``-X POST``) sends none of these headers and keeps working.

The vendor API under ``/api/v3`` needs a bearer token and JSON, which a foreign page can neither
read nor send without the CORS permission the sandbox never gives.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Flask, request

from ..domain.errors import Refused
from ..domain.operations import CONTROL_PREFIX

SIMPLE_BODIES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
"""The body types a browser sends cross-site without a preflight."""
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})
"""``Sec-Fetch-Site`` values of a request the user or the sandbox's own pages made."""


class HostGuard:
    """The ``Host`` check of a server bound to loopback (every route, the API's fast path too)."""

    def __init__(self, loopback_only: bool) -> None:
        self.loopback_only = loopback_only
        self._loopback_hosts: set[str] = set()
        """``Host`` values already found loopback. A client sends the same one on every request,
        and parsing it as an address costs more than the rest of the guard; only a few are kept, so
        a client sending many names cannot grow it."""

    def check(self, environ: dict[str, Any]) -> None:
        """Refuse a request whose ``Host`` is not a loopback name, when bound to loopback."""
        if not self.loopback_only:
            return
        host = environ.get("HTTP_HOST")
        if host is not None and host not in self._loopback_hosts:
            _require_loopback_host(host)
            if len(self._loopback_hosts) < _KNOWN_HOSTS:
                self._loopback_hosts.add(host)


def install_site_guard(app: Flask, *, api_prefix: str, loopback_only: bool) -> HostGuard:
    """Check every request of ``app`` before its route runs (404s included); the guard's ``Host``
    check is returned for the API's fast path, which runs it itself."""
    hosts = HostGuard(loopback_only)

    @app.before_request
    def _guard() -> None:
        hosts.check(request.environ)
        if request.path.startswith(api_prefix + "/") or request.path == api_prefix:
            return
        _require_same_site()
        if request.path.startswith(CONTROL_PREFIX + "/") and request.mimetype in SIMPLE_BODIES:
            raise Refused.at(
                "Content-Type",
                f"{request.mimetype} is refused on the control plane (a web page can send it from another "
                "site); send JSON with Content-Type: application/json, or no body",
                code="cross_site",
            )

    return hosts


def is_loopback_host(host: str) -> bool:
    """Whether a ``Host`` header value (a name or address, with an optional port) is loopback."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.rsplit(":", 1)[0]
    name = name.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True  # RFC 6761: these names always resolve to loopback
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_KNOWN_HOSTS = 16


def _require_loopback_host(host: str) -> None:
    if not is_loopback_host(host):
        shown = host if len(host) <= 80 and host.isprintable() else f"{host[:40]!r}..."
        raise Refused.at(
            "Host",
            f"{shown!r} is not a loopback name; a sandbox bound to loopback answers only localhost, "
            "127.0.0.1 and [::1] (serve --host with an address of this machine, and --admin-token, to "
            "be reached by another name)",
            code="foreign_host",
        )


def _require_same_site() -> None:
    origin = request.headers.get("Origin")
    own = f"{request.scheme}://{request.host}"
    # The scheme is not compared: a proxy terminating TLS in front of the sandbox changes it, and
    # the same host and port under another scheme is this very server.
    if origin is not None and origin.lower().partition("://")[2] != request.host.lower():
        shown = origin if len(origin) <= 80 and origin.isprintable() else f"{origin[:40]!r}..."
        raise Refused.at(
            "Origin",
            f"{shown!r} is another site; outside the vendor API the sandbox answers only its own pages "
            f"({own}) and tools that send no Origin",
            code="cross_site",
        )
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.lower() not in SAME_SITE_FETCHES:
        raise Refused.at(
            "Sec-Fetch-Site",
            f"{fetch_site[:40]!r}: the browser says another site sent this request, which the sandbox "
            "refuses outside the vendor API",
            code="cross_site",
        )
