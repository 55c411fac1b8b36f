"""Serving an app on a production WSGI server.

waitress is the default: threaded, pure Python, installable everywhere. granian (a Rust HTTP server
with a WSGI interface, the optional ``fast`` extra) answers the same app 1.3-1.7 times as fast in the bench
(docs/performance.md), so ``serve --server granian`` offers it where it can run: it forks its
worker from this process, which needs a POSIX system.

Both refuse to start on a port already in use, with one line naming it: two sandboxes on one port
would both answer, from the same seed, handing out the same ids and each saving only its own half
of the state. granian's listening socket allows sharing a port (``SO_REUSEPORT``), so every
sandbox also holds an exclusive lock named after its address while it runs, and granian's port is
checked before its worker starts (see ``_claim_port``). The worker is tied to this process, so
that killing the process the shell started (``kill -9``) takes the worker along instead of
leaving it serving.

waitress accepts up to ``CONNECTION_LIMIT`` connections (its own default of 100 let a hundred slow
clients starve everyone else), watches them with ``poll`` (``select`` stops at 1024 descriptors),
closes a connection whose request is not complete ``SLOW_REQUEST_SECONDS`` after it began, and
refuses a body over twice the app's limit before reading it (its own default buffers 1 GiB).
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any, TextIO

from flask import Flask
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

from .. import __version__
from ..domain.journal import Deferred, JournalEntry
from ..domain.operations import API_PREFIX
from ..domain.sandbox import Sandbox
from ..storage.statefile import StateFile
from .bodies import MAX_BODY_BYTES
from .gc_policy import CollectorPolicy

CONNECTION_LIMIT = 1000
"""Connections waitress holds open at once (as many as granian holds by default)."""
SLOW_REQUEST_SECONDS = 30
"""How long a client has to send a whole request once it has begun (granian's header timeout)."""


def banner(sandbox: Sandbox, base_url: str, facts: Sequence[str] = ()) -> str:
    """What a user needs to start: where to point a client and which demo credentials to use.

    ``facts`` (from :func:`run_facts`) add which server runs and where the state comes from.
    """
    world = sandbox.world
    lines = [
        f"dsco-sandbox {__version__}: the Dsco v3 Conversation API, simulated",
        f"  base URL       {base_url}{API_PREFIX}",
        f"  token URL      {base_url}{API_PREFIX}/oauth2/token",
        f"  control plane  {base_url}/_sandbox/health",
        f"  world          {len(world.accounts)} accounts, {len(world.orders)} orders",
        *facts,
        "  demo credentials (client_id / client_secret, legacy bearer token):",
    ]
    for account in world.accounts.values():
        lines.append(
            f"    {account.role:<8} {account.id:<8} {account.name:<18} "
            f"{account.client_id} / {account.client_secret}   {account.legacy_token}"
        )
    lines.append("  stop with Ctrl+C")
    return "\n".join(lines)


def serve(
    app: Flask,
    host: str,
    port: int,
    threads: int = 8,
    out: TextIO = sys.stdout,
    slow_request_seconds: float = SLOW_REQUEST_SECONDS,
) -> int:
    # Under load, waitress warns about its task queue depth once per queued request; for a local
    # fake that is noise on the user's terminal, not news.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    lock = _address_lock(host, port)
    try:
        server = waitress_server(app, host, port, threads, slow_request_seconds)
    except ServerUnavailable:
        if lock is not None:
            lock.close()
        raise
    actual_port = getattr(server, "effective_port", port)
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    if threading.current_thread() is threading.main_thread():
        # A container or CI stopping us (SIGTERM), or Ctrl+C: shut down cleanly. SIGINT is claimed
        # too because a shell starts background jobs with it ignored, and ``kill -INT`` should
        # stop the server however it was started.
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    collector = CollectorPolicy()
    collector.install()  # after the app and its state are built: they are what gets frozen
    try:
        # The banner comes last: once a user (or a test) reads it, a signal is handled cleanly.
        facts = run_facts(app, f"waitress, {threads} threads")
        print(banner(sandbox, f"http://{_url_host(host)}:{actual_port}", facts), file=out, flush=True)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        collector.uninstall()
        save = app.extensions.get("dsco_after_change")
        if save is not None:
            save()  # the last word: state as it was when we stopped
        print(stopped_line(app), file=out, flush=True)
        if lock is not None:
            lock.close()
    return 0


def waitress_server(
    app: Flask,
    host: str,
    port: int,
    threads: int,
    slow_request_seconds: float,
    sockets: list[socket.socket] | None = None,
) -> Any:
    """A bound waitress server for ``app``, configured against slow and greedy clients (not running).

    With ``sockets`` it serves those, bound already (a worker of ``serve --workers``), instead of
    binding ``host``:``port`` itself."""
    where: dict[str, Any] = {"sockets": sockets} if sockets else {"host": host, "port": port}
    try:
        server = create_server(
            app,
            **where,
            threads=threads,
            ident="dsco-sandbox",
            connection_limit=_connection_limit(),
            asyncore_use_poll=True,
            max_request_body_size=2 * MAX_BODY_BYTES,
            cleanup_interval=max(1, int(slow_request_seconds / 4)),
        )
    except OSError as error:
        raise _bind_error(error, host, port) from None
    _time_out_slow_requests(server, slow_request_seconds)
    return server


def _url_host(host: str) -> str:
    """The host as a URL shows it: an IPv6 address in brackets, once."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _connection_limit() -> int:
    """``CONNECTION_LIMIT``, or fewer when this process may not open that many files.

    The soft limit on open files is raised to the hard one first where the system allows it.
    """
    try:
        import resource
    except ImportError:  # not a POSIX system: no such limit to consult
        return CONNECTION_LIMIT
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CONNECTION_LIMIT + 128
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return CONNECTION_LIMIT
    return max(16, min(CONNECTION_LIMIT, soft - 128))  # leave room for the state file, logs, sockets


class _TimedChannel(HTTPChannel):  # type: ignore[misc]
    """A waitress connection that remembers when its current request began to arrive."""

    request_began: float | None = None

    def received(self, data: bytes) -> bool:
        if data and self.request_began is None:
            self.request_began = time.monotonic()
        result: bool = super().received(data)
        if self.request is None:  # nothing half-received any more
            self.request_began = None
        return result


def _time_out_slow_requests(server: Any, seconds: float) -> None:
    """Close connections whose request is still incomplete ``seconds`` after it began.

    waitress only closes idle connections, and a client sending one byte every half second is
    never idle: without this, enough of them would hold every connection the server has.
    """
    listeners = [item for item in getattr(server, "map", {}).values() if isinstance(item, BaseWSGIServer)]
    for listener in listeners or [server]:
        listener.channel_class = _TimedChannel
        listener.maintenance = _with_deadline(listener, listener.maintenance, seconds)


def _with_deadline(
    listener: Any, maintenance: Callable[[float], None], seconds: float
) -> Callable[[float], None]:
    def run(now: float) -> None:
        maintenance(now)
        cutoff = time.monotonic() - seconds
        for channel in list(listener.active_channels.values()):
            began = getattr(channel, "request_began", None)
            if began is not None and began < cutoff and not channel.requests:
                channel.will_close = True

    return run


class ServerUnavailable(Exception):
    """The chosen server cannot run here; the message says why and what to do instead."""


class PortInUse(ServerUnavailable):
    """Another process (most likely another sandbox) already serves on the port."""


def _bind_error(error: OSError, host: str, port: int) -> ServerUnavailable:
    if error.errno == errno.EADDRINUSE:
        return PortInUse(
            f"port {port} on {host} is already in use (another dsco-sandbox or another server); "
            "stop it, or choose another --port"
        )
    return ServerUnavailable(f"cannot listen on {host} port {port}: {error.strerror or error}")


def _claim_port(host: str, port: int) -> IO[str] | None:
    """Make sure no other sandbox serves (or is starting to serve) on this address, and nothing else
    listens there; the returned lock keeps the address this sandbox's until the process ends.

    Listening sockets alone cannot tell: granian's listener allows sharing the port
    (``SO_REUSEPORT``) and is only opened once its worker runs, a moment after this check. So each
    sandbox also holds an exclusive lock named after the address, for as long as it (or its forked
    worker, which inherits it) lives; the operating system releases it however the process ends.
    The bind probe then catches every other server already listening. A probe with
    ``SO_REUSEADDR`` is not fooled by connections of a previous server still in TIME_WAIT.
    """
    lock = _address_lock(host, port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            probe.listen(1)  # two bound sockets with SO_REUSEADDR conflict only once one listens
        except OSError as error:
            if lock is not None:
                lock.close()
            raise _bind_error(error, host, port) from None
    return lock


def _address_lock(host: str, port: int) -> IO[str] | None:
    """The exclusive lock of ``host:port`` among sandboxes (None where locks are unavailable)."""
    if port == 0:
        return None  # a port the system picks is free by definition
    try:
        import fcntl
    except ImportError:  # not POSIX: the bind check alone
        return None
    name = "".join(char if char.isalnum() else "_" for char in host)
    path = Path(tempfile.gettempdir()) / f"dsco-sandbox-{name}-{port}.lock"
    try:
        lock = path.open("a")
    except OSError:
        return None  # an unwritable temporary folder: the bind check alone
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise PortInUse(
            f"port {port} on {host} is already in use by another dsco-sandbox (starting or serving); "
            "stop it, or choose another --port"
        ) from None
    return lock


def _die_with(parent: int) -> None:
    """In granian's worker: end when the process that started it ends, however it ends."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    else:

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGKILL)

        threading.Thread(target=watch, name="dsco-sandbox-parent-watch", daemon=True).start()
    if os.getppid() != parent:  # it ended before the line above took effect
        os._exit(1)


