"""``dsco-sandbox serve``: settings from the arguments, the app, the server; refusals exit 2."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..domain.config import SandboxConfig
from ..domain.errors import InvalidRequest
from ..storage.shared.options import store_problem

if TYPE_CHECKING:
    from ..storage.namespace_store import NamespaceStore


def serve_command(args: argparse.Namespace) -> int:
    from ..http.app import ServerConfig, create_app
    from ..http.namespace_control import create_server_app
    from ..http.namespaces import NamespaceOptions
    from ..http.server import (
        PortInUse,
        ServerUnavailable,
        address_problem,
        log_calls,
        resolves_to_loopback,
        serve,
        serve_granian,
    )
    from ..loading.bootstrap import WorldFileError
    from ..personas import PersonaFileError
    from ..storage.statefile import StateFile

    lag_min, lag_max = args.lag
    host = args.host[1:-1] if args.host.startswith("[") and args.host.endswith("]") else args.host
    if args.admin_token:
        print(
            "dsco-sandbox: note: --admin-token shows in `ps` to every user of this machine; "
            "set DSCO_SANDBOX_ADMIN_TOKEN in the environment instead",
            file=sys.stderr,
        )
    admin_token = args.admin_token or os.environ.get("DSCO_SANDBOX_ADMIN_TOKEN") or None
    try:
        settings = SandboxConfig(
            seed=args.seed,
            page_size=args.page_size,
            lag_min=lag_min,
            lag_max=lag_max,
            rate_limit=not args.no_rate_limit,
            validate_responses=args.validate_responses,
        )
    except InvalidRequest as error:
        print(f"dsco-sandbox: cannot start: {error}", file=sys.stderr)
        return 2
    config = ServerConfig(
        sandbox=settings,
        world_path=args.world,
        admin_token=admin_token,
        state_file=args.state_file,
        loopback_only=_is_loopback(host),
        personas_file=args.personas,
        persona_options=tuple(args.persona),
        state_sync=args.state_sync,
    )
    problem = address_problem(host, args.port)
    if problem is not None:
        print(f"dsco-sandbox: cannot serve: {problem}", file=sys.stderr)
        return 2
    if not (_is_loopback(host) or resolves_to_loopback(host)) and not admin_token:
        print(
            f"dsco-sandbox: refusing to serve on {args.host}: the control plane (/_sandbox) could then be "
            "reached by anyone on the network; set DSCO_SANDBOX_ADMIN_TOKEN (or pass --admin-token) to "
            "require a token for it",
            file=sys.stderr,
        )
        return 2
    problem = StateFile(args.state_file).problem() if args.state_file else None
    if problem is not None:
        print(f"dsco-sandbox: cannot serve: --state-file {problem}", file=sys.stderr)
        return 2
    problem = store_problem(args)
    if problem is not None:
        print(f"dsco-sandbox: cannot serve: {problem}", file=sys.stderr)
        return 2
    try:
        app = (
            create_app(config)
            if args.max_namespaces == 0
            else create_server_app(
                config,
                NamespaceOptions(
                    cap=args.max_namespaces,
                    default_ttl=args.namespace_ttl,
                    allow_webhook_hosts=args.allow_webhook_hosts,
                    store=_namespace_store(args.state_file, args.state_sync),
                ),
            )
        )
    except (WorldFileError, PersonaFileError) as exc:
        print(f"dsco-sandbox: cannot start:\n{exc}", file=sys.stderr)
        return 2
    if args.log:
        log_calls(app.extensions["dsco_sandbox"], sys.stderr)
    try:
        if args.store is not None:
            # Imported only here: it brings in the Redis client (about 100 modules), which a
            # sandbox without --store would load at every start and never use.
            from ..http.workers import serve_workers, share_app

            share_app(app, args.store, args.redis_prefix, args.redis_snapshot_every)
            return serve_workers(app, host, args.port, args.workers, threads=args.threads or 8)
        if args.server == "waitress":
            return serve(app, host=host, port=args.port, threads=args.threads or 8)
        return serve_granian(app, host=host, port=args.port, threads=args.threads or 1)
    except (PortInUse, WorldFileError) as exc:  # the address, or the shared store (SharedStoreError)
        print(f"dsco-sandbox: cannot serve: {exc}", file=sys.stderr)
        return 2
    except ServerUnavailable as exc:
        print(f"dsco-sandbox: cannot serve with {args.server}: {exc}", file=sys.stderr)
        return 2


def _namespace_store(state_file: Path | None, sync: str) -> NamespaceStore | None:
    """Where namespaces are kept: in the state database itself, or a folder beside a JSON state file."""
    from ..storage.namespace_db import NamespaceDatabase
    from ..storage.namespace_store import NamespaceFolder
    from ..storage.statedb import is_database_path

    if state_file is None:
        return None
    if is_database_path(state_file):
        return NamespaceDatabase(state_file, sync=sync)
    return NamespaceFolder.beside(state_file)


def _is_loopback(host: str) -> bool:
    from ..webhooks import is_loopback_host

    return is_loopback_host(host)
