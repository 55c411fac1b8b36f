"""Helpers for running the real ``dsco-sandbox`` command as a user would."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m simulator ARGS`` in a subprocess (same as the console script).

    The time limit only stops a hung command: a short Schemathesis run (``contract test``) took over
    60 s on a 2-core machine running the suite's four workers and their servers at once.
    """
    return subprocess.run(
        [sys.executable, "-m", "simulator", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
    )


def readme_sh_block(heading: str) -> str:
    """The first ``sh`` block of the README section that ``## heading`` opens."""
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split(f"## {heading}", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, f"the README's section {heading!r} has no sh block"
    return match.group(1)