def serve_granian(app: Flask, host: str, port: int, threads: int = 1, out: TextIO = sys.stdout) -> int:
    """Serve ``app`` with granian: one worker process, ``threads`` blocking threads.

    The app (and the sandbox in it) is built here and the worker is forked from this process, so
    the worker serves that very app; this process only supervises it and never touches the state
    again (with ``--state-file`` the worker saves after every change).
    """
    try:
        from granian import Granian
        from granian.constants import Interfaces
        from granian.log import LogLevels
    except ImportError:
        raise ServerUnavailable(
            "granian is not installed: pip install 'dsco-sandbox[fast]' (or use --server waitress)"
        ) from None
    if "fork" not in multiprocessing.get_all_start_methods():
        raise ServerUnavailable("granian's worker is forked from this process, which this system cannot do")
    if port == 0:
        raise ServerUnavailable("--server granian needs a fixed --port (granian does not report a free one)")
    lock = _claim_port(host, port)
    multiprocessing.set_start_method("fork", force=True)  # spawn would rebuild the app from nothing
    server = Granian(
        "dsco-sandbox",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=1,
        blocking_threads=threads,
        log_level=LogLevels.warning,
    )
    supervisor = os.getpid()

    def load(target: str) -> Flask:  # runs in the worker, once forked
        _die_with(supervisor)  # the worker keeps its inherited copy of the lock while it serves
        CollectorPolicy().install()  # in the worker, which alone serves (and grows the store)
        return app

    facts = run_facts(app, f"granian, 1 worker process, {threads} threads")
    print(
        banner(app.extensions["dsco_sandbox"], f"http://{_url_host(host)}:{port}", facts),
        file=out,
        flush=True,
    )
    try:
        server.serve(target_loader=load)
    finally:
        if lock is not None:
            lock.close()
    print(stopped_line(app), file=out, flush=True)
    return 0


