"""Every figure of the last bench run next to its target (met / MISSED), from bench/results/*.json.

``make bench`` runs this last. With --markdown FILE it also writes the tables as Markdown (what
docs/performance.md quotes).

Usage: python bench/report.py [--results-dir DIR] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from _common import OPERATIONS, RESULTS, TARGET_OPERATIONS, bare_for, table, verdict, write_results


def load(results_dir: Path, name: str) -> dict[str, Any] | None:
    path = results_dir / f"{name}.json"
    if not path.exists():
        return None
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def http_rows(http: dict[str, Any]) -> tuple[list[list[Any]], list[list[Any]], list[dict[str, Any]]]:
    stacks = http["stacks"]

    def rps(stack: str, operation: str) -> float | None:
        found = stacks.get(stack, {}).get("operations", {}).get(operation)
        return found["rps"] if found else None

    side_by_side = []
    names = list(stacks)
    for operation in OPERATIONS:
        side_by_side.append([operation, *(rps(name, operation) for name in names)])
    latency = []
    for name, record in stacks.items():
        if record.get("unavailable"):
            latency.append([name, "(not measured)", None, None, None, None, record["unavailable"]])
            continue
        for operation, result in record.get("operations", {}).items():
            bare = bare_for(stacks, name, operation)
            latency.append(
                [
                    name,
                    operation,
                    result["rps"],
                    result["p50_ms"],
                    result["p99_ms"],
                    result["rps"] / bare if bare else None,
                    f"{result['errors']} errors" if result["errors"] else "",
                ]
            )
    targets = []
    wiremock = rps("wiremock", "createConversation")
    for name in ("sandbox/waitress", "sandbox/granian"):
        for operation in TARGET_OPERATIONS:
            value = rps(name, operation)
            if value is None:
                continue
            bare = bare_for(stacks, name, operation)
            prism = rps("prism", operation)
            server = "granian" if name.endswith("granian") else "waitress"
            # (target, threshold, what the value is shown as a multiple of)
            checks = [
                (
                    f"0.7 x bare Flask on {server}, same answer size",
                    None if bare is None else 0.7 * bare,
                    bare,
                ),
                ("WireMock (create stub)", wiremock, wiremock),
                (f"Prism {operation}", prism, prism),
            ]
            for label, threshold, base in checks:
                ok = None if threshold is None else value >= threshold
                unit = "bare" if base is bare else label.split(" (")[0].split(" ")[0]
                targets.append(
                    {
                        "figure": f"HTTP {name} {operation}",
                        "value": fmt(value, "req/s") + ("" if not base else f" = {value / base:.2f}x {unit}"),
                        "target": f">= {label}" + ("" if threshold is None else f" = {threshold:,.0f} req/s"),
                        "verdict": verdict(ok),
                    }
                )
    return side_by_side, latency, targets


def collect(results_dir: Path) -> dict[str, Any]:
    summary: dict[str, Any] = {"sections": {}, "targets": [], "missing": []}
    validation = load(results_dir, "validation")
    if validation:
        median_us = validation["valid_create"]["median_us"]
        summary["targets"].append(
            {
                "figure": "contract validation of a typical createConversation body (median)",
                "value": fmt(median_us, "us"),
                "target": "well under 1000 us",
                "verdict": verdict(median_us < 1000),
            }
        )
    else:
        summary["missing"].append("validation")
    startup = load(results_dir, "startup")
    if startup:
        for target in startup["targets"]:
            summary["targets"].append(
                {
                    "figure": target["figure"],
                    "value": fmt(target["value"], target["unit"]),
                    "target": target["target"],
                    "verdict": target["verdict"],
                }
            )
    else:
        summary["missing"].append("startup")
    http = load(results_dir, "http_throughput")
    if http:
        side_by_side, latency, targets = http_rows(http)
        summary["sections"]["http"] = {
            "stacks": list(http["stacks"]),
            "side_by_side": side_by_side,
            "latency": latency,
        }
        summary["targets"] += targets
        summary["sections"]["http"]["resources"] = [
            [name, r.get("server"), r.get("start_s"), r.get("rss_idle_mb"), r.get("rss_after_mb")]
            for name, r in http["stacks"].items()
        ]
        summary["sections"]["http"]["notes"] = http.get("notes", {})
        summary["sections"]["http"]["settings"] = http.get("settings", {})
    else:
        summary["missing"].append("http_throughput")
    scaling = load(results_dir, "scaling")
    if scaling:
        for target in scaling["targets"]:
            summary["targets"].append(
                {
                    "figure": target["figure"],
                    "value": f"{target['value']:.2f} {target['unit']}",
                    "target": f"{target['target']} [{target['detail']}]",
                    "verdict": target["verdict"],
                }
            )
        sizes = scaling["settings"]["sizes"]
        rows = []
        for path_name in ("domain", "test_client"):
            for name in (
                "create",
                "add_message",
                "list_first_page_all",
                "list_first_page_window",
                "scroll_next_page",
            ):
                rows.append(
                    [
                        f"{name} [{path_name}]",
                        *(s["latency"][path_name][name]["median_us"] for s in scaling["sizes"]),
                    ]
                )
        rows += [
            ["build s", *(s["build_s"] for s in scaling["sizes"])],
            ["bytes per message", *(s["bytes_per_message"] for s in scaling["sizes"])],
            [
                "full scroll us/item [domain]",
                *(s["full_scroll"].get("domain", {}).get("us_per_item") for s in scaling["sizes"]),
            ],
            [
                "full scroll us/item [test_client]",
                *(s["full_scroll"].get("test_client", {}).get("us_per_item") for s in scaling["sizes"]),
            ],
        ]
        summary["sections"]["scaling"] = {"sizes": sizes, "rows": rows}
    else:
        summary["missing"].append("scaling")
    summary["load"] = {}
    for name in ("startup", "http_throughput", "scaling"):
        document = load(results_dir, name)
        if document and "machine" in document:
            summary.setdefault("machine", document["machine"])
            summary["load"][name] = {
                "start": document["machine"].get("load_average_at_start"),
                "end": document.get("load_average_at_end"),
                "elapsed_s": document.get("elapsed_s"),
            }
    return summary


def markdown(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
        return "-" if value is None else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--markdown", type=Path, help="also write the tables as Markdown here")
    args = parser.parse_args()
    summary = collect(args.results_dir)
    machine = summary.get("machine")
    if machine:
        print(
            f"machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['memory_gb']} GB, "
            f"Python {machine['python']}"
        )
    for name, load in summary["load"].items():
        print(
            f"  {name}: {load['elapsed_s'] or 0:.0f} s, 1/5/15-minute load average {load['start']} at start, "
            f"{load['end']} at end (other work on the machine makes figures noisy and low)"
        )
    parts: list[str] = []
    http = summary["sections"].get("http")
    if http:
        headers = ["req/s (median)", *http["stacks"]]
        print()
        print(
            table(
                headers, http["side_by_side"], "HTTP throughput side by side (wrk -t1 -c16, server on CPU 0)"
            )
        )
        print()
        latency_headers = ["stack", "operation", "req/s", "p50 ms", "p99 ms", "/ bare", "notes"]
        print(table(latency_headers, http["latency"], "Latency"))
        print()
        resource_headers = ["stack", "server", "start s", "RSS idle MB", "RSS after load MB"]
        print(table(resource_headers, http["resources"], "Start-up and memory of each stack"))
        for name, note in http["notes"].items():
            print(f"  {name}: {note}")
        parts += [
            markdown(headers, http["side_by_side"]),
            markdown(latency_headers, http["latency"]),
            markdown(resource_headers, http["resources"]),
        ]
    scaling = summary["sections"].get("scaling")
    if scaling:
        headers = ["median us per call", *(f"{s:,}" for s in scaling["sizes"])]
        print()
        print(table(headers, scaling["rows"], "Scaling with stored messages"))
        parts.append(markdown(headers, scaling["rows"]))
    print()
    rows = [[t["figure"], t["value"], t["target"], t["verdict"]] for t in summary["targets"]]
    print(table(["figure", "value", "target", "verdict"], rows, "Every figure and its target"))
    parts.append(markdown(["figure", "value", "target", "verdict"], rows))
    met = sum(t["verdict"] == "met" for t in summary["targets"])
    missed = sum(t["verdict"] == "MISSED" for t in summary["targets"])
    print(f"\n{met} met, {missed} MISSED, {len(summary['targets']) - met - missed} not applicable")
    if summary["missing"]:
        print(f"no results (yet) from: {', '.join(summary['missing'])}")
    if args.markdown:
        args.markdown.write_text("\n\n".join(parts) + "\n", "utf-8")
        print(f"markdown written to {args.markdown}")
    write_results(args.results_dir, "summary", summary)


if __name__ == "__main__":
    sys.exit(main())
