"""The shipped scenarios can be listed and replayed by name, from any folder, with no checkout."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import REPO

from simulator.cli import main


def test_scenario_list_names_every_shipped_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "list"]) == 0
    out = capsys.readouterr().out
    shipped = sorted((REPO / "scenarios").rglob("*.yaml"))
    names = [line.split()[0] for line in out.splitlines() if line and not line.startswith(("run ", "the "))]
    assert names == [p.relative_to(REPO / "scenarios").with_suffix("").as_posix() for p in shipped]
    assert any(
        line.startswith("late-order-loop") and "The guide's late-order loop" in line
        for line in out.splitlines()
    )
    assert "dsco-sandbox replay --builtin NAME" in out


def test_replay_builtin_runs_shipped_scenarios_by_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing depends on the current folder
    assert main(["replay", "--builtin", "late-order-loop", "errors/401-unauthorized.yaml"]) == 0
    out = capsys.readouterr().out
    assert "The guide's late-order loop" in out
    assert out.rstrip().endswith("2 of 2 scenario(s) passed")


def test_replay_builtin_refuses_an_unknown_name_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--builtin", "late-order-lop"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "dsco-sandbox: late-order-lop: no such shipped scenario (see `dsco-sandbox scenario list`)"
    ]
    assert captured.out == ""


def test_replay_without_paths_or_builtin_says_what_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay"]) == 2
    assert "--builtin" in capsys.readouterr().err
