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

Usage: python bench/redis_workers.py [--duration 3] [--workers 1,2,4] [--sequential 300]
                                     [--results-dir DIR]
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
    parser.add_argument("--results-dir", type=Path)
    args = parser.parse_args()
    wrk, redis_server = shutil.which("wrk"), shutil.which("redis-server")
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
    stacks: list[tuple[str, list[str]]] = [("memory, 1 process", [])]
    for count in (int(n) for n in args.workers.split(",")):
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
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    headers = ["stack", "create/s", "list page/s", "create p50 ms", "one create at a time, ms", "errors"]
    print(table(headers, rows, title=f"wrk -t1 -c16, {args.duration:g} s per operation"))
    memory = results["stacks"]["memory, 1 process"]["sequential_create_ms"]
    one = next((r for n, r in results["stacks"].items() if n == "redis, 1 worker"), None)
    if one is not None:
        added = one["sequential_create_ms"] - memory
        results["redis_added_ms_per_call"] = added
        print(f"latency Redis adds to one call (one client, keep-alive): {added:.2f} ms")
    if args.results_dir:
        write_results(args.results_dir, "redis_workers", results)
    return 0


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
