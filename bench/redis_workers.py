"""One sandbox on Redis served by 1, 2 and 4 worker processes, beside one in-memory process.

For each stack: ``dsco-sandbox serve --no-rate-limit`` (memory), then ``serve --store redis://...
--workers N --max-namespaces 0 --no-rate-limit`` for each N, all against a redis-server started
here on a free loopback port in a temporary folder (no persistence: ``--save ''``). Each stack is
seeded with 100 conversations (bench/http_throughput.py's seed), then loaded with ``wrk -t1 -c16``
for ``--duration`` seconds per operation: createConversation, and getConversations' first page
of 100 items. Then the latency of one call at a time (one keep-alive client, ``--sequential``
creates): what Redis adds per call is the difference between the memory process and one worker.

Nothing is pinned: the workers and Redis need every core there is, and the load generator shares
them too, so on a 2-core machine the figures say what 2 cores allow, not how far workers scale.

Then what starting a worker costs after ``--startup-calls`` creates (in this process, through the
Flask test client): with a snapshot every quarter of them (it imports the last) and without
snapshots (it replays the whole log), what one snapshot costs (the time the lock is held for it,
then its encoding after the release, both paid by the call that reaches the mark, whose latency is
the slowest call's), and how many entries Redis keeps. ``--startup-only``
skips the wrk runs (and needs no wrk).

Usage: python bench/redis_workers.py [--duration 3] [--workers 1,2,4] [--sequential 300]
                                     [--startup-calls 10000] [--startup-only] [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Http, answers, free_port, print_machine, start_server, table, write_results
from http_throughput import CREATE_BODY, RETAILER, run_wrk, seed_sandbox

OPERATIONS = ("createConversation", "getConversations")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--startup-calls", type=int, default=10_000)
    parser.add_argument("--startup-only", action="store_true")
    parser.add_argument("--results-dir", type=Path)
    args = parser.parse_args()
    wrk, redis_server = shutil.which("wrk"), shutil.which("redis-server")
    if args.startup_only:
        wrk = wrk or "unused"
    if wrk is None or redis_server is None:
        print("needs wrk and redis-server on PATH (apt-get install wrk redis-server)", file=sys.stderr)
        return 2
    machine = print_machine()
    folder = Path(tempfile.mkdtemp(prefix="dsco-bench-redis-"))
    redis_port = free_port()
    redis = subprocess.Popen(
        [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    stacks: list[tuple[str, list[str]]] = [] if args.startup_only else [("memory, 1 process", [])]
    for count in (int(n) for n in args.workers.split(",") if not args.startup_only):
        url = f"redis://127.0.0.1:{redis_port}/0"
        options = ["--store", url, "--redis-prefix", f"bench-{count}:", "--max-namespaces", "0"]
        stacks.append(
            (f"redis, {count} worker{'s' if count > 1 else ''}", [*options, "--workers", str(count)])
        )
    rows: list[list[Any]] = []
    results: dict[str, Any] = {"machine": machine, "stacks": {}}
    try:
        for name, options in stacks:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            command = [
                sys.executable,
                "-m",
                "simulator",
                "serve",
                "--port",
                str(port),
                "--no-rate-limit",
                *options,
            ]
            server = start_server(name, command, base, answers("GET", "/_sandbox/clock"), folder / "logs")
            try:
                env = {"BENCH_PREFIX": "/api/v3", "BENCH_AUTH": RETAILER["Authorization"]}
                env.update(seed_sandbox(base))
                record: dict[str, Any] = {}
                for operation in OPERATIONS:
                    run = run_wrk(wrk, base, operation, env, args.duration, server.pid)
                    record[operation] = {k: run[k] for k in ("rps", "p50_us", "p99_us", "errors", "requests")}
                record["sequential_create_ms"] = _sequential(base, args.sequential)
                results["stacks"][name] = record
                rows.append(
                    [
                        name,
                        f"{record['createConversation']['rps']:.0f}",
                        f"{record['getConversations']['rps']:.0f}",
                        f"{record['createConversation']['p50_us'] / 1000:.1f}",
                        f"{record['sequential_create_ms']:.2f}",
                        record["createConversation"]["errors"] + record["getConversations"]["errors"],
                    ]
                )
            finally:
                server.stop()
        if args.startup_calls > 0:
            results["startup"] = _startup(f"redis://127.0.0.1:{redis_port}/0", args.startup_calls)
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    if rows:
        headers = ["stack", "create/s", "list page/s", "create p50 ms", "one create at a time, ms", "errors"]
        print(table(headers, rows, title=f"wrk -t1 -c16, {args.duration:g} s per operation"))
    startup = results.get("startup", {})
    if startup:
        headers = ["", "start a worker, ms", "entries replayed", "snapshots loaded", "log entries kept"]
        headers += ["snapshot: locked, ms", "then encoded, ms", "MB", "slowest call, ms"]
        keys = ["start_ms", "replayed", "loaded", "log_entries", "snapshot_held_ms", "snapshot_encoded_ms"]
        keys += ["snapshot_mb", "slowest_call_ms"]
        cells = [[name, *(record.get(key, "-") for key in keys)] for name, record in startup.items()]
        print(table(headers, cells, title=f"starting a worker after {args.startup_calls} creates"))
    memory = results["stacks"].get("memory, 1 process", {}).get("sequential_create_ms")
    one = next((r for n, r in results["stacks"].items() if n == "redis, 1 worker"), None)
    if one is not None and memory is not None:
        added = one["sequential_create_ms"] - memory
        results["redis_added_ms_per_call"] = added
        print(f"latency Redis adds to one call (one client, keep-alive): {added:.2f} ms")
    if args.results_dir:
        write_results(args.results_dir, "redis_workers", results)
    return 0


def _startup(url: str, calls: int) -> dict[str, dict[str, Any]]:
    """Start a worker after ``calls`` creates, with a snapshot every quarter of them and without."""
    from simulator.domain.config import SandboxConfig
    from simulator.http import ServerConfig, create_app
    from simulator.http.workers import share_app

    def worker(prefix: str, every: int) -> tuple[Any, Any]:
        app = create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False)))
        return app, share_app(app, url, prefix, every)

    found: dict[str, dict[str, Any]] = {}
    for name, every in ((f"a snapshot every {calls // 4}", calls // 4), ("no snapshots", 0)):
        prefix = f"bench-start-{every}:"
        app, replica = worker(prefix, every)
        client = app.test_client()
        slowest = 0.0
        for _ in range(calls):
            started = time.perf_counter()
            answer = client.post("/api/v3/conversation", json=CREATE_BODY, headers=RETAILER)
            slowest = max(slowest, time.perf_counter() - started)
            assert answer.status_code == 201, answer.get_data(as_text=True)
        record: dict[str, Any] = {"slowest_call_ms": round(slowest * 1000, 1)}
        if every:
            with replica.sandbox.lock:  # what the hold that reaches the mark spends on it
                started = time.perf_counter()
                encode = replica._take_snapshot()
                record["snapshot_held_ms"] = round((time.perf_counter() - started) * 1000, 1)
            started = time.perf_counter()  # and what its call spends after releasing the lock
            text = encode()
            record["snapshot_encoded_ms"] = round((time.perf_counter() - started) * 1000, 1)
            record["snapshot_mb"] = round(len(text) / 1e6, 2)
        record["log_entries"] = replica.link.client.llen(replica.keys.log)
        _, fresh = worker(prefix, every)
        started = time.perf_counter()
        with fresh.sandbox.lock:  # the first hold catches up
            pass
        record.update(start_ms=round((time.perf_counter() - started) * 1000, 1))
        record.update(replayed=fresh.replayed, loaded=fresh.loaded)
        found[name] = record
        replica.link.forget("default")
    return found


def _sequential(base: str, count: int) -> float:
    """Mean milliseconds of one create at a time, over one keep-alive connection."""
    client = Http(base)
    try:
        client.call("POST", "/api/v3/conversation", CREATE_BODY, RETAILER)  # warm
        started = time.perf_counter()
        for _ in range(count):
            status, body = client.call("POST", "/api/v3/conversation", CREATE_BODY, RETAILER)
            assert status == 201, (status, body)
        return (time.perf_counter() - started) * 1000 / count
    finally:
        client.close()


if __name__ == "__main__":
    raise SystemExit(main())
