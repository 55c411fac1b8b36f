"""Tail latency of a write load under different cycle-collector settings: how GEN0_THRESHOLD was chosen.

Two ways, each variant in a fresh process:

* in process (the default): ``--calls`` createConversation calls through the Flask test client (the
  whole HTTP pipeline but the socket), one after another, over a store preloaded with
  ``--preload`` messages. It records every call's CPU time and every collection's pause (by
  generation, through ``gc.callbacks``), both as CPU time of the calling thread. On a machine
  shared with other work this is the figure to trust: a pause is the collector's own work, where
  a served p99 also holds the queueing of 16 connections behind whatever else the machine runs.
* ``--http``: each variant is ``dsco-sandbox serve`` (waitress, 8 threads, or ``--server
  granian``) started with the collector policy of ``simulator/http/gc_policy.py`` replaced as the
  variant says, pinned to CPU 0;
``wrk -t1 -c16`` on CPU 1 sends createConversation for ``--duration`` seconds. The store grows
through the run, so its full collections walk more and more: a longer run shows more of them.
Variants go round-robin for ``--repeat`` rounds; each figure is the median over its rounds.

* ``cpython``: the policy not installed (CPython's thresholds 700/10/10, nothing frozen);
* ``off``: the collector disabled (the floor, not an option for a long-running server);
* ``freeze-N``: the policy as shipped, with a generation-0 threshold of N.

Usage: python bench/collector.py [--calls 30000] [--preload 100000] [--repeat 2]
                                 [--variants cpython,off,freeze-700,freeze-50000]
       python bench/collector.py --http [--duration 8] [--server waitress|granian]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time

from _common import (
    PYTHON,
    answers,
    free_port,
    load_average,
    median,
    pinned,
    rss_mb,
    start_server,
    table,
)
from http_throughput import LUA, find_wrk, run_wrk

DEFAULT_VARIANTS = "cpython,off,freeze-700,freeze-10000,freeze-50000,freeze-100000"

_LAUNCH = """
import gc, sys
from simulator.http import gc_policy
variant = sys.argv[1]
if variant in ("cpython", "off"):
    gc_policy.CollectorPolicy.install = lambda self: gc.disable() if variant == "off" else None
else:
    gc_policy.GEN0_THRESHOLD = int(variant.removeprefix("freeze-"))
from simulator.cli import main
sys.exit(main(sys.argv[2:]))
"""


_IN_PROCESS = """
import gc, json, sys, time
sys.path.insert(0, sys.argv[4])
from _common import CREATE_BODY
from simulator.loading.bootstrap import build_sandbox
from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig, create_app
from simulator.http import gc_policy

