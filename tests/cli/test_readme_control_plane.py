"""The README's "Controlling the sandbox" block runs as written against a real ``serve``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_support import readme_sh_block
from serve_support import start

pytestmark = pytest.mark.e2e


def control_block() -> str:
    return readme_sh_block("Controlling the sandbox")


def test_every_control_plane_example_in_the_readme_succeeds(tmp_path: Path) -> None:
    server = start()
    try:
        script = control_block().replace("http://127.0.0.1:8765", server.base_url)
        # -f makes curl fail on any HTTP error, so a broken example cannot pass unnoticed.
        script = script.replace("curl -s", "curl -sf")
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"status": "ok"' in result.stdout
    assert '"frozen": true' in result.stdout
    assert '"pageSize": 3' in result.stdout
    assert '"forceCount": 2' in result.stdout
    assert (tmp_path / "snapshot.json").stat().st_size > 1000
