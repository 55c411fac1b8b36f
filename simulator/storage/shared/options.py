"""``serve``'s flags for a shared store, and the combinations refused before anything starts.

Kept apart from the serving code so that parsing the command line imports neither Flask nor redis.
"""

from __future__ import annotations

from typing import Any

SNAPSHOT_EVERY = 10_000
"""Log entries between two snapshots of a shared sandbox (``--redis-snapshot-every``; 0: never,
the log grows). A snapshot costs the call that reaches the mark one export of the state (encoded
after the lock is released), and Redis keeps at most two intervals of entries;
bench/redis_workers.py measures both sides."""


def add_store_options(serve: Any) -> None:
    """``serve``'s flags for a shared store (an ``argparse`` parser)."""
    serve.add_argument(
        "--store",
        metavar="URL",
        help="keep the sandbox's state, and its namespaces', in Redis (redis://[user:password@]host:port/db, "
        "or rediss:// for TLS) so that several worker processes, on one host or many, serve them (default: "
        "in memory); see README, One sandbox, many workers",
    )
    serve.add_argument(
        "--redis-prefix",
        default="dsco-sandbox:",
        metavar="PREFIX",
        help="with --store: the prefix of every key the sandbox writes (default: %(default)s)",
    )
    serve.add_argument(
        "--redis-snapshot-every",
        type=int,
        default=SNAPSHOT_EVERY,
        metavar="N",
        help="with --store: snapshot the whole state every N calls and trim the log before the "
        "previous snapshot, so a worker starts from a snapshot and Redis' memory stays bounded "
        "(0: never; default: %(default)s)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="with --store: serve with N worker processes sharing one socket (default: %(default)s)",
    )


def store_problem(args: Any) -> str | None:
    """Why the shared-store flags of ``serve`` cannot be used together, or None."""
    if args.workers < 1:
        return f"--workers {args.workers}: expected 1 or more"
    if args.redis_snapshot_every < 0:
        return f"--redis-snapshot-every {args.redis_snapshot_every}: expected 0 (never) or more"
    if args.store is None:
        if args.workers > 1:
            return (
                "--workers needs a shared store: one process holds the state in its memory, so a "
                "second one would serve another sandbox; add --store redis://HOST:PORT/DB"
            )
        return None
    if not args.store.startswith(("redis://", "rediss://")):
        return f"--store {args.store}: expected a redis:// or rediss:// URL"
    if args.state_file is not None:
        return "--store and --state-file are exclusive: the state lives in one place (keep one of them)"
    if args.server != "waitress":
        return "--store is served by waitress workers (--workers N); leave out --server granian"
    return None
