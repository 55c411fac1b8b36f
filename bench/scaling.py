"""How per-call latency and memory grow with the number of stored messages.

For 10^3, 10^4, 10^5 and 10^6 stored messages, one sandbox per size is built in this process
through the domain API (``Sandbox.call``, rate limit off, clock frozen and advanced 1 ms per message;
conversations of 10 messages, retailer and supplier taking turns; the RSS growth of each build is
its memory). Then the latency of many calls is measured, both through the ``Sandbox`` object and
through the Flask test client (the whole HTTP pipeline minus the socket):

* createConversation (with its first message) and addConversationMessage;
* the first page (100 items) of getConversationMessages over *all* stored messages (no bounds,
  as a first poll sends), and over a 100-message window (createdSince/until, the polling recipe);
* a scroll continuation (the next page by scrollId);
* a full scroll through every message (sizes up to --full-scroll-max): time per item.

The sizes are measured side by side, not one after another. This machine's speed drifts by up to
2x over a second or two (other tenants), so a baseline measured a minute before the 10^6 figure
compared two moods of the machine, not two store sizes. Instead each figure is measured in rounds,
and within a round every size in turn (the order rotating), within a fraction of a second: the
figure for a size is the median of its round medians, and the growth from the smallest to the
largest size is the median of the per-round ratios.

It reports the build time, RSS growth per stored message, and writes a plot of the curves to
docs/performance-scaling.png (installing matplotlib into the venv if needed).

Usage: python bench/scaling.py [--max 1000000] [--rounds 10] [--smoke] [--results-dir DIR] [--plot FILE]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    CREATE_BODY,
    RESULTS,
    ROOT,
    clean,
    load_average,
    percentile,
    pip_install,
    print_machine,
    table,
    verdict,
    write_results,
)

from simulator.domain.operations import api_path

SIZES = (1_000, 10_000, 100_000, 1_000_000)
PER_CONVERSATION = 10
T0 = "2024-01-01T00:00:00.000Z"
REPLY = "Sorry for the wait! It ships tomorrow; the tracking number follows."
OPERATIONS = (
    ("create", "createConversation"),
    ("add_message", "addConversationMessage"),
    ("list_first_page_all", "first page (100) of all messages"),
    ("list_first_page_window", "first page (100) of a 100-message window"),
    ("scroll_next_page", "scroll continuation (next 100)"),
)
PLOT = ROOT / "docs" / "performance-scaling.png"


def rss_self_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed_calls(call: Callable[[], Any], calls: int, budget_s: float, warmup: int = 3) -> dict[str, Any]:
    """Median and p99 of ``call`` in microseconds: up to ``calls`` calls or ``budget_s`` s (3 at least)."""
    for _ in range(warmup):
        call()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < calls and (len(samples) < 3 or time.perf_counter() < deadline):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return {
        "median_us": statistics.median(samples),
        "p99_us": percentile(samples, 0.99),
        "calls": len(samples),
    }


@dataclass
class Prepared:
    """One size's sandbox, built: what the build measured, and the calls each figure times."""

    facts: dict[str, Any]
    figures: dict[str, dict[str, Callable[[], Any]]]
    round_medians: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    calls: dict[str, dict[str, int]] = field(default_factory=dict)


