"""The README's curl quick start works by copy-paste against a real ``dsco-sandbox serve``."""

from __future__ import annotations

import re
import subprocess

from cli_support import REPO
from test_serve_command import start


def quickstart_block() -> str:
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("## Quick start (curl)", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README's quick start has no sh block"
    return match.group(1)


def test_the_readme_quick_start_runs_the_whole_customer_care_loop() -> None:
    server = start()  # the defaults of `make serve`, on a free port instead of 8765
    try:
        script = quickstart_block().replace("http://127.0.0.1:8765", server.base_url)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
        )
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert '"status":"new"' in out  # the created conversation
    assert '"customerCareType":"response_to_consumer"' in out  # the supplier's answer
    assert '"status":"closed"' in out
    assert out.rstrip().endswith("}]}")  # the retailer's final list
    assert "Sorry! It ships tomorrow." in out.rsplit('"messages"', 1)[1]
