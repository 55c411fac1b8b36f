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
from ..storage.shared.deliveries import SharedDeliveries
from ..storage.shared.leader import Leadership
from ..storage.shared.link import LEAD_MILLIS, RedisLink
from ..storage.shared.replica import Replica
from ..webhooks import WebhookDispatcher
from .app import PENDING_WEBHOOKS, PendingWebhooks
from .personas import PersonaTicker
from .server import (
    SLOW_REQUEST_SECONDS,
    _address_lock,
    _bind_error,
    _die_with,
    _url_host,
    banner,
    waitress_server,
)

REPLICA = "dsco_shared_replica"
"""Where the app keeps its :class:`Replica` (``app.extensions``)."""
LEADERSHIP = "dsco_shared_leadership"
"""Where the app keeps its :class:`Leadership`, started by :func:`lead` in each worker."""
_StartResponse = Callable[..., Any]


def share_app(app: Flask, url: str, prefix: str, lead_millis: int = LEAD_MILLIS) -> Replica:
    """Keep ``app``'s sandbox in the Redis at ``url``, under ``prefix``; refuses (SharedStoreError)
    a Redis that cannot be reached or may evict keys, or a shared start made with other settings.
    Until :func:`lead` starts its leadership, this worker sends no webhook and ticks no persona."""
    link = RedisLink(url, prefix)
    link.check()
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    replica = Replica(link, "default", sandbox, app.extensions["dsco_contract"])
    replica.attach()
    app.extensions[REPLICA] = replica
    app.extensions[LEADERSHIP] = _follow_the_leader(app, replica, lead_millis)
    app.wsgi_app = _caught_up(app.wsgi_app, sandbox)  # type: ignore[method-assign]
    return replica


def lead(app: Flask) -> Leadership:
    """Start taking part in the choice of a leader (in the worker process: a thread)."""
    leadership: Leadership = app.extensions[LEADERSHIP]
    leadership.start()
    return leadership


def _follow_the_leader(app: Flask, replica: Replica, millis: int) -> Leadership:
    """Route the app's webhook deliveries and persona ticks through the lead of its sandbox."""
    leadership = Leadership(replica.link, replica.keys, millis)
    dispatcher: WebhookDispatcher = app.extensions["dsco_webhooks"]
    deliveries = SharedDeliveries(replica.link, replica.keys, dispatcher)
    webhooks = replica.sandbox.extensions[PENDING_WEBHOOKS]
    assert isinstance(webhooks, PendingWebhooks)
    webhooks.route = deliveries
    webhooks.on_report = deliveries.reported
    replica.observer = deliveries
    dispatcher.may_send = leadership.leading
    ticker: PersonaTicker = app.extensions["dsco_persona_ticker"]
    ticker.may_run = leadership.leading

    def gained(token: str) -> None:
        deliveries.lead(token)
        with replica.sandbox.lock:  # catch up: the entries not seen yet raise their deliveries
            pass

    def tick(leading: bool) -> None:
        if not leading:
            deliveries.prune()
        elif replica.behind():  # follow the log, so calls on other workers are delivered soon
            with replica.sandbox.lock:
                pass

    leadership.on_gain = gained
    leadership.on_loss = deliveries.follow
    leadership.on_tick = tick
    return leadership


def _caught_up(wsgi_app: Callable[..., Iterable[bytes]], sandbox: Sandbox) -> Callable[..., Iterable[bytes]]:
    """Run each request inside one hold of the shared lock.

    One hold per request costs two round trips to Redis (take the lock and learn the version;
    append and release), where a hold per step of a call (authenticate, admit, fault, run) would
    cost eight; it also makes a request one step of the global order, and lets the console and the
    control plane read the sandbox outside its lock and still see every worker's changes. A
    streamed answer (a state export) takes the lock again for its snapshot. When Redis cannot be
    reached, or the change could not be saved, the answer is a 503 with a JSON body whose
    ``error`` is ``store_unavailable``, and the change is not kept.
    """

    def app(environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        result: Iterable[bytes] | None = None
        started = False

        def starting(*args: Any) -> Any:
            nonlocal started
            started = True
            return start_response(*args)

        try:
            with sandbox.lock:
                result = wsgi_app(environ, starting)
        except StorageFailed as error:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            body = json.dumps(
                {"error": "store_unavailable", "error_description": error.problems[0].message}
            ).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            # The app's own answer, if it made one, is replaced (exc_info says so); else a first start.
            start_response("503 Service Unavailable", headers, *([sys.exc_info()] if started else []))
            return [body]
        return result

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
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _die_with(supervisor)
            lead(app)
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
