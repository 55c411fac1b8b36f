"""Namespaces: many independent sandboxes in one server, each under its own URL prefix.

``/ns/{name}/api/v3/...`` and ``/ns/{name}/_sandbox/...`` reach namespace ``name``; every other path
reaches the default sandbox, exactly as a server without namespaces would. A namespace is a whole
app built by :func:`create_app` around its own :class:`Sandbox`, so everything a sandbox has (world,
data, clock, settings, faults, tokens, journal, notifications, scrolls) it has of its own, and
every route the app gains later exists under ``/ns/{name}`` too. Nothing below this layer knows
namespaces exist.

A small WSGI dispatcher sits in the default app's ``wsgi_app``: it strips ``/ns/{name}`` (moving it
into ``SCRIPT_NAME``, so URLs a namespace builds carry its prefix) and hands the request over. So
the default app remains the one WSGI callable a server runs; middleware wrapped around its
``wsgi_app`` afterwards sees every request of every namespace, and checks registered by
:func:`create_app` run in each namespace's app as well.

What namespaces share is immutable: the loaded contract and a :class:`World` loaded once per source
(the server's world, a built-in one). An empty namespace then costs an app and an empty sandbox.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.wrappers import Response as WerkzeugResponse

from ..contract.validation import Contract
from ..domain.config import SandboxConfig
from ..domain.errors import Conflict, InvalidRequest, Problem
from ..domain.sandbox import Sandbox
from ..domain.world import World
from ..loading.bootstrap import WorldFileError, read_world, world_from_document
from ..storage.namespace_store import NamespaceStore, SavedNamespace
from ..storage.shared.errors import SandboxGone
from ..webhooks import WebhookDispatcher, is_loopback_url
from .app import ServerConfig, create_app
from .compiled_routes import CompiledRoutes
from .console import place_console

if TYPE_CHECKING:
    from .shared_namespaces import RedisNamespaces

PREFIX = "/ns/"
BUILT_IN_WORLDS = ("default",)
DEFAULT_LABEL = "(default)"
"""The default sandbox's name in the console's switcher (no namespace name has parentheses)."""
SWEEP_EVERY = 1.0
"""Seconds of wall time between two looks for expired namespaces (done on the way of a request)."""

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]


@dataclass
class NamespaceOptions:
    """How many namespaces a server keeps, for how long, and where their webhooks may go."""

    cap: int = 100
    default_ttl: float = 3600.0
    """Seconds of wall time without a request after which a namespace is dropped."""
    allow_webhook_hosts: bool = False
    """Deliver namespaces' webhooks to any host, not only to loopback addresses."""
    store: NamespaceStore | None = None
    """Where namespaces are saved (``serve --state-file``); None keeps them in memory only."""
    wall: Callable[[], float] = time.time
    """Wall time in seconds, which idle TTLs count in (a test may pass its own)."""


@dataclass
class Namespace:
    """One namespace: its app (and the sandbox in it), its lifetime and its control token."""

    name: str
    app: Flask
    idle_ttl: float
    token: str | None
    created_at: float
    last_used_at: float
    app_bytes: int = 0
    """The app's own size, measured once at creation (it does not grow with use)."""
    closed: bool = False
    """Deleted or expired: never saved again (a late save would bring it back at the next start)."""
    saving: threading.Lock = field(default_factory=threading.Lock)
    """Held while it is saved or forgotten, so a save in flight cannot land after its deletion."""
    generation: int = 0
    """On a shared store, which namespace of this name it is (a name deleted and created again is
    another one)."""
    on_close: list[Callable[[], None]] = field(default_factory=list)
    """What else stops with it (on a shared store, its lead)."""

    @property
    def sandbox(self) -> Sandbox:
        sandbox: Sandbox = self.app.extensions["dsco_sandbox"]
        return sandbox

    def record(self) -> SavedNamespace:
        return SavedNamespace(
            self.name,
            self.idle_ttl,
            self.token,
            self.created_at,
            self.last_used_at,
            self.sandbox.export_state(),
        )


