"""Start-up and reset: what a test suite pays to get a fresh sandbox.

* ``dsco-sandbox serve`` from process start to the first healthy answer of GET /_sandbox/health
  (median of --starts), and its RSS once idle;
* the per-test reset with a few hundred conversations present: POST /_sandbox/reset over HTTP
  (round trip on a keep-alive connection) and ``Sandbox.reset()`` in-process (medians).

Usage: python bench/startup.py [--starts 5] [--conversations 300] [--resets 20] [--smoke]
                               [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

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


def serve_starts(starts: int, log_dir: Path) -> dict[str, Any]:
    """Start serve ``starts`` times (default settings), timing process start -> healthy answer."""
    times, idle = [], []
    for _ in range(starts):
        server = start_sandbox("startup-serve", log_dir, timeout=30)
        try:
            assert server.ready_s is not None
            times.append(server.ready_s)
            time.sleep(1.0)  # idle: whatever start-up left behind, after it settles
            idle.append(rss_mb(server.pid))
        finally:
            server.stop()
    return {
        "health_s": times,
        "health_s_median": median(times),
        "idle_rss_mb": idle,
        "idle_rss_mb_median": median(idle),
    }


def http_reset(conversations: int, resets: int, log_dir: Path) -> dict[str, Any]:
    server = start_sandbox("startup-reset", log_dir, "--no-rate-limit")
    client = Http(server.base_url)
    samples = []
    try:
        for _ in range(resets):
            for _ in range(conversations):
                status, body = client.call("POST", "/api/v3/conversation", CREATE_BODY, RETAILER)
                assert status == 201, (status, body)
            started = time.perf_counter()
            status, body = client.call("POST", "/_sandbox/reset")
            samples.append((time.perf_counter() - started) * 1000)
            assert status == 200, (status, body)
        status, body = client.call("GET", "/_sandbox/state")
        assert status == 200 and body["conversations"] == [], "reset left conversations behind"
    finally:
        client.close()
        server.stop()
    return {"ms": samples, "ms_median": median(samples)}


def domain_reset(conversations: int, resets: int) -> dict[str, Any]:
    from simulator.contract.validation import Contract
    from simulator.domain.config import SandboxConfig
    from simulator.loading.bootstrap import build_sandbox

    sandbox = build_sandbox(Contract(), SandboxConfig(rate_limit=False))
    retailer = sandbox.world.account("1000001")
    assert retailer is not None
    samples = []
    for _ in range(resets):
        for _ in range(conversations):
            sandbox.call("createConversation", retailer, CREATE_BODY)
        assert sandbox.store.counts() == (conversations, conversations)
        started = time.perf_counter()
        sandbox.reset()
        samples.append((time.perf_counter() - started) * 1000)
        assert sandbox.store.counts() == (0, 0)
    return {"ms": samples, "ms_median": median(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--conversations", type=int, default=300, help="conversations present at each reset")
    parser.add_argument("--resets", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="1 start, 3 resets of 20 conversations")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.smoke:
        args.starts, args.conversations, args.resets = 1, 20, 3
    info = print_machine()
    started = time.perf_counter()
    log_dir = args.results_dir / "logs"
    starts = serve_starts(args.starts, log_dir)
    over_http = http_reset(args.conversations, args.resets, log_dir)
    in_process = domain_reset(args.conversations, args.resets)
    found = [
        {
            "figure": f"serve: process start to healthy GET /_sandbox/health (median of {args.starts})",
            "value": starts["health_s_median"],
            "unit": "s",
            "target": "< 1 s",
            "verdict": verdict(starts["health_s_median"] < 1.0),
        },
        {
            "figure": "serve: idle RSS after start (median)",
            "value": starts["idle_rss_mb_median"],
            "unit": "MB",
            "target": "< 80 MB",
            "verdict": verdict(starts["idle_rss_mb_median"] < 80),
        },
        {
            "figure": f"reset over HTTP, {args.conversations} conversations present "
            f"(median of {args.resets})",
            "value": over_http["ms_median"],
            "unit": "ms",
            "target": "< 5 ms",
            "verdict": verdict(over_http["ms_median"] < 5),
        },
        {
            "figure": f"Sandbox.reset() in-process, {args.conversations} conversations present (median)",
            "value": in_process["ms_median"],
            "unit": "ms",
            "target": "< 5 ms",
            "verdict": verdict(in_process["ms_median"] < 5),
        },
    ]
    print()
    print(
        table(
            ["figure", "value", "target", "verdict"],
            [[t["figure"], f"{t['value']:.3f} {t['unit']}", t["target"], t["verdict"]] for t in found],
            "Start-up and reset",
        )
    )
    print(f"  start-up times: {', '.join(f'{s:.2f}' for s in starts['health_s'])} s")
    elapsed = time.perf_counter() - started
    print(f"\nstartup took {elapsed:.0f} s")
    write_results(
        args.results_dir,
        "startup",
        clean(
            {
                "machine": info,
                "settings": {
                    "starts": args.starts,
                    "conversations": args.conversations,
                    "resets": args.resets,
                    "smoke": args.smoke,
                },
                "serve": starts,
                "reset_http": over_http,
                "reset_in_process": in_process,
                "targets": found,
                "elapsed_s": elapsed,
                "load_average_at_end": load_average(),
            }
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
