"""The web console: the landing page at ``/``, the docs, and the pages under ``/console``.

Server-rendered with Jinja templates and one stylesheet, both shipped inside the package; no
JavaScript. The pages read the sandbox directly and act through the same functions the API and the
control plane call (``console/actions.py``, ``http/control.py``), so the console has no rules of its
own. Browsing it is not journaled; its actions as a party are, marked ``"via": "console"``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import Forbidden, NotFound
from werkzeug.wrappers import Response as BaseResponse

from ... import __version__
from ...domain.operations import API_PREFIX, CONTROL_PREFIX, api_path
from ...loading.resources import data_dir
from ..errors import json_response
from . import guard
from .pages import register_pages
from .personas import register_persona_pages

CONSOLE_PREFIX = "/console"
SESSION_COOKIE = "dsco_console"
SANDBOXES = "dsco_console_sandboxes"
"""``app.extensions`` key: what lists the server's sandboxes for the switcher (see ``place_console``)."""
SANDBOX_ROOT = "dsco_console_root"

LINKS: tuple[tuple[str, str, str], ...] = (
    ("api", API_PREFIX, f"The simulated Dsco v3 API (token at {api_path('getAccessToken')})"),
    ("controlPlane", CONTROL_PREFIX, "The sandbox's own control plane (clock, settings, state, journal)"),
    ("docs", "/docs", "The API and control-plane contracts (OpenAPI and JSON Schema)"),
    ("console", f"{CONSOLE_PREFIX}/conversations", "The web console: conversations, journal, clock"),
)
"""The landing page's links, as HTML and as JSON (key, path, what is there)."""

CONTRACT_DOCUMENTS = (
    ("openapi.yaml", "The simulated Dsco v3 Conversation API"),
    ("sandbox-openapi.yaml", "The sandbox's control plane under /_sandbox"),
    ("world.schema.json", "The world file: accounts, trading partners, orders and other objects"),
    ("scenario.schema.json", "Scenario files replayed by dsco-sandbox replay and the pytest plugin"),
)


def create_console_blueprint() -> Blueprint:
    console = Blueprint(
        "console",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path=f"{CONSOLE_PREFIX}/static",
    )
    console.record_once(_configure_sessions)

    @console.app_context_processor
    def _template_helpers() -> dict[str, Any]:
        return {
            "csrf_token": guard.csrf_token,
            "csrf_field": guard.CSRF_FIELD,
            "version": __version__,
            "here": here,
            "sandboxes": sandboxes,
        }

    @console.get("/")
    def landing() -> BaseResponse:
        root = request.script_root  # a namespace's console links its own API and control plane
        links = [{"rel": key, "href": root + path, "title": title} for key, path, title in LINKS]
        best = request.accept_mimetypes.best_match(["text/html", "application/json"])
        if (
            best == "application/json"
            and request.accept_mimetypes["application/json"] > (request.accept_mimetypes["text/html"])
        ):
            response = json_response(
                200,
                {
                    "name": "dsco-sandbox",
                    "version": __version__,
                    "description": "A local, stateful simulator of the Dsco v3 Conversation API",
                    "links": {link["rel"]: link["href"] for link in links},
                },
            )
        else:
            response = Response(render_template("console/landing.html", links=links, **_overview()))
        response.headers["Vary"] = "Accept"
        return response

    @console.get("/docs")
    def docs() -> str:
        return render_template("console/docs.html", documents=CONTRACT_DOCUMENTS, links=LINKS)

    @console.get("/docs/contracts/<path:name>")
    def contract_file(name: str) -> Response:
        if not name.endswith((".yaml", ".json")):
            raise NotFound()
        response = send_from_directory(data_dir("contracts"), name)
        response.mimetype = "text/plain" if name.endswith(".yaml") else "application/json"
        return response

    @console.route(f"{CONSOLE_PREFIX}/login", methods=["GET", "POST"])
    def login() -> BaseResponse | tuple[str, int]:
        target = guard.safe_next(request.values.get("next"), url_for("console.conversations"))
        if not guard.has_login():
            return redirect(target, 303)
        if request.method == "POST":
            guard.check_form_post()
            if guard.log_in(request.form.get("token", "")):
                return redirect(target, 303)
            return render_template("console/login.html", target=target, refused=True), 401
        return render_template("console/login.html", target=target, refused=False), 200

    @console.post(f"{CONSOLE_PREFIX}/logout")
    def logout() -> BaseResponse:
        guard.check_form_post()
        guard.log_out()
        return redirect(url_for("console.landing"), 303)

    @console.before_request
    def _protect() -> BaseResponse | None:
        endpoint = request.endpoint or ""
        if endpoint in ("console.landing", "console.docs", "console.contract_file", "console.static"):
            return None
        if endpoint in ("console.login", "console.logout"):
            return None
        guard.refuse_outsiders()
        if guard.needs_login():
            return redirect(url_for("console.login", next=here()), 303)
        if request.method == "POST":
            guard.check_form_post()
        return None

    register_pages(console, CONSOLE_PREFIX)
    register_persona_pages(console, CONSOLE_PREFIX)
    return console


