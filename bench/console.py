"""How long the console's conversation list takes to render with 10^4 conversations.

One sandbox is built in this process through the domain API (``Sandbox.call``, rate limit off, no
post-processing lag, the clock frozen and advanced 1 ms per conversation): N customer-care
conversations of one retailer with its two suppliers, every tenth one closed. Then each page below
is fetched many times through the Flask test client (the whole request pipeline, templates
included, minus the socket), and its median and 95th percentile are reported:

* the first page of everything the retailer sees (what opening the console shows);
* a page deep in the list (the last one);
* a filtered page (closed customer-care conversations about one order);
* a search by reference id (one match among N).

Target: under 200 ms per page at 10^4 conversations.

Usage: python bench/console.py [--conversations 10000] [--calls 30] [--smoke] [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from _common import RESULTS, clean, percentile, print_machine, table, verdict, write_results

from simulator.domain.clock import seconds
from simulator.domain.config import SandboxConfig
from simulator.domain.sandbox import Sandbox
from simulator.http import ServerConfig, create_app

TARGET_MS = 200.0
RETAILER = "1000001"
PARTNERS = ("aaa-bbb-ccc", "ddd-eee-fff")


def build(count: int) -> Any:
    config = SandboxConfig(rate_limit=False, lag_min=0, lag_max=0, journal_size=10)
    app = create_app(ServerConfig(sandbox=config))
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    sandbox.clock.freeze()
    retailer = sandbox.world.account(RETAILER)
    assert retailer is not None
    started = time.perf_counter()
    for n in range(count):
        body: dict[str, Any] = {
            "title": f"Question {n}",
            "otherPartyTradingPartnerId": PARTNERS[n % 2],
            "type": {"type": "customer_care", "consumerId": f"consumer-{n % 500}"},
            "referenceId": f"CASE-{n:06d}",
            "initialMessage": {"message": "Where is my parcel?"},
        }
        if n % 6 == 0:  # with the first partner, who fulfils that order
            body["context"] = {"type": "order", "poNumber": "123-456-789"}
        created = sandbox.call("createConversation", retailer, body)
        if n % 10 == 0:
            closing = {"dscoConversationId": created["id"], "status": "closed"}
            sandbox.call("updateConversation", retailer, closing)
        sandbox.clock.advance(seconds(0.001))
    print(f"built {count} conversations in {time.perf_counter() - started:.1f} s")
    return app


def measure(app: Any, path: str, calls: int) -> dict[str, Any]:
    client = app.test_client()
    first = client.get(path)
    assert first.status_code == 200, (path, first.status_code, first.get_data(as_text=True)[:300])
    rows = first.get_data(as_text=True).count("<tr>") - 1
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    timings.sort()
    return {
        "path": path,
        "rows": rows,
        "median_ms": statistics.median(timings),
        "p95_ms": percentile(timings, 0.95),
        "calls": calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="200 conversations, 3 calls per page")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    count, calls = (200, 3) if args.smoke else (args.conversations, args.calls)
    machine = print_machine()
    app = build(count)
    base = f"/console/conversations?as={RETAILER}"
    last_page = -(-count // 25)
    pages = {
        "first page": base,
        "last page": f"{base}&page={last_page}",
        "filtered": f"{base}&status=closed&kind=customer_care&context=order&q=123-456-789",
        "search": f"{base}&q=CASE-{count // 2:06d}",
    }
    found = {name: measure(app, path, calls) for name, path in pages.items()}
    rows = [
        (name, r["rows"], r["median_ms"], r["p95_ms"], verdict(r["median_ms"] < TARGET_MS))
        for name, r in found.items()
    ]
    print(
        table(
            ("page", "rows", "median ms", "p95 ms", f"< {TARGET_MS:.0f} ms"),
            rows,
            f"Console conversation list, {count} conversations",
        )
    )
    worst = max(r["median_ms"] for r in found.values())
    print(f"target: every page under {TARGET_MS:.0f} ms (median) -> {verdict(worst < TARGET_MS)}")
    write_results(
        args.results_dir,
        "console",
        clean({"machine": machine, "conversations": count, "target_ms": TARGET_MS, "pages": found}),
    )


if __name__ == "__main__":
    main()