@dataclass
class NamespaceRequest:
    """A schema-valid creation request (``schemas/sandbox-namespace-create.json``)."""

    name: str
    world: str | dict[str, Any] | None = None
    seed: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    idle_ttl: float | None = None


class NamespaceRegistry:
    """The namespaces of one server, by name; thread-safe, expiring idle ones as requests pass."""

    def __init__(
        self,
        config: ServerConfig,
        contract: Contract,
        server_world: World,
        options: NamespaceOptions,
    ) -> None:
        self.config = config
        self.contract = contract
        self.options = options
        self._wall = options.wall
        self._worlds: dict[str, World] = {"": server_world}
        """Shared worlds by source: "" is the server's own, else a built-in world's name."""
        if config.world_path is None:
            self._worlds["default"] = server_world
        self._namespaces: dict[str, Namespace] = {}
        self._lock = threading.RLock()
        self._next_sweep = 0.0
        self._routes = CompiledRoutes()
        self.shared: RedisNamespaces | None = None
        """Set by ``serve --store``: the namespaces are then Redis', this dictionary this worker's
        copies of them."""

    # --- lookup (the hot path of every namespaced request) -------------------------------------
    def use(self, name: str) -> Namespace | None:
        """The namespace called ``name``, marked as used now; None when there is none."""
        if self.shared is not None:
            return self.shared.use(name)
        now = self._wall()
        if now >= self._next_sweep:
            self.sweep()
        namespace = self._namespaces.get(name)
        if namespace is not None:
            namespace.last_used_at = now
        return namespace

    def shared_objects(self) -> list[object]:
        """What namespaces share: the worlds (loaded once each) and the compiled URL map."""
        with self._lock:
            return [*self._worlds.values(), *self._routes.shared_maps()]

    def sandboxes(self) -> list[tuple[str, str]]:
        """The server's sandboxes as the console's switcher lists them: a label and the prefix of
        its URLs, the default sandbox ("") first."""
        names = self.shared.names() if self.shared is not None else [n.name for n in self.all()]
        return [(DEFAULT_LABEL, ""), *((name, PREFIX + name) for name in names)]

    def get(self, name: str) -> Namespace | None:
        if self.shared is not None:
            return self.shared.get(name)
        return self._namespaces.get(name)

    def all(self) -> list[Namespace]:
        if self.shared is not None:
            return self.shared.all()
        self.sweep()
        with self._lock:
            return sorted(self._namespaces.values(), key=lambda n: n.name)

    # --- life and death -------------------------------------------------------------------------
    def create(self, request: NamespaceRequest) -> Namespace:
        """Build and register a namespace; refuses (changing nothing) a taken name, a full server,
        a world or settings that fail their checks."""
        if self.shared is None:
            self.sweep()
            with self._lock:
                self._check_room(request.name)
        sandbox = self.new_sandbox(request)
        token = secrets.token_urlsafe(24) if self.config.admin_token else None
        if self.shared is not None:
            return self.shared.create(request, sandbox, token)
        now = self._wall()
        namespace = self.build(request.name, sandbox, request.idle_ttl, token, now, now)
        with self._lock:
            self._check_room(request.name)  # another request may have taken it meanwhile
            self._namespaces[request.name] = namespace
        self._save(namespace)
        return namespace

    def new_sandbox(self, request: NamespaceRequest) -> Sandbox:
        """The sandbox a creation request asks for, at its start."""
        sandbox = Sandbox(self._world(request.world), self._sandbox_config(request))
        if request.settings:
            try:
                sandbox.update_config(request.settings)
            except InvalidRequest as error:
                raise InvalidRequest(
                    *(Problem(f"settings.{p.field}", p.message) for p in error.problems), code=error.code
                ) from None
        return sandbox

    def delete(self, name: str) -> bool:
        if self.shared is not None:
            return self.shared.delete(name)
        with self._lock:
            namespace = self._namespaces.pop(name, None)
        if namespace is None:
            return False
        with namespace.saving:
            self.close_one(namespace)
            if self.options.store is not None:
                self.options.store.delete(name)
        return True

    def sweep(self) -> list[str]:
        """Drop every namespace idle for longer than its TTL; the names dropped."""
        if self.shared is not None:
            return self.shared.sweep()
        now = self._wall()
        with self._lock:
            self._next_sweep = now + SWEEP_EVERY
            expired = [n.name for n in self._namespaces.values() if now - n.last_used_at > n.idle_ttl]
        return [name for name in expired if self.delete(name)]

    def restore(self) -> None:
        """Rebuild the saved namespaces (``serve --state-file``), dropping those that expired while
        the server was down; refuses a broken record loudly, as a broken state file is."""
        store = self.options.store
        if store is None:
            return
        try:
            records = store.load()
        except ValueError as error:
            raise WorldFileError(str(error)) from None
        for record in records:
            if self._wall() - record.last_used_at > record.idle_ttl:
                store.delete(record.name)
                continue
            self._namespaces[record.name] = self._rebuilt(record)

    def close(self) -> None:
        with self._lock:
            namespaces = list(self._namespaces.values())
        for namespace in namespaces:
            self.close_one(namespace)

    # --- this process's apps (on a shared store, its copies) ------------------------------------
    def copy(self, name: str) -> Namespace | None:
        return self._namespaces.get(name)

    def copies(self) -> set[str]:
        with self._lock:
            return set(self._namespaces)

    def keep(self, namespace: Namespace) -> None:
        """Serve ``namespace`` under its name, closing the app it replaces."""
        with self._lock:
            old = self._namespaces.get(namespace.name)
            self._namespaces[namespace.name] = namespace
        if old is not None and old is not namespace:
            self.close_one(old)

    def discard(self, name: str) -> None:
        with self._lock:
            namespace = self._namespaces.pop(name, None)
        if namespace is not None:
            self.close_one(namespace)

    # --- helpers --------------------------------------------------------------------------------
    def _check_room(self, name: str) -> None:
        if name in self._namespaces:
            raise self.taken(name)
        if len(self._namespaces) >= self.options.cap:
            raise self.full()

    @staticmethod
    def taken(name: str) -> Conflict:
        return Conflict.at(
            "name", f"a namespace called {name!r} exists already; delete it first or pick another name"
        )

    def full(self) -> Conflict:
        return Conflict.at(
            "name",
            f"this server holds {self.options.cap} namespaces, its limit (serve --max-namespaces); "
            "delete one first",
        )

    def _world(self, source: str | dict[str, Any] | None) -> World:
        """A shared world for a built-in name or the server's own; a posted document's own world."""
        if isinstance(source, dict):
            try:
                world = world_from_document(self.contract, source, "world")
            except WorldFileError as error:
                raise InvalidRequest(
                    *(Problem("", line) for line in str(error).splitlines()), code="invalid_world"
                ) from None
            self._check_webhooks(world)
            return world
        key = source or ""
        with self._lock:
            if key not in self._worlds:
                self._worlds[key] = read_world(self.contract)  # the one built-in world so far
            return self._worlds[key]

    def _check_webhooks(self, world: World) -> None:
        if self.options.allow_webhook_hosts:
            return
        problems = [
            Problem(
                f"world.accounts.{account.id}.webhook.url",
                f"{account.webhook.url!r} is not a loopback address; this server delivers webhooks to "
                "loopback only (serve --allow-webhook-hosts allows other hosts)",
            )
            for account in world.accounts.values()
            if account.webhook is not None and not is_loopback_url(account.webhook.url)
        ]
        if problems:
            raise InvalidRequest(*problems, code="invalid_world")

    def _sandbox_config(self, request: NamespaceRequest) -> SandboxConfig:
        base = self.config.sandbox
        return replace(base, seed=base.seed if request.seed is None else request.seed)

    def build(
        self, name: str, sandbox: Sandbox, ttl: float | None, token: str | None, created: float, used: float
    ) -> Namespace:
        config = ServerConfig(
            sandbox=sandbox.config,
            admin_token=self.config.admin_token,
            webhook_base_delay=self.config.webhook_base_delay,
            webhooks_loopback_only=not self.options.allow_webhook_hosts,
            loopback_only=self.config.loopback_only,
            persona_tick=self.config.persona_tick,
        )
        # Every namespace app has the same routes (views differ, bound to their own sandbox, but
        # the map names endpoints only), so they share one compiled URL map: most of an app's size
        # and of the time it takes to build.
        app = create_app(config, sandbox=sandbox, contract=self.contract, routes=self._routes)
        app.extensions["dsco_namespace_token"] = token
        place_console(app, PREFIX + name, self.sandboxes)
        namespace = Namespace(
            name, app, self.options.default_ttl if ttl is None else ttl, token, created, used
        )
        store = self.options.store
        if store is not None:
            app.extensions["dsco_after_change"] = _saver(store, namespace)
        return namespace

    def _rebuilt(self, record: SavedNamespace) -> Namespace:
        where = f"namespace {record.name}"
        document = record.state
        violations = self.contract.validate(self.contract.schema_uri("schemas/sandbox-state.json"), document)
        if violations:
            raise WorldFileError("\n".join(f"{where}: {v}" for v in violations))
        world = self._worlds[""]  # most namespaces keep the server's world: share it again
        if document["world"] != world.document:
            world = world_from_document(self.contract, document["world"], where)
        sandbox = Sandbox(world, replace(self.config.sandbox))
        # The app first, the state second: the app attaches the parts of the state that live above
        # the domain (the personas), and an import fills only the parts attached by then.
        namespace = self.build(
            record.name, sandbox, record.idle_ttl, record.token, record.created_at, record.last_used_at
        )
        try:
            sandbox.import_state(world, document)
        except InvalidRequest as error:
            self.close_one(namespace)
            raise WorldFileError("\n".join(f"{where}: {p}" for p in error.problems)) from None
        return namespace

    def _save(self, namespace: Namespace) -> None:
        saver = namespace.app.extensions.get("dsco_after_change")
        if saver is not None:
            saver()

    @staticmethod
    def close_one(namespace: Namespace) -> None:
        """Stop what runs on its own for the namespace: its personas' ticker, its webhooks."""
        namespace.closed = True
        for stop in namespace.on_close:
            stop()
        namespace.app.extensions["dsco_persona_ticker"].stop()
        dispatcher: WebhookDispatcher = namespace.app.extensions["dsco_webhooks"]
        dispatcher.close(timeout=1.0)


