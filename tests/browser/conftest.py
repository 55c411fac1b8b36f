"""A real headless Chromium, driven through chromedriver by Selenium, against a real ``serve``.

Debian's ``chromium`` and ``chromium-driver`` packages provide both binaries (``make test`` installs
them when it runs as root). Where they cannot be had, the browser tests are skipped with the reason,
except under ``CI=true``, where a missing browser fails them: CI must not pass without them.

The driver is given explicitly, so Selenium never tries to download one, and Chromium runs with a
fresh profile and every background download (updates, sync, QUIC) turned off: the tests need no
network beyond loopback.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_support import Served, start

CHROMIUM = Path(os.environ.get("DSCO_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("DSCO_CHROMEDRIVER", "/usr/bin/chromedriver"))
SCREENSHOTS_ENV = "DSCO_SCREENSHOTS"
"""A folder to keep the tests' screenshots in (``make screenshots`` sets it to docs/)."""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"no browser for the console tests: {reason} (as root, `make test` installs them)")


@pytest.fixture(scope="session")
def chromium_paths() -> tuple[Path, Path]:
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            _unavailable(f"{path} is missing (Debian package {package})")
    try:
        import selenium  # noqa: F401
    except ImportError:
        _unavailable("the selenium package is not installed (pip install -e '.[test]')")
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    served = start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def browser(chromium_paths: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = chromium_paths
    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = str(binary)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    try:
        chrome = webdriver.Chrome(service=Service(executable_path=str(driver)), options=options)
    except Exception as error:  # a browser that does not start is "no browser", said plainly
        _unavailable(f"chromium did not start: {str(error).splitlines()[0]}")
    chrome.set_page_load_timeout(20)
    try:
        yield chrome
    finally:
        chrome.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save their screenshots: $DSCO_SCREENSHOTS, or a temporary folder."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