def address_problem(host: str, port: int) -> str | None:
    """Why ``host``:``port`` cannot be served, found before the slow start; None when it can.

    A port outside 0-65535 would be refused with a traceback, or (above 65535) silently wrapped
    by the operating system onto another port; a name that does not resolve, or an address no
    interface has, fails deep inside the server. A port in use is left to the server's own start.
    """
    if not 0 <= port <= 65535:
        return f"--port {port}: expected a port from 1 to 65535, or 0 for any free one"
    try:
        found = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        reason = error.strerror if isinstance(error, socket.gaierror) else str(error)
        return f"--host {host}: the name does not resolve to an address ({reason})"
    for family, kind, protocol, _, address in found:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    return None
                return f"--host {host}: cannot bind {address[0]} port {port} ({error.strerror})"
    return None


def resolves_to_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (so no network can reach it)."""
    try:
        found = socket.getaddrinfo(host.strip("[]"), None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    addresses = {ipaddress.ip_address(str(entry[4][0]).split("%")[0]) for entry in found}
    return bool(addresses) and all(address.is_loopback for address in addresses)


def run_facts(app: Flask, server: str) -> list[str]:
    """Banner lines saying which server runs and whether the state was loaded or starts empty."""
    state_file: StateFile | None = app.extensions.get("dsco_state_file")
    if state_file is None:
        state = "in memory only (--state-file FILE keeps it across restarts)"
    elif app.extensions.get("dsco_state_loaded"):
        conversations, messages = app.extensions["dsco_sandbox"].store.counts()
        state = f"loaded from {state_file.path}: {conversations} conversations, {messages} messages"
    else:
        state = f"{state_file.path} does not exist yet: starting empty, saved after every change"
    return [f"  server         {server}", f"  state          {state}"]


def stopped_line(app: Flask) -> str:
    """The last line a stopped sandbox prints: that it stopped, and where its state went."""
    state_file: StateFile | None = app.extensions.get("dsco_state_file")
    where = f"; state saved to {state_file.path}" if state_file is not None else "; its state is gone"
    return f"dsco-sandbox stopped{where}"


def log_calls(sandbox: Sandbox, out: TextIO) -> None:
    """Print one line per API call as it is answered: method, path, account, status, duration, and
    the first line of a refusal. Written by request threads, so each line goes out in one write."""

    def write(entry: JournalEntry) -> None:
        if entry.kind == "request":
            out.write(call_line(entry) + "\n")
            out.flush()

    sandbox.journal.listen(write)


def call_line(entry: JournalEntry) -> str:
    """``POST /api/v3/conversation 1000001 400 2.1ms  title: 7 is not of type 'string'``."""
    details = entry.details
    status = int(details.get("status") or 0)
    line = (
        f"{details.get('method')} {details.get('path')} {entry.account or '-'} {status} "
        f"{float(details.get('durationMs') or 0):.1f}ms"
    )
    if status >= 400:
        body = details.get("response")
        text = body.to_json() if isinstance(body, Deferred) else body
        if isinstance(text, dict):
            text = text.get("error_description") or text.get("error") or json.dumps(text)
        first = next((part for part in str(text or "").splitlines() if part.strip()), "")
        if first:
            line += f"  {first.strip()}"
    return line


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
