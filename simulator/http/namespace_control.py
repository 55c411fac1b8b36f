"""``/_sandbox/namespaces``: creating, listing and dropping namespaces, on the default app only.

These routes belong to the server, not to a namespace: they need the server's admin token (when it
has one), never a namespace's own token. :func:`create_server_app` is what ``serve`` runs: the
default app with the namespace dispatcher in front.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from types import FunctionType, ModuleType
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from ..contract.validation import Contract
from ..domain.errors import NotFound
from ..domain.operations import API_PREFIX, CONTROL_PREFIX
from ..domain.sandbox import Sandbox
from .app import ServerConfig, create_app
from .console import place_console
from .control import _checked_body, require_admin_token
from .errors import json_response
from .namespaces import (
    PREFIX,
    Namespace,
    NamespaceDispatcher,
    NamespaceOptions,
    NamespaceRegistry,
    NamespaceRequest,
)


def create_server_app(
    config: ServerConfig | None = None,
    options: NamespaceOptions | None = None,
    *,
    contract: Contract | None = None,
) -> Flask:
    """The default sandbox's app, serving namespaces too (``/ns/{name}/...``)."""
    config = config or ServerConfig()
    contract = contract or Contract()
    app = create_app(config, contract=contract)
    install_namespaces(app, config, options or NamespaceOptions())
    return app


def install_namespaces(app: Flask, config: ServerConfig, options: NamespaceOptions) -> NamespaceRegistry:
    """Give ``app`` (a default app from :func:`create_app`) namespaces: the registry, its control
    routes and the dispatcher. Saved namespaces are rebuilt now (refusing broken ones loudly)."""
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    registry = NamespaceRegistry(config, app.extensions["dsco_contract"], sandbox.world, options)
    registry.restore()
    app.extensions["dsco_namespaces"] = registry
    place_console(app, "", registry.sandboxes)
    app.register_blueprint(create_namespace_blueprint(), url_prefix=f"{CONTROL_PREFIX}/namespaces")
    app.wsgi_app = NamespaceDispatcher(registry, app.wsgi_app)  # type: ignore[method-assign]
    return registry


def _registry() -> NamespaceRegistry:
    registry: NamespaceRegistry = current_app.extensions["dsco_namespaces"]
    return registry


def create_namespace_blueprint() -> Blueprint:
    blueprint = Blueprint("namespaces", __name__)
    blueprint.before_request(require_admin_token)

    @blueprint.post("")
    def create() -> Response:
        body = _checked_body("sandbox-namespace-create.json")
        namespace = _registry().create(
            NamespaceRequest(
                name=body["name"],
                world=body.get("world"),
                seed=body.get("seed"),
                settings=body.get("settings", {}),
                idle_ttl=body.get("idleTtl"),
            )
        )
        described = describe(namespace, with_size=False)
        if namespace.token is not None:
            described["token"] = namespace.token
        return json_response(201, described, {"Location": described["controlUrl"] + "/health"})

    @blueprint.get("")
    def listing() -> Response:
        registry = _registry()
        return json_response(
            200,
            {
                "namespaces": [describe(n) for n in registry.all()],
                "limit": registry.options.cap,
                "defaultIdleTtl": registry.options.default_ttl,
            },
        )

    @blueprint.get("/<name>")
    def one(name: str) -> Response:
        return json_response(200, describe(_found(name)))

    @blueprint.delete("/<name>")
    def drop(name: str) -> Response:
        _found(name)
        _registry().delete(name)
        return json_response(200, {"status": "ok"})

    return blueprint


def _found(name: str) -> Namespace:
    namespace = _registry().get(name)
    if namespace is None:
        raise NotFound.at(
            "name", f"namespace {name!r}: no such namespace on this server", code="no_namespace"
        )
    return namespace


def describe(namespace: Namespace, *, with_size: bool = True) -> dict[str, Any]:
    """A namespace as ``schemas/sandbox-namespace.json`` shows it (never its token); its memory is
    measured for listings only, as walking its objects costs milliseconds."""
    root = f"{request.root_url.rstrip('/')}{PREFIX}{namespace.name}"
    conversations, messages = namespace.sandbox.store.counts()
    described: dict[str, Any] = {
        "name": namespace.name,
        "apiUrl": root + API_PREFIX,
        "controlUrl": root + CONTROL_PREFIX,
        "idleTtl": namespace.idle_ttl,
        "createdAt": _instant(namespace.created_at),
        "lastUsedAt": _instant(namespace.last_used_at),
        "expiresAt": _instant(namespace.last_used_at + namespace.idle_ttl),
        "conversations": conversations,
        "messages": messages,
    }
    if with_size:
        if not namespace.app_bytes:  # the app's own part does not grow: measured once
            namespace.app_bytes = own_size(namespace.app, _shared(namespace) | {id(namespace.sandbox)})
        described["memoryBytes"] = namespace.app_bytes + own_size(namespace.sandbox, _shared(namespace))
    return described


def _shared(namespace: Namespace) -> set[int]:
    """What a namespace holds but does not own: whatever the default app reaches (the contract,
    the server's world, Flask's and the logging module's objects) and what namespaces share. Walked
    once per server, at the first listing."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # not the proxy
    registry = _registry()
    roots = registry.shared_objects()
    key = tuple(id(root) for root in roots)
    cached: tuple[tuple[int, ...], set[int]] | None = app.extensions.get("dsco_namespace_shared")
    if cached is None or cached[0] != key:
        shared = {id(registry)}  # the way from the default app to every namespace
        for root in [app, *roots]:
            shared |= _reachable(root, shared)
        cached = (key, shared)
        app.extensions["dsco_namespace_shared"] = cached
    return cached[1]


def own_size(root: object, shared: set[int]) -> int:
    """Bytes reachable from ``root`` (``sys.getsizeof`` summed over the object graph), not counting
    ``shared`` objects, classes, modules and functions, which live once per process."""
    return sum(sys.getsizeof(item) for item in _walk(root, shared))


def _reachable(root: object, known: set[int]) -> set[int]:
    return {id(item) for item in _walk(root, known)}


def _walk(root: object, skip: set[int]) -> Iterator[object]:
    seen: set[int] = set()
    stack: list[object] = [root]
    while stack:
        item = stack.pop()
        key = id(item)
        if key in seen or key in skip or isinstance(item, type | ModuleType | FunctionType):
            continue
        seen.add(key)
        yield item
        stack.extend(_children(item))


def _children(item: object) -> Iterable[object]:
    if isinstance(item, str | bytes | int | float | bool) or item is None:
        return ()
    return gc.get_referents(item)


def _instant(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
