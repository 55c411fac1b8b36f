"""What a test needs around a sandbox: a real server in a thread, and a handle to drive it.

The pytest plugin only wires these into fixtures. A handle controls a sandbox the same way whether
it lives in this process (then it calls the :class:`Sandbox` directly, so a per-test reset costs
microseconds instead of HTTP round trips) or behind a URL (``--dsco-target``, through
``/_sandbox``).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from flask import Flask
from waitress.server import create_server

from .client import DscoClient
from .contract.validation import Contract
from .control_client import ControlClient, ControlError
from .domain.clock import format_rfc3339
from .domain.operations import split_api_base
from .domain.sandbox import Sandbox
from .domain.world import World
from .loading.bootstrap import world_from_document
from .personas import Personas


class BackgroundServer:
    """waitress serving ``app`` on a free loopback port from a daemon thread (threaded, 8 workers)."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", threads: int = 8) -> None:
        self._server = create_server(app, host=host, port=0, threads=threads, ident="dsco-sandbox")
        port = getattr(self._server, "effective_port", 0)
        self.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.run, name="dsco-sandbox-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, first closing connections that clients still hold open.

        waitress serves until its last connection closes, and a failed test's traceback keeps its
        responses (and their keep-alive connections) alive: without this, a session with a failed
        test ended in a 5-second wait. The connections are closed by the server's own thread
        (through its trigger), never from this one while it polls them.
        """
        server: Any = self._server
        closed = threading.Event()

        def close_everything() -> None:
            for channel in list(server._map.values()):
                if channel is not server and channel is not server.trigger:
                    channel.handle_close()
            server.close()  # the listening socket and the trigger: the loop then has nothing left
            closed.set()

        server.trigger.pull_trigger(close_everything)
        if not closed.wait(timeout=2):  # the loop is not running: close from here
            server.close()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class Credentials:
    """One account's ways in: OAuth2 client credentials and the static legacy token."""

    dsco_account_id: str
    role: str
    name: str
    client_id: str
    client_secret: str
    legacy_token: str


def credentials_of(world: World) -> dict[str, Credentials]:
    """Credentials by role name: ``retailer``, ``retailer2``, ... and ``supplier``, ``supplier2``, ...

    Accounts are numbered in id order, which for the default world gives Northwind as ``retailer``,
    Contoso as ``retailer2``, Acme as ``supplier`` and Globex as ``supplier2``.
    """
    found: dict[str, Credentials] = {}
    for role in ("retailer", "supplier"):
        accounts = sorted((a for a in world.accounts.values() if a.role == role), key=lambda a: a.id)
        for index, account in enumerate(accounts):
            key = role if index == 0 else f"{role}{index + 1}"
            found[key] = Credentials(
                account.id, role, account.name, account.client_id, account.client_secret, account.legacy_token
            )
    return found


class UnknownRole(LookupError):
    """A role the world in force has no account for; the message lists the roles it has."""


class ControlPlane(Protocol):
    """The ``/_sandbox`` operations, wherever the sandbox lives."""

    def reset(self) -> None: ...
    def clock(self, command: Mapping[str, Any] | None = None) -> dict[str, Any]: ...
    def config(self, changes: Mapping[str, Any] | None = None) -> dict[str, Any]: ...
    def export_state(self) -> dict[str, Any]: ...
    def import_state(self, document: Mapping[str, Any]) -> None: ...
    def events(self, filters: Mapping[str, Any]) -> list[dict[str, Any]]: ...
    def notifications(self, account: str | None) -> list[dict[str, Any]]: ...
    def personas(self, document: Mapping[str, Any] | None = None) -> dict[str, Any]: ...


