"""Installed from the wheel into a fresh venv, the plugin serves a throwaway test outside the repo.

The wheel goes into a brand-new virtual environment with ``pip install``; its dependencies are
borrowed from the test environment through a plain path entry (not a site dir, so the source tree's
editable install stays invisible), which keeps the test offline and quick while proving that what
runs is the installed wheel: its entry point, its packaged contracts, fixtures and scenarios.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

pytest_plugins = ["pytester"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fresh_python(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("installed")
    wheel = built_wheel
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", "utf-8")
    return python


def test_the_installed_package_is_the_wheel_not_the_source_tree(fresh_python: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(fresh_python), "-c", "import simulator; print(simulator.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert str(REPO) not in where
    version = subprocess.run(
        [str(fresh_python.parent / "dsco-sandbox"), "--version"], capture_output=True, text=True, cwd=tmp_path
    )
    assert version.returncode == 0 and version.stdout.startswith("dsco-sandbox ")


def test_a_throwaway_test_outside_the_repo_uses_dsco_sandbox(
    fresh_python: Path, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(
        test_throwaway="""
import requests

def test_my_supplier_integration_finds_the_complaint(dsco_sandbox):
    headers = {"Authorization": f"bearer {dsco_sandbox.token('retailer')}"}
    body = {"title": "Late order", "otherPartyTradingPartnerId": "aaa-bbb-ccc",
            "type": {"type": "customer_care", "consumerId": "12345"},
            "context": {"type": "order", "poNumber": "123-456-789"},
            "initialMessage": {"message": "Why is my order late?"}}
    created = requests.post(f"{dsco_sandbox.api_url}/conversation", json=body, headers=headers)
    assert created.status_code == 201
    dsco_sandbox.clock.advance(6)
    supplier = {"Authorization": f"bearer {dsco_sandbox.token('supplier')}"}
    found = requests.post(f"{dsco_sandbox.api_url}/conversation/message/list",
                          json={"type": {"type": "customer_care"}}, headers=supplier).json()["messages"]
    assert [m["type"]["customerCareType"] for m in found] == ["message_from_consumer"]
"""
    )
    result = pytester.run(
        str(fresh_python), "-m", "pytest", "-p", "no:cacheprovider", "-q", str(pytester.path)
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*1 passed*"])


def test_the_installed_package_replays_its_own_scenarios(fresh_python: Path, tmp_path: Path) -> None:
    command = str(fresh_python.parent / "dsco-sandbox")
    replayed = subprocess.run(
        [command, "replay", "--builtin", "late-order-loop"], capture_output=True, text=True, cwd=tmp_path
    )
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "1 of 1 scenario(s) passed" in replayed.stdout
    assert str(REPO) not in replayed.stdout and "site-packages" in replayed.stdout  # the wheel's copy
