"""Serving an app on a production WSGI server.

waitress is the default: threaded, pure Python, installable everywhere. granian (a Rust HTTP server
with a WSGI interface, the optional ``fast`` extra) answers the same app 1.3-1.7 times as fast in the bench
(docs/performance.md), so ``serve --server granian`` offers it where it can run: it forks its
worker from this process, which needs a POSIX system.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import multiprocessing
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TextIO

from flask import Flask
from waitress.server import create_server

from .. import __version__
from ..domain.journal import Deferred, JournalEntry
from ..domain.sandbox import Sandbox
from ..statefile import StateFile
from .app import API_PREFIX


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


def serve(app: Flask, host: str, port: int, threads: int = 8, out: TextIO = sys.stdout) -> int:
    # Under load, waitress warns about its task queue depth once per queued request; for a local
    # fake that is noise on the user's terminal, not news.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(app, host=host, port=port, threads=threads, ident="dsco-sandbox")
    actual_port = getattr(server, "effective_port", port)
    shown_host = f"[{host}]" if ":" in host else host
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    if threading.current_thread() is threading.main_thread():
        # A container or CI stopping us (SIGTERM), or Ctrl+C: shut down cleanly. SIGINT is claimed
        # too because a shell starts background jobs with it ignored, and ``kill -INT`` should
        # stop the server however it was started.
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    try:
        # The banner comes last: once a user (or a test) reads it, a signal is handled cleanly.
        facts = run_facts(app, f"waitress, {threads} threads")
        print(banner(sandbox, f"http://{shown_host}:{actual_port}", facts), file=out, flush=True)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        save = app.extensions.get("dsco_after_change")
        if save is not None:
            save()  # the last word: state as it was when we stopped
        print(stopped_line(app), file=out, flush=True)
    return 0


class ServerUnavailable(Exception):
    """The chosen server cannot run here; the message says why and what to do instead."""


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
    shown_host = f"[{host}]" if ":" in host else host
    facts = run_facts(app, f"granian, 1 worker process, {threads} threads")
    print(banner(app.extensions["dsco_sandbox"], f"http://{shown_host}:{port}", facts), file=out, flush=True)
    server.serve(target_loader=lambda target: app)
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