def here() -> str:
    """This page's path and query as the browser sees it (a namespace's prefix included), for
    coming back to it after a login or an action."""
    return request.script_root + request.full_path.rstrip("?")


def sandboxes() -> list[dict[str, Any]] | None:
    """The sandboxes of this server for the header's switcher, each leading to its console's
    conversations; None (no switcher) on a server without namespaces or before one exists.

    The server's namespace layer tells the console what exists (``SANDBOXES``: a callable giving
    each sandbox's label and URL prefix, the default's being "") and where this app is
    (``SANDBOX_ROOT``); the console itself knows nothing of namespaces.
    """
    listing = current_app.extensions.get(SANDBOXES)
    if listing is None or not guard.may_see_the_server():
        return None
    found: list[tuple[str, str]] = listing()
    if len(found) < 2:
        return None
    here_root = current_app.extensions.get(SANDBOX_ROOT, "")
    return [
        {"label": label, "href": f"{root}{CONSOLE_PREFIX}/conversations", "current": root == here_root}
        for label, root in found
    ]


def place_console(app: Flask, root: str, sandbox_list: Callable[[], list[tuple[str, str]]]) -> None:
    """Tell the console of ``app`` (served below ``root``, "" for the server's root) which
    sandboxes the server has; an app below a prefix gets a session cookie of its own, sent
    under that prefix only, so that being logged in to one sandbox's console is not the other's."""
    app.extensions[SANDBOXES] = sandbox_list
    app.extensions[SANDBOX_ROOT] = root
    if root:
        app.config["APPLICATION_ROOT"] = root
        app.config["SESSION_COOKIE_PATH"] = root
        app.config["SESSION_COOKIE_NAME"] = SESSION_COOKIE + re.sub(r"[^A-Za-z0-9-]", "_", root)


def _overview() -> dict[str, Any]:
    """What the landing page shows beside its links, to those who may use the console."""
    try:
        guard.refuse_outsiders()
    except Forbidden:
        return {"overview": None, "login_needed": False}
    if guard.needs_login():
        return {"overview": None, "login_needed": True}
    sandbox = current_app.extensions["dsco_sandbox"]
    conversations, messages = sandbox.store.counts()
    return {
        "overview": {
            "conversations": conversations,
            "messages": messages,
            "accounts": len(sandbox.world.accounts),
            "clock": sandbox.clock_state(),
        },
        "login_needed": False,
    }


def _configure_sessions(state: BlueprintSetupState) -> None:
    """A signing key made at start (never written anywhere) and a cookie no other site sends."""
    app = state.app
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.config["SESSION_COOKIE_NAME"] = SESSION_COOKIE
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
