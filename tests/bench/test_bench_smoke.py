"""The bench scripts keep working: each runs in its smoke mode and writes well-formed JSON.

Smoke runs use tiny sizes and ~1 s loads, start no peers, install nothing and need no wrk (without
it the HTTP bench still starts, seeds and checks the servers, and says it measured no load). Nothing
here asserts a timing: the figures of a smoke run on a busy CI machine mean nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def run_script(name: str, *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / name), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (
        f"{name} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


def results(directory: Path, name: str) -> dict[str, Any]:
    path = directory / f"{name}.json"
    assert path.exists(), f"{name}.json was not written"
    document = json.loads(path.read_text("utf-8"), parse_constant=_refuse)  # strict JSON: no NaN
    assert isinstance(document, dict)
    return document


def _refuse(name: str) -> Any:
    raise AssertionError(f"{name} in the results: not strict JSON")


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-results")


def test_validation_bench_runs(results_dir: Path) -> None:
    out = run_script("validation.py", "--calls", "50", "--json", str(results_dir / "validation.json"))
    assert "target:" in out
    document = results(results_dir, "validation")
    assert {"load_ms", "valid_create", "invalid_create", "unknown_fields"} <= set(document)


def test_startup_bench_runs(results_dir: Path) -> None:
    out = run_script("startup.py", "--smoke", "--results-dir", str(results_dir))
    assert "Start-up and reset" in out
    document = results(results_dir, "startup")
    assert len(document["serve"]["health_s"]) == 1
    assert len(document["reset_http"]["ms"]) == len(document["reset_in_process"]["ms"]) == 3
    assert {t["verdict"] for t in document["targets"]} <= {"met", "MISSED", "n/a"}


def test_http_throughput_bench_runs(results_dir: Path) -> None:
    out = run_script("http_throughput.py", "--smoke", "--results-dir", str(results_dir))
    document = results(results_dir, "http_throughput")
    stacks = document["stacks"]
    assert set(stacks) == {"sandbox/waitress", "bare/waitress"}  # no peers, no granian in a smoke run
    for record in stacks.values():
        assert record["start_s"] is not None and record["rss_idle_mb"] is not None
    if "wrk" in document["notes"]:  # no wrk here: the servers still started and were seeded
        assert "skipping every load measurement" in out
        assert stacks["sandbox/waitress"]["operations"] == {}
    else:
        operations = stacks["sandbox/waitress"]["operations"]
        assert set(operations) == {
            "getAccessToken",
            "createConversation",
            "updateConversation",
            "getConversations",
            "addConversationMessage",
            "getConversationMessages",
        }
        for result in operations.values():
            assert {"rps", "p50_ms", "p99_ms", "errors", "runs"} <= set(result)
            assert result["errors"] == 0, result  # every call of every operation was answered with a 2xx
        assert document["targets"], "the targets were evaluated"


def test_scaling_bench_runs(results_dir: Path) -> None:
    out = run_script("scaling.py", "--smoke", "--results-dir", str(results_dir))
    assert "Per-call latency by stored messages" in out
    document = results(results_dir, "scaling")
    assert [size["size"] for size in document["sizes"]] == [100, 1000]
    for size in document["sizes"]:
        assert set(size["latency"]) == {"domain", "test_client"}
        assert set(size["latency"]["domain"]) == {
            "create",
            "add_message",
            "list_first_page_all",
            "list_first_page_window",
            "scroll_next_page",
        }
        assert size["full_scroll"]["domain"]["items"] >= size["size"]
    if document["plot"]:
        assert Path(document["plot"]).parent == results_dir  # a smoke run never touches docs/


def test_report_reads_every_result(results_dir: Path) -> None:
    # Runs after the others (pytest keeps file order), so every results file is there.
    out = run_script(
        "report.py", "--results-dir", str(results_dir), "--markdown", str(results_dir / "report.md")
    )
    assert "Every figure and its target" in out
    summary = results(results_dir, "summary")
    assert summary["missing"] == []
    assert summary["targets"]
    assert (results_dir / "report.md").read_text("utf-8").startswith("|")


def test_console_bench_runs(results_dir: Path) -> None:
    out = run_script("console.py", "--smoke", "--results-dir", str(results_dir))
    assert "Console conversation list, 200 conversations" in out
    document = results(results_dir, "console")
    pages = document["pages"]
    assert set(pages) == {"first page", "last page", "filtered", "search"}
    assert pages["first page"]["rows"] == 25 and pages["search"]["rows"] == 1


def test_reliability_bench_runs(results_dir: Path) -> None:
    out = run_script("reliability.py", "--smoke", "--results-dir", str(results_dir))
    assert "A second serve on a port in use" in out
    document = results(results_dir, "reliability")
    assert document["second_bind"] and all(row["refused"] for row in document["second_bind"])
    assert document["slow_clients"]["with"]["requests"] > 0
    assert document["scroll_load"]["list_calls"] > 0
    assert document["failed_writes"]["stored_by_400_or_more"] == 0
    assert document["failed_writes"]["unexpected_500_or_more"] == 0


def test_namespaces_bench_runs(results_dir: Path) -> None:
    out = run_script("namespaces.py", "--smoke", "--results-dir", str(results_dir))
    assert "Namespaces" in out
    document = results(results_dir, "namespaces")
    assert len(document["create_namespace_ms"]) == 20
    assert set(document["create_conversation_ms"]) == {"ns-00001", "ns-00020"}
    assert all(value > 0 for value in document["memory_bytes_reported"].values())


def test_namespace_persistence_bench_runs(results_dir: Path) -> None:
    out = run_script("namespace_persistence.py", "--smoke", "--results-dir", str(results_dir))
    assert "Namespace persistence" in out
    figures = results(results_dir, "namespace_persistence")["creates_per_second"]
    assert set(figures) == {"none", "json", "sqlite"}
    assert all(
        set(by_size) == {"0", "20"} and all(v > 0 for v in by_size.values()) for by_size in figures.values()
    )


def test_persistence_bench_runs(results_dir: Path) -> None:
    """Its throughput part in miniature (the kill part runs in tests/persistence, and the start-up
    part's export/import/export is what tests/persistence/test_state_processes.py checks)."""
    out = run_script(
        "persistence.py",
        *("--part", "throughput", "--sizes", "0.02", "--rounds", "1", "--calls", "5"),
        *("--results-dir", str(results_dir)),
    )
    assert "ratio" in out
    document = results(results_dir, "persistence")
    (size,) = document["throughput"]["sizes"]
    assert size["memory_per_s"] > 0 and size["sqlite_per_s"] > 0


def test_collector_bench_runs() -> None:
    out = run_script("collector.py", "--smoke")
    assert "full_collections" in out and "freeze-700" in out


def test_paired_bench_compares_two_trees(results_dir: Path) -> None:
    # The same tree on both sides: the plumbing (two interpreters' runs, alternating, figures
    # matched by path, ratios) is what is checked, not a figure.
    out = run_script(
        "paired.py",
        "--base-tree",
        str(ROOT),
        "--new-tree",
        str(ROOT),
        "--rounds",
        "2",
        "--command",
        "startup.py --smoke",
        "--results-dir",
        str(results_dir),
    )
    assert "round 2 of 2 (new then base" in out
    rows = {row["figure"]: row for row in results(results_dir, "paired")["rows"]}
    assert "startup:/serve/health_s_median" in rows, sorted(rows)
    assert all(len(row["ratios"]) == 2 for row in rows.values())