# --- one size: build its store ------------------------------------------------------------------------
def prepare(size: int, full_scroll_max: int) -> Prepared:
    from simulator.contract.validation import Contract
    from simulator.domain.clock import format_rfc3339, parse_rfc3339
    from simulator.domain.config import SandboxConfig
    from simulator.http import ServerConfig, create_app
    from simulator.loading.bootstrap import build_sandbox

    config = SandboxConfig(rate_limit=False, validate_responses=False)  # as `serve` runs
    contract = Contract()
    sandbox = build_sandbox(contract, config)
    app = create_app(ServerConfig(sandbox=config), sandbox=sandbox, contract=contract)
    client = app.test_client()
    retailer = sandbox.world.account("1000001")
    supplier = sandbox.world.account("2000001")
    assert retailer is not None and supplier is not None
    auth = {"Authorization": "bearer retailer-demo-token"}
    # The scroll continuation runs as the supplier (a party to every message too): the first-page
    # figures open a scroll per call as the retailer, and past 100 open scrolls an account's oldest
    # is dropped, which would take the continued scroll with it.
    supplier_auth = {"Authorization": "bearer supplier-demo-token"}
    start = parse_rfc3339(T0)
    assert start is not None
    sandbox.clock.freeze(True)
    sandbox.clock.set(start)

    # A warm start: every code path once, so RSS growth is the data's, not the first call's imports.
    first = sandbox.call("createConversation", retailer, CREATE_BODY)
    sandbox.call("addConversationMessage", supplier, {"dscoConversationId": first["id"], "message": REPLY})
    client.post(api_path("getConversationMessages"), json={}, headers=auth)
    sandbox.reset()
    sandbox.clock.set(start)
    gc.collect()
    rss_before = rss_self_mb()

    build_started = time.perf_counter()
    conversations: list[str] = []
    stored = 0
    advance = sandbox.clock.advance
    call = sandbox.call
    while stored < size:
        created = call("createConversation", retailer, CREATE_BODY)
        conversations.append(created["id"])
        stored += 1
        advance(1000)
        for turn in range(1, min(PER_CONVERSATION, size - stored + 1)):
            who = supplier if turn % 2 else retailer
            call("addConversationMessage", who, {"dscoConversationId": created["id"], "message": REPLY})
            stored += 1
            advance(1000)
    build_s = time.perf_counter() - build_started
    gc.collect()
    rss_after = rss_self_mb()
    counts = sandbox.store.counts()
    assert counts[1] == size, counts

    # Everything stored is visible (lag is over) and older than `until`'s 5 s margin.
    sandbox.clock.advance(3600 * 1_000_000)
    width = min(100, size)  # one message per millisecond: a window of 100 ms holds 100 messages
    middle = start + min(size // 2, size - width) * 1000
    window = {"createdSince": format_rfc3339(middle), "until": format_rfc3339(middle + width * 1000)}
    target_conversation = conversations[len(conversations) // 2]
    add_body = {"dscoConversationId": target_conversation, "message": REPLY}

    def domain_list(body: dict[str, Any], caller: Any = retailer) -> dict[str, Any]:
        return sandbox.call("getConversationMessages", caller, body)

    def http_call(path: str, body: dict[str, Any], status: int, headers: dict[str, str] = auth) -> Any:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == status, (
            path,
            response.status_code,
            response.get_data(as_text=True)[:300],
        )
        return response.get_json()

    # The full scrolls come first, while the only scrolls open are their own (a polling client's view).
    full_scroll: dict[str, Any] = {}
    if size <= full_scroll_max:
        for path_name, page in (
            ("domain", domain_list),
            ("test_client", lambda body: http_call(api_path("getConversationMessages"), body, 200)),
        ):
            gc.collect()
            started = time.perf_counter()
            result = page({})
            items = len(result["messages"])
            pages = 1
            while result.get("scrollId"):
                result = page({"scrollId": result["scrollId"]})
                items += len(result["messages"])
                pages += 1
            elapsed = time.perf_counter() - started
            assert items >= size, (items, size)
            full_scroll[path_name] = {
                "items": items,
                "pages": pages,
                "seconds": elapsed,
                "us_per_item": elapsed * 1e6 / items,
            }

    first_all = domain_list({})
    assert len(first_all["messages"]) == min(100, size) and "scrollId" in first_all
    scrolled = domain_list({}, supplier)
    first_window = domain_list(window)
    assert len(first_window["messages"]) == width, len(first_window["messages"])

    class Scroller:
        """Hands out continuation scrollIds of one open scroll, opening a new one (untimed) when done."""

        def __init__(
            self,
            next_page: Callable[[str], dict[str, Any]],
            open_scroll: Callable[[], dict[str, Any]],
            scroll_id: str,
        ):
            self.next_page, self.open_scroll, self.scroll_id = next_page, open_scroll, scroll_id

        def step(self) -> None:
            page = self.next_page(self.scroll_id)
            if page.get("scrollId"):
                self.scroll_id = page["scrollId"]
            else:
                self.scroll_id = self.open_scroll()["scrollId"]  # rare: only after the last page

    list_path = api_path("getConversationMessages")
    paths: dict[str, dict[str, Callable[[], Any]]] = {
        "domain": {
            "create": lambda: sandbox.call("createConversation", retailer, CREATE_BODY),
            "add_message": lambda: sandbox.call("addConversationMessage", retailer, add_body),
            "list_first_page_all": lambda: domain_list({}),
            "list_first_page_window": lambda: domain_list(window),
        },
        "test_client": {
            "create": lambda: http_call(api_path("createConversation"), CREATE_BODY, 201),
            "add_message": lambda: http_call(api_path("addConversationMessage"), add_body, 201),
            "list_first_page_all": lambda: http_call(list_path, {}, 200),
            "list_first_page_window": lambda: http_call(list_path, window, 200),
        },
    }
    # Both continue the scroll opened above (the same caller and operation may continue any of its
    # scrolls), so opening one, O(n), is paid once.
    domain_scroller = Scroller(
        lambda s: domain_list({"scrollId": s}, supplier),
        lambda: domain_list({}, supplier),
        scrolled["scrollId"],
    )
    http_scroller = Scroller(
        lambda s: http_call(list_path, {"scrollId": s}, 200, supplier_auth),
        lambda: http_call(list_path, {}, 200, supplier_auth),
        scrolled["scrollId"],
    )
    paths["domain"]["scroll_next_page"] = domain_scroller.step
    paths["test_client"]["scroll_next_page"] = http_scroller.step

    facts = {
        "size": size,
        "conversations": counts[0],
        "build_s": build_s,
        "build_us_per_message": build_s * 1e6 / size,
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "bytes_per_message": (rss_after - rss_before) * 1024 * 1024 / size,
        "full_scroll": full_scroll,
    }
    return Prepared(facts, paths)


# --- every size: measure them side by side --------------------------------------------------------------
def measure_side_by_side(prepared: list[Prepared], calls: int, budget_s: float, rounds: int) -> None:
    """Time every figure of every size in ``rounds`` rounds, the sizes in turn within a round.

    Each size gets ``calls`` calls and ``budget_s`` seconds per figure in all, split over the rounds.
    The order of the sizes rotates from round to round, so none is always measured first.
    """
    for entry in prepared:
        entry.round_medians = {p: {n: [] for n in ops} for p, ops in entry.figures.items()}
        entry.calls = {p: dict.fromkeys(ops, 0) for p, ops in entry.figures.items()}
    per_round_calls, per_round_budget = max(3, calls // rounds), budget_s / rounds
    for round_number in range(rounds):
        turn = round_number % len(prepared)
        order = prepared[turn:] + prepared[:turn]
        for path_name in ("domain", "test_client"):
            for name, _ in OPERATIONS:
                for entry in order:
                    measured = timed_calls(entry.figures[path_name][name], per_round_calls, per_round_budget)
                    entry.round_medians[path_name][name].append(measured["median_us"])
                    entry.calls[path_name][name] += measured["calls"]


def size_result(entry: Prepared) -> dict[str, Any]:
    """One size's results: what the build measured, and each figure's median over the rounds."""
    latency = {
        path_name: {
            name: {
                "median_us": statistics.median(medians),
                "round_medians_us": medians,
                "calls": entry.calls[path_name][name],
            }
            for name, medians in figures.items()
        }
        for path_name, figures in entry.round_medians.items()
    }
    return {**entry.facts, "latency": latency}


# --- the report: the table, the targets and the plot --------------------------------------------------
def evaluate(results: list[dict[str, Any]], largest_target: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    by_size = {r["size"]: r for r in results}
    small, large = min(by_size), max(by_size)
    note = "" if large >= largest_target else f" (largest measured: {large:,}, not {largest_target:,})"
    for path_name in ("domain", "test_client"):
        for name, label in OPERATIONS:
            base = by_size[small]["latency"][path_name][name]
            value = by_size[large]["latency"][path_name][name]
            # Paired: a round's two medians were measured moments apart, on the same machine mood.
            ratio = statistics.median(
                v / b for b, v in zip(base["round_medians_us"], value["round_medians_us"], strict=True)
            )
            found.append(
                {
                    "figure": f"{label} [{path_name}] at {large:,} vs {small:,} messages",
                    "value": ratio,
                    "unit": "x",
                    "target": f"<= 1.5x{note}",
                    "detail": f"{base['median_us']:,.0f} us -> {value['median_us']:,.0f} us",
                    "verdict": verdict(ratio <= 1.5),
                }
            )
    scrolls = {r["size"]: r["full_scroll"] for r in results if r["full_scroll"]}
    if len(scrolls) >= 2:
        top = max(scrolls)
        reference = max(s for s in scrolls if s < top)
        for path_name in ("domain", "test_client"):
            ratio = scrolls[top][path_name]["us_per_item"] / scrolls[reference][path_name]["us_per_item"]
            found.append(
                {
                    "figure": f"full scroll [{path_name}]: time per item at {top:,} vs {reference:,}",
                    "value": ratio,
                    "unit": "x",
                    "target": "O(n): <= 1.5x",
                    "detail": f"{scrolls[reference][path_name]['us_per_item']:.1f} -> "
                    f"{scrolls[top][path_name]['us_per_item']:.1f} us/item",
                    "verdict": verdict(ratio <= 1.5),
                }
            )
    kb = by_size[large]["bytes_per_message"] / 1024
    found.append(
        {
            "figure": f"memory per stored message (RSS growth / {large:,})",
            "value": kb,
            "unit": "KB",
            "target": "<= 1.5 KB",
            "detail": f"{by_size[large]['rss_before_mb']:.0f} -> {by_size[large]['rss_after_mb']:.0f} MB",
            "verdict": verdict(kb <= 1.5),
        }
    )
    found.append(
        {
            "figure": f"building {large:,} messages through Sandbox.call",
            "value": by_size[large]["build_s"],
            "unit": "s",
            "target": "a few minutes (<= 180 s)",
            "detail": f"{by_size[large]['build_us_per_message']:.0f} us per message",
            "verdict": verdict(by_size[large]["build_s"] <= 180),
        }
    )
    return found


def plot(results: list[dict[str, Any]], path: Path, install: bool = True) -> str | None:
    if install:
        reason = pip_install("matplotlib")
        if reason:
            return reason
    try:
        import matplotlib
    except ImportError:
        return "matplotlib is not installed (a smoke run installs nothing)"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["size"] for r in results]
    figure, axes = plt.subplots(1, 3, figsize=(16, 5))
    latency_axis, scroll_axis, memory_axis = axes
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (name, label) in enumerate(OPERATIONS):
        for path_name, style in (("domain", "-"), ("test_client", "--")):
            values = [r["latency"][path_name][name]["median_us"] for r in results]
            latency_axis.plot(
                sizes,
                values,
                style,
                marker="o",
                color=colors[index],
                label=f"{label} ({path_name.replace('_', ' ')})",
            )
    latency_axis.set(
        xscale="log", yscale="log", xlabel="stored messages", ylabel="median latency per call (µs)"
    )
    latency_axis.set_title("Per-call latency (solid: Sandbox.call, dashed: Flask test client)")
    latency_axis.legend(fontsize=6)
    latency_axis.grid(True, which="both", alpha=0.3)
    scrolled = [r for r in results if r["full_scroll"]]
    for path_name, style in (("domain", "-"), ("test_client", "--")):
        scroll_axis.plot(
            [r["size"] for r in scrolled],
            [r["full_scroll"][path_name]["us_per_item"] for r in scrolled],
            style,
            marker="o",
            label=path_name.replace("_", " "),
        )
    scroll_axis.set(
        xscale="log", xlabel="messages scrolled (all stored)", ylabel="µs per item", ylim=(0, None)
    )
    scroll_axis.set_title("Full scroll: time per item (flat = O(n))")
    scroll_axis.legend()
    scroll_axis.grid(True, which="both", alpha=0.3)
    memory_axis.plot(
        sizes, [r["bytes_per_message"] / 1024 for r in results], marker="o", label="RSS growth per message"
    )
    memory_axis.axhline(1.5, color="red", linestyle=":", label="target 1.5 KB")
    memory_axis.set(xscale="log", xlabel="stored messages", ylabel="KB per stored message", ylim=(0, None))
    memory_axis.set_title("Memory per stored message")
    memory_axis.legend()
    memory_axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    print(f"plot written to {path}")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=1_000_000, help="largest store size (default 10^6)")
    parser.add_argument("--calls", type=int, default=300, help="calls per latency figure, at most")
    parser.add_argument(
        "--budget", type=float, default=3.0, help="seconds per latency figure, at most (3 calls at least)"
    )
    parser.add_argument("--full-scroll-max", type=int, default=100_000, help="largest size scrolled in full")
    parser.add_argument("--rounds", type=int, default=10, help="rounds per latency figure (default 10)")
    parser.add_argument("--smoke", action="store_true", help="sizes 10^2 and 10^3 only, few calls")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument(
        "--plot", type=Path, help=f"where to write the plot (default {PLOT.relative_to(ROOT)})"
    )
    args = parser.parse_args()
    sizes = [s for s in SIZES if s <= args.max]
    if args.smoke:
        sizes, args.calls, args.budget, args.rounds = [100, 1_000], 20, 0.5, 2
        args.plot = args.plot or args.results_dir / "performance-scaling.png"
    plot_path = args.plot or PLOT
    info = print_machine()
    args.results_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    prepared = []
    for size in sizes:
        print(f"building {size:,} messages ...", flush=True)
        entry = prepare(size, args.full_scroll_max)
        prepared.append(entry)
        facts = entry.facts
        print(
            f"  built in {facts['build_s']:.1f} s ({facts['build_us_per_message']:.0f} us/message), "
            f"{facts['bytes_per_message']:.0f} bytes/message",
            flush=True,
        )
    print(f"measuring every size side by side, {args.rounds} rounds ...", flush=True)
    measure_side_by_side(prepared, args.calls, args.budget, args.rounds)
    results = [size_result(entry) for entry in prepared]
    rows = []
    for path_name in ("domain", "test_client"):
        for name, label in OPERATIONS:
            rows.append(
                [f"{label} [{path_name}]", *(r["latency"][path_name][name]["median_us"] for r in results)]
            )
    print()
    print(
        table(["median us per call", *(f"{s:,}" for s in sizes)], rows, "Per-call latency by stored messages")
    )
    print()
    other = [
        ["build (s)", *(r["build_s"] for r in results)],
        ["build (us per message)", *(r["build_us_per_message"] for r in results)],
        ["RSS growth per message (bytes)", *(r["bytes_per_message"] for r in results)],
        [
            "full scroll, domain (us per item)",
            *(r["full_scroll"].get("domain", {}).get("us_per_item") for r in results),
        ],
        [
            "full scroll, test client (us per item)",
            *(r["full_scroll"].get("test_client", {}).get("us_per_item") for r in results),
        ],
    ]
    print(table(["", *(f"{s:,}" for s in sizes)], other, "Build, memory and full scroll"))
    found = evaluate(results, largest_target=1_000_000)
    print()
    print(
        table(
            ["figure", "value", "target", "detail", "verdict"],
            [
                [t["figure"], f"{t['value']:.2f} {t['unit']}", t["target"], t["detail"], t["verdict"]]
                for t in found
            ],
            "Targets",
        )
    )
    plot_problem = plot(results, plot_path, install=not args.smoke)
    if plot_problem:
        print(f"no plot: {plot_problem}")
    elapsed = time.perf_counter() - started
    print(f"\nscaling took {elapsed:.0f} s")
    write_results(
        args.results_dir,
        "scaling",
        clean(
            {
                "machine": info,
                "settings": {
                    "sizes": sizes,
                    "calls": args.calls,
                    "budget_s": args.budget,
                    "rounds": args.rounds,
                    "messages_per_conversation": PER_CONVERSATION,
                    "smoke": args.smoke,
                },
                "sizes": results,
                "targets": found,
                "plot": str(plot_path) if not plot_problem else None,
                "plot_problem": plot_problem,
                "elapsed_s": elapsed,
                "load_average_at_end": load_average(),
            }
        ),
    )


if __name__ == "__main__":
    main()
