"""Namespaces at scale: what an empty namespace costs, and whether many slow down any one of them.

One ``dsco-sandbox serve`` (loopback, pinned to CPU 0) gets --namespaces empty namespaces. Measured:

* memory per empty namespace: the server's RSS growth over the creations, divided by their count
  (and the server's own estimate, ``memoryBytes`` of GET /_sandbox/namespaces/{name}, beside it);
* POST /_sandbox/namespaces latency (median);
* createConversation latency in the first namespace and in the last one (medians over --calls
  calls each, in alternating rounds so that drift in the machine's load hits both alike), and
  their ratio; the target is at most 1.2: finding a namespace must not depend on how many exist.

Usage: python bench/namespaces.py [--namespaces 1000] [--calls 400] [--smoke] [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import (
    CREATE_BODY,
    RESULTS,
    Http,
    clean,
    load_average,
    median,
    print_machine,
    rss_mb,
    start_sandbox,
    table,
    verdict,
    write_results,
)

RETAILER = {"Authorization": "bearer retailer-demo-token"}
ROUNDS = 10


def _name(index: int) -> str:
    return f"ns-{index:05d}"


def create_namespaces(client: Http, count: int) -> list[float]:
    samples = []
    for index in range(1, count + 1):
        started = time.perf_counter()
        status, body = client.call("POST", "/_sandbox/namespaces", {"name": _name(index)})
        samples.append((time.perf_counter() - started) * 1000)
        assert status == 201, (status, body)
    return samples


def create_latency(client: Http, first: str, last: str, calls: int) -> dict[str, list[float]]:
    """createConversation in ``first`` and ``last``, alternating rounds of calls/ROUNDS each."""
    samples: dict[str, list[float]] = {first: [], last: []}
    per_round = max(1, calls // ROUNDS)
    for _ in range(ROUNDS):
        for name in (first, last):
            path = f"/ns/{name}/api/v3/conversation"
            for _ in range(per_round):
                started = time.perf_counter()
                status, body = client.call("POST", path, CREATE_BODY, RETAILER)
                samples[name].append((time.perf_counter() - started) * 1000)
                assert status == 201, (status, body)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=400, help="createConversation calls per namespace")
    parser.add_argument("--smoke", action="store_true", help="20 namespaces, 40 calls each")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.smoke:
        args.namespaces, args.calls = 20, 40
    info = print_machine()
    started = time.perf_counter()
    server = start_sandbox(
        "namespaces",
        args.results_dir / "logs",
        "--no-rate-limit",
        "--lag",
        "0,0",
        "--max-namespaces",
        str(args.namespaces),
    )
    client = Http(server.base_url)
    try:
        time.sleep(1.0)
        rss_before = rss_mb(server.pid)
        creations = create_namespaces(client, args.namespaces)
        time.sleep(1.0)
        rss_after = rss_mb(server.pid)
        estimates = {}
        for name in (_name(1), _name(args.namespaces)):
            status, body = client.call("GET", f"/_sandbox/namespaces/{name}")
            assert status == 200, (status, body)
            estimates[name] = body["memoryBytes"]
        first, last = _name(1), _name(args.namespaces)
        latency = create_latency(client, first, last, args.calls)
    finally:
        client.close()
        server.stop()
    per_namespace_kb = (rss_after - rss_before) * 1024 / args.namespaces
    first_ms, last_ms = median(latency[first]), median(latency[last])
    ratio = last_ms / first_ms
    found = [
        {
            "figure": f"RSS growth per empty namespace ({args.namespaces} created)",
            "value": per_namespace_kb,
            "unit": "KiB",
            "target": "-",
            "verdict": "n/a",
        },
        {
            "figure": "memoryBytes the server reports for an empty namespace",
            "value": estimates[last] / 1024,
            "unit": "KiB",
            "target": "-",
            "verdict": "n/a",
        },
        {
            "figure": "POST /_sandbox/namespaces (median)",
            "value": median(creations),
            "unit": "ms",
            "target": "-",
            "verdict": "n/a",
        },
        {
            "figure": f"createConversation in namespace 1 (median of {len(latency[first])})",
            "value": first_ms,
            "unit": "ms",
            "target": "-",
            "verdict": "n/a",
        },
        {
            "figure": f"createConversation in namespace {args.namespaces} (median of {len(latency[last])})",
            "value": last_ms,
            "unit": "ms",
            "target": "-",
            "verdict": "n/a",
        },
        {
            "figure": f"namespace {args.namespaces} / namespace 1, createConversation",
            "value": ratio,
            "unit": "x",
            "target": "<= 1.2 x",
            "verdict": verdict(ratio <= 1.2),
        },
    ]
    print()
    print(
        table(
            ["figure", "value", "target", "verdict"],
            [[t["figure"], f"{t['value']:.3f} {t['unit']}", t["target"], t["verdict"]] for t in found],
            "Namespaces",
        )
    )
    print(f"  server RSS: {rss_before:.1f} MB idle, {rss_after:.1f} MB with {args.namespaces} namespaces")
    elapsed = time.perf_counter() - started
    print(f"\nnamespaces took {elapsed:.0f} s")
    write_results(
        args.results_dir,
        "namespaces",
        clean(
            {
                "machine": info,
                "settings": {"namespaces": args.namespaces, "calls": args.calls, "smoke": args.smoke},
                "rss_mb": {"idle": rss_before, "with_namespaces": rss_after},
                "create_namespace_ms": creations,
                "memory_bytes_reported": estimates,
                "create_conversation_ms": latency,
                "targets": found,
                "elapsed_s": elapsed,
                "load_average_at_end": load_average(),
            }
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
