"""The wheel carries contracts/, fixtures/ and scenarios/, so an installed sandbox needs no checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def wheel(built_wheel: Path) -> Path:
    return built_wheel


def test_the_wheel_carries_the_data_folders(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "simulator/_data/contracts/openapi.yaml" in names
    assert "simulator/_data/contracts/schemas/conversation.json" in names
    assert "simulator/_data/contracts/world.schema.json" in names
    assert "simulator/_data/fixtures/default-world.json" in names
    assert any(name.startswith("simulator/_data/scenarios/") for name in names)


def test_the_installed_wheel_validates_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # The installed copy comes first on the path, so the source tree is not what gets imported.
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import simulator, sys; sys.argv[0] = 'dsco-sandbox'; print(simulator.__file__)",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert result.stdout.strip().startswith(str(target))
    body = json.dumps({"title": "x" * 51})
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "validate", "createConversation", "-"],
        input=body,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout.strip() == "title: 51 characters, at most 50 allowed"


def test_the_wheel_carries_the_consoles_templates_and_stylesheet(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "simulator/http/console/static/console.css" in names
    for page in ("base", "landing", "conversations", "thread", "journal", "settings", "login", "personas"):
        assert f"simulator/http/console/templates/console/{page}.html" in names


def test_an_installed_wheel_serves_the_console(wheel: Path, tmp_path: Path) -> None:
    from serve_support import start

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    served = start(env={**os.environ, "PYTHONPATH": str(target)}, cwd=tmp_path)
    try:
        import requests

        landing = requests.get(served.base_url + "/", timeout=10)
        assert landing.status_code == 200 and "/console/conversations" in landing.text
        page = requests.get(served.base_url + "/console/conversations", timeout=10)
        assert page.status_code == 200 and "New conversation as" in page.text
        css = requests.get(served.base_url + "/console/static/console.css", timeout=10)
        assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
        contract = requests.get(served.base_url + "/docs/contracts/openapi.yaml", timeout=10)
        assert contract.status_code == 200 and "createConversation" in contract.text
    finally:
        served.stop()


def test_the_wheel_carries_the_examples_and_the_starter_world(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "simulator/_data/examples/supplier_integration.py" in names
    assert "simulator/_data/examples/retailer_integration.py" in names
    assert "simulator/_data/fixtures/starter-world.yaml" in names