def _saver(store: NamespaceStore, namespace: Namespace) -> Callable[[], None]:
    def save() -> None:
        with namespace.saving:  # export and write as one step, as the state file does
            if not namespace.closed:
                store.save(namespace.record())

    return save


class NamespaceDispatcher:
    """The WSGI step in front of the default app: ``/ns/{name}/...`` goes to that namespace's app."""

    def __init__(self, registry: NamespaceRegistry, default: WSGIApp) -> None:
        self.registry = registry
        self.default = default

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.default(environ, start_response)
        name, slash, rest = path[len(PREFIX) :].partition("/")
        namespace = self.registry.use(name)
        if namespace is None:
            return _no_such_namespace(name, environ, start_response)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + PREFIX + name
        environ["PATH_INFO"] = slash + rest
        try:
            return namespace.app(environ, start_response)
        except SandboxGone:  # deleted or expired through another worker since the lookup
            self.registry.discard(name)
            return _no_such_namespace(name, environ, start_response)


def _no_such_namespace(name: str, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
    shown = json.dumps(name, ensure_ascii=True)
    response = WerkzeugResponse(
        f"namespace {shown}: no such namespace on this server (create it with POST "
        "/_sandbox/namespaces, list them with GET /_sandbox/namespaces)\n",
        status=404,
        mimetype="text/plain",
    )
    return response(environ, start_response)
