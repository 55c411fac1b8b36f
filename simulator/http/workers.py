"""``serve --store redis://... --workers N``: one sandbox, its state in Redis, served by N processes.

The parent binds the listening socket and holds the address lock, builds the app once, agrees
with Redis on the shared start, then forks N workers that all accept on that one socket (waitress,
``sockets=``). It serves nothing itself: it only restarts a worker that dies. Each worker keeps its
own replica of the sandbox in step through :mod:`simulator.storage.shared.replica`, so any worker may
answer any call; one of them at a time leads (:mod:`simulator.storage.shared.leader`): it alone
runs the personas' ticker and sends webhooks (:mod:`simulator.storage.shared.deliveries`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from flask import Flask

from ..domain.errors import StorageFailed
from ..domain.sandbox import Sandbox
from ..storage.shared.leader import Leadership
from ..storage.shared.link import LEAD_MILLIS, RedisLink
from ..storage.shared.options import SNAPSHOT_EVERY
from ..storage.shared.replica import Replica
from .namespaces import NamespaceDispatcher, WSGIApp
from .server import (
    SLOW_REQUEST_SECONDS,
    _address_lock,
    _bind_error,
    _die_with,
    _url_host,
    banner,
    waitress_server,
)
from .shared_lead import LEADERSHIP, follow_the_leader
from .shared_namespaces import RedisNamespaces, SharingPolicy

REPLICA = "dsco_shared_replica"
"""Where the app keeps its :class:`Replica` (``app.extensions``)."""
SHARED_NAMESPACES = "dsco_shared_namespaces"
"""Where an app with namespaces keeps its :class:`RedisNamespaces`."""
_StartResponse = Callable[..., Any]


def share_app(
    app: Flask, url: str, prefix: str, snapshot_every: int = SNAPSHOT_EVERY, lead_millis: int = LEAD_MILLIS
) -> Replica:
    """Keep ``app``'s sandbox in the Redis at ``url``, under ``prefix``, with a snapshot every
    ``snapshot_every`` entries of its log; refuses (SharedStoreError) a Redis that cannot be
    reached or may evict keys, or a shared start made with other settings. Until :func:`lead`
    starts its leadership, this worker sends no webhook and ticks no persona.

    An app with namespaces keeps them there too (:mod:`simulator.http.shared_namespaces`): a
    request under ``/ns/{name}`` holds that namespace's lock, never the default sandbox's, and
    each namespace has a lead of its own."""
    link = RedisLink(url, prefix)
    link.check()
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    replica = Replica(
        link, "default", sandbox, app.extensions["dsco_contract"], snapshot_every=snapshot_every
    )
    replica.attach()
    app.extensions[REPLICA] = replica
    follow_the_leader(app, replica, lead_millis)
    dispatcher = app.wsgi_app
    if isinstance(dispatcher, NamespaceDispatcher):
        dispatcher.default = held(dispatcher.default, sandbox)
        policy = SharingPolicy(held, snapshot_every, lead_millis)
        shared = RedisNamespaces(dispatcher.registry, link, policy)
        dispatcher.registry.shared = app.extensions[SHARED_NAMESPACES] = shared
    else:
        app.wsgi_app = held(app.wsgi_app, sandbox)  # type: ignore[method-assign,assignment]
    app.wsgi_app = answering_unavailable(app.wsgi_app)  # type: ignore[method-assign,assignment]
    return replica


def lead(app: Flask) -> Leadership:
    """Start taking part in the choice of a leader (in the worker process: threads), for the
    default sandbox and every namespace this worker has a copy of, now or later; while it leads
    the default sandbox, it makes a copy of every namespace there is."""
    leadership: Leadership = app.extensions[LEADERSHIP]
    shared: RedisNamespaces | None = app.extensions.get(SHARED_NAMESPACES)
    if shared is not None:
        shared.start_leading()
        default_tick = leadership.on_tick

        def tick(leading: bool) -> None:
            default_tick(leading)
            if leading:  # the default sandbox's leader holds a copy of every namespace
                shared.adopt()

        leadership.on_tick = tick
    leadership.start()
    return leadership


def resign(app: Flask) -> None:
    """Let go of every lead this worker holds (the default sandbox's and its namespaces'): a
    worker that is stopped, rather than killed, hands its personas and webhooks over at once."""
    leaderships: list[Leadership] = [app.extensions[LEADERSHIP]]
    shared: RedisNamespaces | None = app.extensions.get(SHARED_NAMESPACES)
    if shared is not None:
        leaderships += shared.leaderships()
    for leadership in leaderships:
        leadership.resign()


def held(wsgi_app: WSGIApp, sandbox: Sandbox) -> WSGIApp:
    """Run each request inside one hold of the shared lock.

    One hold per request costs two round trips to Redis (take the lock and learn the version;
    append and release), where a hold per step of a call (authenticate, admit, fault, run) would
    cost eight; it also makes a request one step of the global order, and lets the console and the
    control plane read the sandbox outside its lock and still see every worker's changes. A
    streamed answer (a state export) takes the lock again for its snapshot.
    """

    def app(environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        result: Iterable[bytes] | None = None
        try:
            with sandbox.lock:
                result = wsgi_app(environ, start_response)
        except BaseException:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            raise
        return result

    return app


def answering_unavailable(wsgi_app: WSGIApp) -> WSGIApp:
    """When Redis cannot be reached, or a change could not be saved, answer 503 with a JSON body
    whose ``error`` is ``store_unavailable`` (the change is not kept)."""

    def app(environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        started = False

        def starting(*args: Any) -> Any:
            nonlocal started
            started = True
            return start_response(*args)

        try:
            return wsgi_app(environ, starting)
        except StorageFailed as error:
            body = json.dumps(
                {"error": "store_unavailable", "error_description": error.problems[0].message}
            ).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            # The app's own answer, if it made one, is replaced (exc_info says so); else a first start.
            start_response("503 Service Unavailable", headers, *([sys.exc_info()] if started else []))
            return [body]

    return app


def serve_workers(
    app: Flask, host: str, port: int, workers: int, threads: int = 8, out: TextIO = sys.stdout
) -> int:
    """Serve ``app`` with ``workers`` forked waitress processes on one socket; restart any that dies."""
    lock = _address_lock(host, port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(2048)
    except OSError as error:
        listener.close()
        if lock is not None:
            lock.close()
        raise _bind_error(error, host, port) from None
    actual_port = listener.getsockname()[1]
    supervisor = os.getpid()
    children: dict[int, int] = {}

    def start(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            _die_with(supervisor)
            lead(app)

            def leave(signum: int, frame: object) -> None:
                resign(app)  # another worker leads at once, not when the lease runs out
                os._exit(0)

            signal.signal(signal.SIGTERM, leave)
            signal.signal(signal.SIGINT, leave)
            server = waitress_server(
                app, host, actual_port, threads, SLOW_REQUEST_SECONDS, sockets=[listener]
            )
            try:
                server.run()
            finally:
                os._exit(0)
        children[pid] = index

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    replica: Replica = app.extensions[REPLICA]
    facts = [
        f"  server         waitress, {workers} worker processes x {threads} threads",
        f"  state          shared in {replica.link.where} under prefix {replica.link.prefix!r}",
    ]
    print(banner(app.extensions["dsco_sandbox"], f"http://{_url_host(host)}:{actual_port}", facts), file=out)
    out.flush()
    for index in range(workers):
        start(index)
    try:
        while not stopping:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == 0:
                time.sleep(0.1)
                continue
            found = children.pop(pid, None)
            if found is not None and not stopping:
                index = found
                print(
                    f"dsco-sandbox: worker {index + 1} (pid {pid}) ended; starting it again",
                    file=out,
                )
                out.flush()
                start(index)
    finally:
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                children.pop(pid)
        for pid in list(children):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        listener.close()
        if lock is not None:
            lock.close()
    print("dsco-sandbox stopped; the state stays in the shared store", file=out, flush=True)
    return 0
