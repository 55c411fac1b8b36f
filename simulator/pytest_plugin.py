"""The pytest plugin (entry point ``pytest11: dsco_sandbox``): sandbox fixtures and scenario files.

Wiring only; the machinery lives in :mod:`simulator.harness` and :mod:`simulator.scenario`.

Fixtures: ``dsco_sandbox`` (a real sandbox on a free loopback port, started once per session and
reset before every test; or ``--dsco-target URL``), ``dsco_app`` / ``dsco_client`` (the same sandbox
in-process, no socket). ``@pytest.mark.dsco(page_size=3, lag=(0, 0), rate_limit=True, strict=True,
world="my-world.json")`` adjusts one test; the rate limit is off unless a test turns it on.

Scenario files: every ``*.yaml`` / ``*.yml`` file inside a folder named ``scenarios`` becomes one test
that runs the scenario in a fresh in-process sandbox (its world and seed, rate limit off unless its
config turns it on), or against ``--dsco-target URL``. A failure shows the scenario report (the step,
the request, the expectation, the answer and the diff) instead of a traceback into the runner, which
says nothing about the integration being tested.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from .bootstrap import read_world
from .contract import Contract
from .domain.config import SandboxConfig
from .harness import (
    BackgroundServer,
    ControlPlane,
    HttpControl,
    LocalControl,
    NamespaceLease,
    NoNamespaces,
    SandboxHandle,
    credentials_of,
    fresh_start,
    lease_namespace,
)
from .http.app import ServerConfig, create_app
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
        "--dsco-admin-token", metavar="TOKEN", default=None, help="admin token of the --dsco-target sandbox"
    )
    group.addoption("--dsco-world", metavar="FILE", default=None, help="world file for the session's sandbox")
    group.addoption("--dsco-seed", metavar="N", type=int, default=0, help="seed of the session's sandbox")
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
        session = _session_of(config)
        target = session.target_base()
        if target:
            transport = HttpTransport(target, admin_token=session.control_token())
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


# --- fixtures ----------------------------------------------------------------------------------
MARKER = "dsco"
_MARKER_SETTINGS: Mapping[str, Callable[[Any], dict[str, Any]]] = MappingProxyType(
    {
        "page_size": lambda v: {"pageSize": v},
        "lag": lambda v: {"lag": {"min": v[0], "max": v[1]}},
        "rate_limit": lambda v: {"rateLimit": {"enabled": bool(v)}},
        "strict": lambda v: {"strict": bool(v)},
        "scroll_ttl": lambda v: {"scrollTtl": v},
    }
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(page_size=None, lag=None, rate_limit=None, strict=None, scroll_ttl=None, world=None): "
        "settings of the dsco-sandbox for this test",
    )


class DscoTargetWarning(UserWarning):
    """Something the user should know about the ``--dsco-target`` run."""


_SESSION_KEY = pytest.StashKey["_Session"]()


def _session_of(config: pytest.Config) -> _Session:
    """The session's one :class:`_Session`, shared by the fixtures and the scenario items."""
    session = config.stash.get(_SESSION_KEY, None)
    if session is None:
        session = _Session(config)
        config.stash[_SESSION_KEY] = session
    return session


def pytest_sessionfinish(session: pytest.Session) -> None:
    found = session.config.stash.get(_SESSION_KEY, None)
    if found is not None:
        found.close()


