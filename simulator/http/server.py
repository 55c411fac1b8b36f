"""Serving an app on a production WSGI server.

waitress is the default: threaded, pure Python, installable everywhere. granian (a Rust HTTP server
with a WSGI interface, the optional ``fast`` extra) answers the same app 1.3-1.7 times as fast in the bench
(docs/performance.md), so ``serve --server granian`` offers it where it can run: it forks its
worker from this process, which needs a POSIX system.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import sys
import threading
from types import FrameType
from typing import TextIO

from flask import Flask
from waitress.server import create_server

from .. import __version__
from ..domain.sandbox import Sandbox
from .app import API_PREFIX


def banner(sandbox: Sandbox, base_url: str) -> str:
    """What a user needs to start: where to point a client and which demo credentials to use."""
    world = sandbox.world
    lines = [
        f"dsco-sandbox {__version__}: the Dsco v3 Conversation API, simulated",
        f"  base URL       {base_url}{API_PREFIX}",
        f"  token URL      {base_url}{API_PREFIX}/oauth2/token",
        f"  control plane  {base_url}/_sandbox/health",
        f"  world          {len(world.accounts)} accounts, {len(world.orders)} orders",
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
        print(banner(sandbox, f"http://{shown_host}:{actual_port}"), file=out, flush=True)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        save = app.extensions.get("dsco_after_change")
        if save is not None:
            save()  # the last word: state as it was when we stopped
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
    print(banner(app.extensions["dsco_sandbox"], f"http://{shown_host}:{port}"), file=out, flush=True)
    server.serve(target_loader=lambda target: app)
    return 0


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
