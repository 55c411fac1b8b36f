"""Before/after, paired: the same bench commands on two source trees, alternating, ratio new/old.

Why paired. On a shared machine the same code measures +-20 % from one minute to the next, more
than most changes move it, so two runs an hour apart cannot say whether a change helped. Here
every round runs each command on both trees, one right after the other (the order swapping every
round: old-new, new-old, ...), and each figure's ratio new/old is taken within the round; the
report gives the median of those per-round ratios, beside each side's median.

Each tree runs with its own interpreter (``TREE/.venv/bin/python`` when there is one, else this
one) and ``PYTHONPATH=TREE``, so ``import simulator`` and the ``dsco-sandbox`` its bench starts
are that tree's, even with one venv for both. The bench scripts themselves come from one tree
(``--bench-tree``, the new one unless told), so both sides are measured the same way; with
``--own-bench`` each tree runs its own scripts instead, for when the new scripts import modules the
old tree does not have (the figures must then keep their names and meaning across the two).

A figure is any number in a script's results JSON (``--results-dir``) whose path matches
``--figures``: by default throughput and latency per operation and server, the scaling bench's
per-call medians (first page at 10^3 ... 10^6), memory per message, start-up and reset.

Example (the lead's comparison of main as it was with the merged result):

    git worktree add ../base <commit>            # the old tree; it needs no venv of its own
    python bench/paired.py --base-tree ../base --new-tree . --rounds 3 \\
        --command "startup.py --starts 3 --resets 10" \\
        --command "scaling.py --max 1000000 --rounds 3 --calls 100 --full-scroll-max 0" \\
        --command "http_throughput.py --duration 3 --repeat 1 --no-peers"

Usage: python bench/paired.py --base-tree DIR --new-tree DIR [--rounds 3] [--command "SCRIPT ARGS"]...
                              [--base-python PY] [--new-python PY] [--bench-tree DIR | --own-bench]
                              [--figures REGEX] [--results-dir DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import RESULTS, load_average, median, table, write_results

DEFAULT_COMMANDS = (
    "startup.py --starts 3 --resets 10",
    "scaling.py --max 1000000 --rounds 3 --calls 100 --full-scroll-max 0",
    "http_throughput.py --duration 3 --repeat 1 --no-peers",
)
SMOKE_COMMANDS = ("startup.py --smoke", "scaling.py --smoke")
DEFAULT_FIGURES = (
    r"(/operations/[^/]+/(rps|p50_ms|p99_ms)"
    r"|/latency/[^/]+/[^/]+/median_us"
    r"|/bytes_per_message|/build_s"
    r"|/health_s_median|/idle_rss_mb_median|/reset_[a-z_]+/ms_median|/rss_[a-z]+_mb)$"
)
_SKIPPED = {"machine", "settings", "targets", "runs", "round_medians_us", "elapsed_s", "warmup"}
_KEYS = ("size", "figure", "name", "operation")
"""A list of objects is indexed by the first of these each item has (``sizes/1000000/...``)."""
HIGHER_IS_BETTER = re.compile(r"(rps|per_s)$")


def figures(document: Any, prefix: str = "") -> dict[str, float]:
    """Every number in a results document by its path, lists of objects keyed by their name."""
    found: dict[str, float] = {}
    if isinstance(document, dict):
        for key, value in document.items():
            if key not in _SKIPPED:
                found.update(figures(value, f"{prefix}/{key}"))
    elif isinstance(document, list):
        for index, item in enumerate(document):
            if isinstance(item, dict):
                name = next((item[k] for k in _KEYS if k in item), index)
                found.update(figures(item, f"{prefix}/{name}"))
    elif isinstance(document, int | float) and not isinstance(document, bool):
        found[prefix] = float(document)
    return found


def interpreter(tree: Path, given: str | None) -> str:
    if given:
        return given
    own = tree / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def run_side(
    tree: Path, python: str, bench: Path, command: str, results: Path, timeout: float
) -> dict[str, float]:
    """One bench command on one tree; its results JSON as figures (``script:path``)."""
    results.mkdir(parents=True, exist_ok=True)
    script, *options = shlex.split(command)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")])),
    }
    # The interpreter's own bin folder first, so a bench that starts `dsco-sandbox` or `granian`
    # finds the ones beside that interpreter (the bench scripts look there too).
    env["PATH"] = os.pathsep.join([str(Path(python).parent), env.get("PATH", "")])
    started = time.perf_counter()
    done = subprocess.run(
        [python, str(bench / script), *options, "--results-dir", str(results)],
        cwd=bench,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{script} on {tree} failed ({done.returncode}):\n{done.stdout[-1500:]}{done.stderr[-1500:]}"
        )
    found: dict[str, float] = {}
    for path in sorted(results.glob("*.json")):
        found.update(
            {f"{path.stem}:{key}": value for key, value in figures(json.loads(path.read_text())).items()}
        )
    print(f"    {script} on {tree.name or tree}: {time.perf_counter() - started:.0f} s", flush=True)
    return found


def compare(rounds: list[dict[str, dict[str, float]]], pattern: re.Pattern[str]) -> list[dict[str, Any]]:
    """Per figure: each side's median and the median of the per-round ratios new/old."""
    names = sorted({name for r in rounds for name in r["base"] if pattern.search(name) and name in r["new"]})
    rows = []
    for name in names:
        pairs = [(r["base"][name], r["new"][name]) for r in rounds if name in r["base"] and name in r["new"]]
        ratios = [new / old for old, new in pairs if old]
        rows.append(
            {
                "figure": name,
                "base": median(old for old, _ in pairs),
                "new": median(new for _, new in pairs),
                "ratio": median(ratios) if ratios else None,
                "ratios": ratios,
                "better": "higher" if HIGHER_IS_BETTER.search(name) else "lower",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-tree", type=Path, required=True, help="the old source tree")
    parser.add_argument("--new-tree", type=Path, required=True, help="the new source tree")
    parser.add_argument(
        "--base-python", help="interpreter for the old tree (default: its .venv, else this one)"
    )
    parser.add_argument(
        "--new-python", help="interpreter for the new tree (default: its .venv, else this one)"
    )
    parser.add_argument("--bench-tree", type=Path, help="whose bench scripts to run (default: the new tree)")
    parser.add_argument(
        "--own-bench", action="store_true", help="each tree runs its own bench scripts (see the docstring)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--command", action="append", help='a bench script and its options, e.g. "startup.py --starts 3"'
    )
    parser.add_argument(
        "--figures", default=DEFAULT_FIGURES, help="regular expression over the figures' paths"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one command may take")
    parser.add_argument("--smoke", action="store_true", help=f"one round of {', '.join(SMOKE_COMMANDS)}")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    trees = {"base": args.base_tree.resolve(), "new": args.new_tree.resolve()}
    pythons = {
        "base": interpreter(trees["base"], args.base_python),
        "new": interpreter(trees["new"], args.new_python),
    }
    shared_bench = (args.bench_tree or args.new_tree).resolve() / "bench"
    benches = {side: trees[side] / "bench" if args.own_bench else shared_bench for side in trees}
    commands = args.command or list(SMOKE_COMMANDS if args.smoke else DEFAULT_COMMANDS)
    rounds_count = 1 if args.smoke else args.rounds
    print(f"load average at start: {load_average()}", flush=True)
    for side in ("base", "new"):
        print(f"  {side}: {trees[side]} with {pythons[side]}")
    rounds: list[dict[str, dict[str, float]]] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dsco-paired-") as scratch:
        for number in range(rounds_count):
            order = ("base", "new") if number % 2 == 0 else ("new", "base")
            measured: dict[str, dict[str, float]] = {"base": {}, "new": {}}
            print(
                f"round {number + 1} of {rounds_count} ({' then '.join(order)} for each command)", flush=True
            )
            for index, command in enumerate(commands):
                for side in order:
                    results = Path(scratch) / f"r{number}-c{index}-{side}"
                    try:
                        found = run_side(
                            trees[side], pythons[side], benches[side], command, results, args.timeout
                        )
                        measured[side].update(found)
                    except (RuntimeError, subprocess.TimeoutExpired) as error:
                        # One failed run leaves its figures out of this round's pairs; the others stand.
                        failures.append(f"round {number + 1}, {side}: {str(error)[-600:]}")
                        print(f"    FAILED: {str(error)[-600:]}", flush=True)
            rounds.append(measured)
    rows = compare(rounds, re.compile(args.figures))
    print(f"load average at end: {load_average()}")
    for failure in failures:
        print(f"failed, left out: {failure.splitlines()[0]}")
    print(
        table(
            ["figure", "base (median)", "new (median)", "new / base (median of rounds)", "better when"],
            [
                [
                    r["figure"],
                    r["base"],
                    r["new"],
                    "-" if r["ratio"] is None else f"{r['ratio']:.2f} x",
                    r["better"],
                ]
                for r in rows
            ],
            f"{rounds_count} paired round(s): {'; '.join(commands)}",
        )
    )
    write_results(
        args.results_dir,
        "paired",
        {
            "trees": {k: str(v) for k, v in trees.items()},
            "pythons": pythons,
            "commands": commands,
            "rows": rows,
            "failures": failures,
        },
    )


if __name__ == "__main__":
    main()
