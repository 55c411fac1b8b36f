"""The README's Python quick start runs as written against a real ``serve``."""

from __future__ import annotations

import re
import subprocess
import sys

from cli_support import REPO
from serve_support import start


def python_block() -> str:
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("## Quick start (Python)", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Python quick start has no python block"
    return match.group(1)


def test_the_readme_python_quick_start_runs() -> None:
    server = start()
    try:
        code = python_block().replace("http://127.0.0.1:8765", server.base_url)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["new", "1"]