variant, calls, preload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
config = SandboxConfig(rate_limit=False, validate_responses=False)
contract = Contract()
sandbox = build_sandbox(contract, config)
app = create_app(ServerConfig(sandbox=config), sandbox=sandbox, contract=contract)
client = app.test_client()
retailer, supplier = sandbox.world.account("1000001"), sandbox.world.account("2000001")
gc.disable()
for number in range(preload // 10):  # conversations of 10 messages, as bench/scaling.py stores
    first = sandbox.call("createConversation", retailer, CREATE_BODY)
    for reply in range(9):
        sandbox.call("addConversationMessage", supplier if reply % 2 == 0 else retailer,
                     {"dscoConversationId": first["id"], "message": "Shipped today, tracking follows."})
gc.enable()
if variant == "off":
    gc.disable()
elif variant != "cpython":
    gc_policy.CollectorPolicy(int(variant.removeprefix("freeze-"))).install()
# CPU time of this thread (time.thread_time), not wall time: on a machine shared with other work
# the process is descheduled at random, which wall time would charge to whatever was running.
pauses = {0: [], 1: [], 2: []}
began = [0.0]
def watch(phase, info):
    if phase == "start":
        began[0] = time.thread_time()
    else:
        pauses[info["generation"]].append(time.thread_time() - began[0])
gc.callbacks.insert(0, watch)
auth = {"Authorization": "bearer retailer-demo-token"}
times = []
for _ in range(calls):
    start = time.thread_time()
    answer = client.post("/api/v3/conversation", json=CREATE_BODY, headers=auth)
    times.append(time.thread_time() - start)
    assert answer.status_code == 201, answer.get_data(as_text=True)
times.sort()
every = [pause for generation in pauses.values() for pause in generation]
print("RESULT " + json.dumps({
    "cpu_p50_us": times[len(times) // 2] * 1e6,
    "cpu_p99_us": times[int(len(times) * 0.99)] * 1e6,
    "cpu_p999_us": times[int(len(times) * 0.999)] * 1e6,
    "cpu_max_ms": times[-1] * 1e3,
    "cpu_mean_us": sum(times) / len(times) * 1e6,
    "collections": len(every),
    "full_collections": len(pauses[2]),
    "max_pause_ms": max(every, default=0) * 1e3,
    "max_full_ms": max(pauses[2], default=0) * 1e3,
    "gc_ms_total": sum(every) * 1e3,
}))
"""


def measure_in_process(variant: str, calls: int, preload: int) -> dict[str, float]:
    done = subprocess.run(
        pinned(0, [PYTHON, "-c", _IN_PROCESS, variant, str(calls), str(preload), str(LUA.parent)]),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{variant} failed: {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(line.removeprefix("RESULT "))
    return result


def measure(variant: str, server: str, duration: float, wrk: str) -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [PYTHON, "-c", _LAUNCH, variant, "serve", "--no-rate-limit", "--port", str(port)]
    if server == "granian":
        command += ["--server", "granian"]
    process = start_server(
        f"collector-{variant}",
        pinned(0, command),
        base,
        answers("GET", "/_sandbox/health"),
        LUA.parent / "results" / "logs",
    )
    try:
        env = {"BENCH_PREFIX": "/api/v3", "BENCH_AUTH": "bearer retailer-demo-token"}
        run = run_wrk(wrk, base, "createConversation", env, duration, process.pid)
        return {
            "rps": run["rps"],
            "p50_ms": run["p50_us"] / 1000,
            "p99_ms": run["p99_us"] / 1000,
            "max_ms": run["max_us"] / 1000,
            "rss_mb": rss_mb(process.pid),
        }
    finally:
        process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", action="store_true", help="served, with wrk (see above)")
    parser.add_argument("--calls", type=int, default=30_000, help="in process: calls per variant")
    parser.add_argument("--preload", type=int, default=100_000, help="in process: messages stored first")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--server", choices=("waitress", "granian"), default="waitress")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument(
        "--smoke", action="store_true", help="in process, 300 calls over 100 messages, 2 variants"
    )
    args = parser.parse_args()
    if args.smoke:
        args.http, args.calls, args.preload, args.repeat = False, 300, 100, 1
        args.variants = "cpython,freeze-700"
    if not args.http:
        in_process(args)
        return
    wrk, why = find_wrk(install=True)
    if wrk is None:
        raise SystemExit(f"cannot measure: {why}")
    variants = args.variants.split(",")
    print(f"load average at start: {load_average()}", flush=True)
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    for round_number in range(args.repeat):
        for variant in variants:
            run = measure(variant, args.server, args.duration, wrk)
            runs[variant].append(run)
            print(
                f"round {round_number + 1} {variant:<14} {run['rps']:7.0f} req/s  p50 {run['p50_ms']:6.2f} ms"
                f"  p99 {run['p99_ms']:7.2f} ms  max {run['max_ms']:7.1f} ms  RSS {run['rss_mb']:.0f} MB",
                flush=True,
            )
            time.sleep(0.5)
    print(f"load average at end: {load_average()}")
    rows = [
        [
            v,
            *(
                f"{median(r[k] for r in runs[v]):,.2f}"
                for k in ("rps", "p50_ms", "p99_ms", "max_ms", "rss_mb")
            ),
        ]
        for v in variants
    ]
    title = f"createConversation on {args.server}, {args.repeat} x {args.duration:.0f} s, medians"
    print(table(["variant", "req/s", "p50 ms", "p99 ms", "max ms", "RSS MB"], rows, title))


def in_process(args: argparse.Namespace) -> None:
    variants = args.variants.split(",")
    print(f"load average at start: {load_average()}", flush=True)
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    for round_number in range(args.repeat):
        for variant in variants:
            run = measure_in_process(variant, args.calls, args.preload)
            runs[variant].append(run)
            print(
                f"round {round_number + 1} {variant:<14} "
                + json.dumps({k: round(v, 2) for k, v in run.items()}),
                flush=True,
            )
    print(f"load average at end: {load_average()}")
    keys = (
        "cpu_mean_us",
        "cpu_p50_us",
        "cpu_p99_us",
        "cpu_p999_us",
        "cpu_max_ms",
        "collections",
        "full_collections",
        "max_pause_ms",
        "gc_ms_total",
    )
    rows = [[v, *(f"{median(r[k] for r in runs[v]):,.1f}" for k in keys)] for v in variants]
    title = (
        f"createConversation through the test client, {args.calls:,} calls over {args.preload:,} stored "
        f"messages, medians of {args.repeat}"
    )
    print(table(["variant", *keys], rows, title))


if __name__ == "__main__":
    main()