class LocalControl:
    """Direct calls on a sandbox in this process (the fast path of the pytest fixtures)."""

    def __init__(self, sandbox: Sandbox, contract: Contract) -> None:
        self.sandbox = sandbox
        self.contract = contract

    def reset(self) -> None:
        self.sandbox.reset()

    def clock(self, command: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.sandbox.control_clock(command) if command else self.sandbox.clock_state()

    def config(self, changes: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.sandbox.update_config(changes) if changes else self.sandbox.config_json()

    def export_state(self) -> dict[str, Any]:
        return self.sandbox.export_state()

    def import_state(self, document: Mapping[str, Any]) -> None:
        self.sandbox.import_state(world_from_document(self.contract, document["world"]), document)

    def events(self, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [entry.to_json() for entry in self.sandbox.journal.entries(**filters)]

    def notifications(self, account: str | None) -> list[dict[str, Any]]:
        center = self.sandbox.notifications
        found = center.all() if account is None else center.for_account(account)
        return [n.to_json() for n in found]

    def personas(self, document: Mapping[str, Any] | None = None) -> dict[str, Any]:
        personas = self.sandbox.extensions["personas"]
        assert isinstance(personas, Personas)
        return personas.to_json() if document is None else personas.replace(document)


class HttpControl:
    """The same operations over HTTP, for a sandbox behind a URL (through :class:`ControlClient`)."""

    def __init__(self, base_url: str, admin_token: str | None = None) -> None:
        self.client = ControlClient.over_http(base_url, admin_token=admin_token)

    def reset(self) -> None:
        self.client.reset()

    def clock(self, command: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.client.clock(command)

    def config(self, changes: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.client.config(changes)

    def export_state(self) -> dict[str, Any]:
        return self.client.export_state()

    def import_state(self, document: Mapping[str, Any]) -> None:
        self.client.import_state(document)

    def events(self, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
        params = dict(filters)
        if isinstance(params.get("since"), int):  # sandbox time in microseconds, as LocalControl takes it
            params["since"] = format_rfc3339(params["since"])
        return self.client.events(**params)

    def notifications(self, account: str | None) -> list[dict[str, Any]]:
        return self.client.notifications(account=account)

    def personas(self, document: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.client.personas(document)

    def close(self) -> None:
        """Close the connections the client keeps open."""
        self.client.close()


class NoNamespaces(Exception):
    """The target offers no namespaces (an older sandbox, or the vendor's API); says what it answered."""


@dataclass
class NamespaceLease:
    """A namespace created on a served sandbox for one run, to be deleted at its end."""

    root: str
    """The server's root URL."""
    name: str
    token: str | None
    """The namespace's own control-plane token (when the server has an admin token)."""
    admin_token: str | None

    @property
    def base_url(self) -> str:
        """Where the namespace lives: a root URL like any sandbox's (``.../ns/{name}``)."""
        return f"{self.root}/ns/{self.name}"

    @property
    def control_token(self) -> str | None:
        return self.token or self.admin_token

    def release(self) -> None:
        """Delete the namespace; one that is gone already (expired, deleted) is fine."""
        control = ControlClient.over_http(self.root, admin_token=self.admin_token)
        try:
            reply = control.request("deleteNamespace", name=self.name)
        finally:
            control.close()
        if reply.status not in (200, 404):
            method, path = control.route("deleteNamespace", self.name)
            raise ControlError(method, self.root + path, reply)


def server_root(target: str) -> str:
    """The root of a server given by its root or its API base (``.../api/v3``)."""
    return split_api_base(target)[0]


def lease_namespace(
    target: str,
    admin_token: str | None = None,
    *,
    prefix: str = "run",
    world: Mapping[str, Any] | str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> NamespaceLease:
    """Create a namespace called ``<prefix>-<random>`` on ``target``; :class:`NoNamespaces` when the
    target has no ``/_sandbox/namespaces`` (it answers 401, 403, 404 or 405 there)."""
    root = server_root(target)
    body: dict[str, Any] = {"settings": dict(settings or {})}
    if world is not None:
        body["world"] = world if isinstance(world, str) else dict(world)
    control = ControlClient.over_http(root, admin_token=admin_token)
    method, path = control.route("createNamespace")
    try:
        for _ in range(3):  # a clash of random names is unlikely; twice in a row, absurd
            body["name"] = f"{prefix}-{secrets.token_hex(4)}"
            reply = control.request("createNamespace", json=body)
            if reply.status == 201 and isinstance(reply.body, dict):
                return NamespaceLease(root, body["name"], reply.body.get("token"), admin_token)
            if reply.status in (401, 403, 404, 405):
                raise NoNamespaces(f"{method} {root}{path} answered {reply.status}")
            if reply.status != 409 or "exists already" not in reply.text:
                break
    finally:
        control.close()
    raise ControlError(method, root + path, reply)


class Clock:
    """Sandbox time, as a test wants to say it."""

    def __init__(self, control: ControlPlane) -> None:
        self._control = control

    def now(self) -> datetime:
        return datetime.fromisoformat(self._control.clock()["now"].replace("Z", "+00:00"))

    def freeze(self) -> datetime:
        self._control.clock({"freeze": True})
        return self.now()

    def unfreeze(self) -> None:
        self._control.clock({"freeze": False})

    def advance(self, seconds: float) -> datetime:
        self._control.clock({"advance": seconds})
        return self.now()

    def set(self, moment: datetime | str) -> datetime:
        text = moment if isinstance(moment, str) else format_rfc3339(_micros(moment))
        self._control.clock({"set": text})
        return self.now()


class SandboxHandle:
    """What the ``dsco_sandbox`` fixture gives a test: where the API is, who can call it, controls."""

    def __init__(self, base_url: str, control: ControlPlane, credentials: Mapping[str, Credentials]) -> None:
        self.base_url, self.api_url = split_api_base(base_url)
        self.credentials = dict(credentials)
        self.control = control
        self.clock = Clock(control)

    def __getattr__(self, role: str) -> Credentials:
        """``handle.retailer``, ``handle.supplier2``...: the credentials of that role."""
        if role.startswith("__"):  # copy, pickle and friends probe for dunders
            raise AttributeError(role)
        try:
            return self.who(role)
        except UnknownRole as error:
            raise AttributeError(str(error)) from None

    def who(self, role: str) -> Credentials:
        """The credentials of ``role`` in the world in force; an unknown role names the known ones."""
        found: dict[str, Credentials] = self.__dict__["credentials"]
        if role not in found:
            raise UnknownRole(
                f"no role {role!r} in this sandbox's world; it has: {', '.join(found) or 'no accounts'}"
            )
        return found[role]

    def token(self, role: str = "retailer") -> str:
        """A fresh OAuth2 access token for ``role``."""
        who = self.who(role)
        return DscoClient(self.base_url, who.client_id, who.client_secret).access_token()

    def headers(self, role: str = "retailer") -> dict[str, str]:
        """Authorization headers using ``role``'s legacy token (no token round trip)."""
        return {"Authorization": f"bearer {self.who(role).legacy_token}"}

    def reset(self) -> None:
        self.control.reset()

    def config(self, **changes: Any) -> dict[str, Any]:
        """Change settings with the control plane's JSON names: ``config(pageSize=3, lag={"min": 8})``."""
        return self.control.config(changes)

    def faults(self, **rules: Any) -> dict[str, Any]:
        """Set faults per operation: ``faults(createConversation={"forceStatus": 503, "forceCount": 2})``."""
        faults: dict[str, Any] = self.control.config({"faults": rules})["faults"]
        return faults

    def events(
        self,
        *,
        operation: str | None = None,
        account: str | None = None,
        since: datetime | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The API calls the sandbox answered, oldest first: each with ``method``, ``path``,
        ``status``, ``durationMs``, ``request``, ``response`` and ``violations``.

        Filters: ``operation`` (an operationId such as ``"addConversationMessage"``), ``account``
        (the caller's dscoAccountId), ``since`` (sandbox time, inclusive), ``after`` (a ``seq`` seen
        before), ``limit`` (keep the newest N). Notifications are not calls: see
        :meth:`notifications`; webhook attempts: :meth:`webhook_attempts`.
        """
        return self._journal("request", operation, account, since, after, limit)

    def webhook_attempts(
        self,
        *,
        account: str | None = None,
        since: datetime | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every POST the sandbox made to an account's webhook, oldest first (same filters as events)."""
        return self._journal("webhook", None, account, since, after, limit)

    def refusals(self) -> list[str]:
        """One readable block per call answered 400 or more since the last reset (a failing test's clue)."""
        return [describe_refusal(event) for event in self.events() if int(event.get("status") or 0) >= 400]

    def _journal(
        self,
        kind: str,
        operation: str | None,
        account: str | None,
        since: datetime | None,
        after: int | None,
        limit: int | None,
    ) -> list[dict[str, Any]]:
        filters: dict[str, Any] = {"kind": kind}
        for name, value in (("operation", operation), ("account", account), ("after", after)):
            if value is not None:
                filters[name] = value
        if since is not None:
            filters["since"] = _micros(since)
        if limit is not None:
            filters["limit"] = limit
        return self.control.events(filters)

    def notifications(self, account: str | None = None) -> list[dict[str, Any]]:
        return self.control.notifications(account)

    def personas(self, *roles: str, **document: Any) -> dict[str, Any]:
        """Who the sandbox plays: ``personas("supplier")`` switches the built-in supplier on for every
        supplier, ``personas(retailer={"accounts": ["1000001"], "conversationsPerHour": 4})`` sets
        fields, ``personas()`` with nothing only reads. Each call replaces the last configuration;
        every test starts with nobody played (see :meth:`personas_off`)."""
        if not roles and not document:
            return self.control.personas()
        return self.control.personas(persona_document(roles, document))

    def personas_off(self) -> dict[str, Any]:
        """Nobody played from now on."""
        return self.control.personas({})

    def snapshot(self) -> dict[str, Any]:
        return self.control.export_state()

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        self.control.import_state(snapshot)


def describe_refusal(event: Mapping[str, Any]) -> str:
    """``POST /api/v3/conversation (account 1000001) -> 400`` and the sandbox's explanation, indented."""
    who = f" (account {event['account']})" if event.get("account") else ""
    head = f"{event.get('method')} {event.get('path')}{who} -> {event.get('status')}"
    body = event.get("response")
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    lines = [head, *(f"    {line}" for line in text.strip().splitlines() if line.strip())]
    lines.extend(f"    response breaks the contract: {v}" for v in event.get("violations") or [])
    return "\n".join(lines)


def persona_document(roles: Any, document: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A persona document from roles (``"supplier"`` or a list of them) and/or a document."""
    names = [roles] if isinstance(roles, str) else list(roles or ())
    result: dict[str, Any] = {name: {} for name in names}
    result.update(document or {})
    return result


def fresh_start(control: ControlPlane, settings: Mapping[str, Any]) -> None:
    """Make the sandbox as a new test expects it: no data, the given settings, the clock on time."""
    control.reset()
    control.config({"faults": None, **settings})
    control.clock({"freeze": False})
    control.clock({"set": format_rfc3339(_micros(datetime.now(UTC)))})


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)
