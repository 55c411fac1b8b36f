"""The README's "Namespaces" block runs as written against a real ``serve``, and does what it says."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_support import readme_sh_block
from serve_support import start

pytestmark = pytest.mark.e2e


def namespaces_block() -> str:
    return readme_sh_block("Namespaces")


def test_the_namespace_examples_in_the_readme_succeed(tmp_path: Path) -> None:
    server = start()
    try:
        script = namespaces_block().replace("http://127.0.0.1:8765", server.base_url)
        script = script.replace("curl -s", "curl -sf")  # any HTTP error fails the script
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        default_state = json.loads(
            subprocess.run(
                ["curl", "-sf", f"{server.base_url}/_sandbox/state"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
        )
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"apiUrl": "' + server.base_url + '/ns/team-a/api/v3"' in result.stdout
    assert '"conversations": 1' in result.stdout  # the listing, before the namespace is dropped
    assert default_state["conversations"] == []  # the default sandbox saw none of it
