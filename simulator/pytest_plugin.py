"""The pytest plugin (entry point ``pytest11: dsco_sandbox``): scenario files as pytest tests.

Wiring only. Every ``*.yaml`` / ``*.yml`` file inside a folder named ``scenarios`` becomes one test
that runs the scenario in a fresh in-process sandbox (its world and seed, rate limit off unless its
config turns it on), or against ``--dsco-target URL``. A failure shows the scenario report (the step,
the request, the expectation, the answer and the diff) instead of a traceback into the runner, which
says nothing about the integration being tested.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .contract import Contract
from .scenario.loader import ScenarioError, load_scenario
from .scenario.model import Scenario
from .scenario.replay import read_credentials, run_in_process
from .scenario.report import format_result
from .scenario.runner import run_scenario
from .scenario.transport import HttpTransport

SCENARIO_FOLDER = "scenarios"
SUFFIXES = (".yaml", ".yml")
_CONTRACT_KEY = pytest.StashKey[Contract]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dsco-sandbox", "dsco-sandbox scenario files")
    group.addoption(
        "--dsco-target",
        metavar="URL",
        default=None,
        help="run scenario files against this server (a sandbox root such as http://127.0.0.1:8765, or an "
        "API base ending in /api/v3) instead of a fresh in-process sandbox each",
    )
    group.addoption(
        "--dsco-credentials",
        metavar="FILE",
        default=None,
        help="YAML/JSON file of actor -> {client_id, client_secret} replacing the scenario files' own",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    if file_path.suffix in SUFFIXES and _in_scenario_folder(file_path, parent.config.rootpath):
        found: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
        return found
    return None


def _in_scenario_folder(path: Path, root: Path) -> bool:
    """Whether a folder named ``scenarios`` holds the file (counting from the rootdir when inside it)."""
    try:
        folders = path.resolve().relative_to(root.resolve()).parts[:-1]
    except ValueError:
        folders = path.resolve().parts[:-1]
    return SCENARIO_FOLDER in folders


class ScenarioFailed(Exception):
    """A scenario that ran and failed; its message is the readable report."""


class ScenarioFile(pytest.File):
    """One scenario file, collected as one test item named after the scenario."""

    def collect(self) -> Iterator[ScenarioItem]:
        try:
            scenario = load_scenario(self.path, contract=_contract(self.config))
        except ScenarioError as error:
            raise self.CollectError(f"cannot load the scenario:\n{error}") from None
        yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        config = self.config
        credentials_file = config.getoption("--dsco-credentials")
        credentials = read_credentials(credentials_file) if credentials_file else None
        target: str | None = config.getoption("--dsco-target")
        if target:
            transport = HttpTransport(target)
            try:
                result = run_scenario(self.scenario, transport, credentials=credentials)
            finally:
                transport.close()
        else:
            result = run_in_process(self.scenario, contract=_contract(config), credentials=credentials)
        if not result.passed:
            raise ScenarioFailed(format_result(result))

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, f"scenario: {self.scenario.name}"


def _contract(config: pytest.Config) -> Contract:
    """One loaded contract per session: loading it is the slow part of starting a sandbox."""
    contract = config.stash.get(_CONTRACT_KEY, None)
    if contract is None:
        contract = Contract()
        config.stash[_CONTRACT_KEY] = contract
    return contract
