"""The README's quick starts work by copy-paste against a real ``dsco-sandbox serve``, and print the
same thing when run again against the same server (they look only at what they created)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from cli_support import REPO
from serve_support import start

pytestmark = pytest.mark.e2e


def readme_block(heading: str, language: str) -> str:
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split(f"## {heading}", 1)[1]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"the README's {heading} has no {language} block"
    return match.group(1)


def test_both_quick_starts_print_the_same_lines_twice_against_one_server() -> None:
    server = start()  # the defaults of `make serve`, on a free port instead of 8765
    try:
        shell = readme_block("Quick start (curl)", "sh").replace("http://127.0.0.1:8765", server.base_url)
        python = readme_block("Quick start (Python)", "python").replace(
            "http://127.0.0.1:8765", server.base_url
        )
        # The second run moves the sandbox clock instead of sleeping (12 s saved); the first proves
        # the sleeps as written suffice.
        advance = f"curl -s {server.base_url}/_sandbox/clock -H 'Content-Type: application/json'"
        again = shell.replace("sleep 6", f"""{advance} -d '{{"advance": 6}}' >/dev/null""")
        assert again != shell
        runs = []
        for script in (shell, again):
            for command in (["bash", "-euo", "pipefail", "-c", script], [sys.executable, "-c", python]):
                result = subprocess.run(command, capture_output=True, text=True, timeout=60)
                assert result.returncode == 0, result.stderr
                runs.append(result.stdout)
    finally:
        server.stop()
    promised = readme_block("Quick start (curl)", "text")
    assert runs[0] == promised == runs[2]
    assert runs[1].split() == ["new", "1"] == runs[3].split()