class _Session:
    """The session's sandbox: an in-process app, served on a socket only once a test asks for it.

    With ``--dsco-target`` the session (each xdist worker being a session of its own) creates a
    namespace of its own on the target and deletes it at the end, so a shared server's default
    sandbox and the other sessions are never touched; a target without namespaces (an older
    sandbox, the vendor's API) is used as it is, with a :class:`DscoTargetWarning` saying so.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.pytest_config = config
        self.target: str | None = config.getoption("--dsco-target")
        self.contract = _contract(config)
        world_option = config.getoption("--dsco-world")
        self.world_path = Path(world_option) if world_option else None
        self.app: Any = None
        self.server: BackgroundServer | None = None
        self.baseline: dict[str, Any] | None = None
        self.world_changed = False
        self.lease: NamespaceLease | None = None
        self.target_checked = False

    def target_base(self) -> str | None:
        """Where ``--dsco-target`` runs go: this session's namespace on it, or the target itself."""
        if not self.target:
            return None
        if not self.target_checked:  # set once it is settled, so a failure fails every test alike
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            world: Any = _read_json(self.world_path) if self.world_path else "default"
            try:
                self.lease = lease_namespace(
                    self.target,
                    self.pytest_config.getoption("--dsco-admin-token"),
                    prefix=f"pytest-{worker}",
                    world=world,
                    settings={"rateLimit": {"enabled": False}},
                )
            except NoNamespaces as why:
                warnings.warn(
                    DscoTargetWarning(
                        f"{self.target} offers no namespaces ({why}): the tests run against its one "
                        "sandbox, resetting it before every test"
                    ),
                    stacklevel=1,
                )
            self.target_checked = True
        return self.lease.base_url if self.lease is not None else self.target

    def control_token(self) -> str | None:
        """The token opening the target's control plane: the namespace's own, or the admin token."""
        admin: str | None = self.pytest_config.getoption("--dsco-admin-token")
        return self.lease.control_token if self.lease is not None else admin

    def local(self) -> LocalControl:
        if self.app is None:
            self.app = create_app(
                ServerConfig(
                    sandbox=SandboxConfig(seed=self.pytest_config.getoption("--dsco-seed"), rate_limit=False),
                    world_path=self.world_path,
                ),
                contract=self.contract,
            )
        control = LocalControl(self.app.extensions["dsco_sandbox"], self.contract)
        if self.baseline is None:
            self.baseline = control.export_state()
        return control

    def handle(self) -> SandboxHandle:
        target = self.target_base()
        if target:
            control: ControlPlane = HttpControl(target, self.control_token())
            return SandboxHandle(target, control, credentials_of(read_world(self.contract, self.world_path)))
        local = self.local()
        if self.server is None:
            self.server = BackgroundServer(self.app)
        return SandboxHandle(self.server.base_url, local, credentials_of(local.sandbox.world))

    def prepare(self, control: ControlPlane, item: pytest.Item) -> None:
        """Reset before a test and apply its marker; a test that swapped the world gets it back."""
        marker = item.get_closest_marker(MARKER)
        options = dict(marker.kwargs) if marker else {}
        settings: dict[str, Any] = {"rateLimit": {"enabled": False}}
        if self.baseline is not None:
            baseline = self.baseline["config"]
            settings = {k: v for k, v in baseline.items() if k not in ("faults", "seed")}
        for name, value in options.items():
            if name in _MARKER_SETTINGS:
                settings.update(_MARKER_SETTINGS[name](value))
        world = options.get("world")
        if self.baseline is not None and (world or self.world_changed):
            state = dict(self.baseline)
            if world:
                path = Path(str(world))
                state["world"] = _read_json(path if path.is_absolute() else item.path.parent / path)
            control.import_state(state)
            self.world_changed = bool(world)
        fresh_start(control, settings)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.lease is not None:
            lease, self.lease = self.lease, None
            lease.release()


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


@pytest.fixture(scope="session")
def _dsco_session(pytestconfig: pytest.Config) -> _Session:
    return _session_of(pytestconfig)  # closed by pytest_sessionfinish, after the scenario items too


@pytest.fixture
def dsco_sandbox(_dsco_session: _Session, request: pytest.FixtureRequest) -> SandboxHandle:
    """A running sandbox (or ``--dsco-target``), reset for this test: ``base_url``, ``api_url``,
    credentials per role (``.retailer``, ``.supplier``...), ``clock``, ``config()``, ``faults()``,
    ``events()``, ``notifications()``, ``snapshot()`` / ``restore()``."""
    handle = _dsco_session.handle()
    _dsco_session.prepare(handle.control, request.node)
    return handle


@pytest.fixture
def dsco_app(_dsco_session: _Session, request: pytest.FixtureRequest) -> Any:
    """The sandbox as an in-process Flask app (no socket), reset for this test."""
    control = _dsco_session.local()
    _dsco_session.prepare(control, request.node)
    return _dsco_session.app


@pytest.fixture
def dsco_client(dsco_app: Any) -> Any:
    """A Flask test client of ``dsco_app``."""
    return dsco_app.test_client()
