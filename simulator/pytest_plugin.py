"""The pytest plugin (entry point ``pytest11: dsco_sandbox``): sandbox fixtures and scenario files.

Wiring only; the machinery lives in :mod:`simulator.harness` and :mod:`simulator.scenario`.

Fixtures: ``dsco_sandbox`` (a real sandbox on a free loopback port, started once per session and
reset before every test; or ``--dsco-target URL``), ``dsco_app`` / ``dsco_client`` (the same sandbox
in-process, no socket). ``@pytest.mark.dsco(page_size=3, lag=(0, 0), rate_limit=True, strict=True,
world="my-world.json", personas="supplier")`` adjusts one test (a relative world path is taken from
the test file's folder, and the handle's roles become that world's accounts); the rate limit is off
unless a test turns it on, and nobody is played by the sandbox (a persona) unless a test asks.

Scenario files are opt-in: the ini option ``dsco_scenarios`` names the folders (relative to the ini
file) whose ``*.yaml`` / ``*.yml`` files are scenarios. Installing the package must not turn some
unrelated ``scenarios/load-test.yaml`` of the user's own project into a collection error. Each
scenario file in those folders (or named on the command line from inside them) becomes one test
that runs the scenario in a fresh in-process sandbox (its world and seed, rate limit off unless its
config turns it on), or against ``--dsco-target URL``. A failure shows the scenario report (the step,
the request, the expectation, the answer and the diff) instead of a traceback into the runner, which
says nothing about the integration being tested.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from .contract.validation import Contract
from .domain.config import SandboxConfig
from .domain.world import World
from .harness import (
    BackgroundServer,
    ControlPlane,
    Credentials,
    HttpControl,
    LocalControl,
    NamespaceLease,
    NoNamespaces,
    SandboxHandle,
    credentials_of,
    fresh_start,
    lease_namespace,
    persona_document,
)
from .http.app import ServerConfig, create_app
from .loading.bootstrap import WorldFileError, read_world, read_world_document, world_from_document
from .scenario.loader import ScenarioError, load_scenario
from .scenario.model import Scenario
from .scenario.replay import read_credentials, run_in_process, unreachable
from .scenario.report import format_result
from .scenario.runner import run_scenario
from .scenario.transport import HttpTransport

SCENARIO_FOLDERS_INI = "dsco_scenarios"
SUFFIXES = (".yaml", ".yml")
_CONTRACT_KEY = pytest.StashKey[Contract]()
_HANDLE_KEY = pytest.StashKey[SandboxHandle]()
_TARGET_KEY = pytest.StashKey[list[str]]()
REFUSALS_SECTION = "dsco-sandbox refusals"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        SCENARIO_FOLDERS_INI,
        type="paths",
        default=[],
        help="folders (relative to the ini file) whose *.yaml / *.yml files are dsco-sandbox scenarios, "
        "each run as a test; none unless named",
    )
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
    if file_path.suffix in SUFFIXES and _in_scenario_folder(file_path, parent.config):
        found: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
        return found
    return None


def _in_scenario_folder(path: Path, config: pytest.Config) -> bool:
    """Whether one of the folders named by the ``dsco_scenarios`` ini option holds the file."""
    folders: list[Path] = config.getini(SCENARIO_FOLDERS_INI)
    resolved = path.resolve()
    return any(resolved.is_relative_to(folder.resolve()) for folder in folders)


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
        f"{MARKER}(page_size=None, lag=None, rate_limit=None, strict=None, scroll_ttl=None, world=None, "
        "personas=None): settings of the dsco-sandbox for this test (personas: 'retailer', 'supplier', a "
        "list of them, or a persona document)",
    )
    target: str | None = config.getoption("--dsco-target")
    if target:
        config.stash[_TARGET_KEY] = _check_target(target, config.getoption("--dsco-admin-token"))


def _check_target(target: str, admin_token: str | None) -> list[str]:
    """Ask ``--dsco-target`` once before any test (one line if nothing answers), and say what the
    run will change there: a shared sandbox is prepared for every test, and nothing is undone."""
    transport = HttpTransport(target, admin_token=admin_token, timeout=10)
    try:
        problem = unreachable(transport)
        if problem is not None:
            raise pytest.UsageError(f"--dsco-target: {problem}; no test was run")
        if not transport.has_control_plane:
            return [
                f"dsco-sandbox: --dsco-target {target} has no sandbox control plane: scenario files run "
                "their API steps there (control steps skipped); the dsco_sandbox fixture cannot prepare it"
            ]
        return [
            f"dsco-sandbox: --dsco-target {target}: this session (each xdist worker) works in a namespace of "
            "its own there, created on first use and deleted at the end, so the target's default sandbox "
            "and its other users are not touched. A target without namespaces is used as it is and changed "
            "for everyone: before each test using dsco_sandbox, all its conversations, messages, journal "
            "and notifications are wiped, its faults cleared, its settings set for the test (rate limit "
            "off unless a marker turns it on) and its clock put back on wall time; scenario files may also "
            "wipe it and move its clock. Nothing is undone at the end."
        ]
    finally:
        transport.close()


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    return config.stash.get(_TARGET_KEY, None)


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
        self.credentials: dict[str, Credentials] | None = None
        self.remote: HttpControl | None = None
        self.personas_on = False
        self.lease: NamespaceLease | None = None
        self.target_checked = False

    def target_base(self) -> str | None:
        """Where ``--dsco-target`` runs go: this session's namespace on it, or the target itself."""
        if not self.target:
            return None
        if not self.target_checked:  # set once it is settled, so a failure fails every test alike
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            world: Any = read_world_document(self.world_path) if self.world_path else "default"
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
            if self.remote is None:  # one connection pool for the session, closed at its end
                self.remote = HttpControl(target, self.control_token())
            return SandboxHandle(target, self.remote, {})
        local = self.local()
        if self.server is None:
            self.server = BackgroundServer(self.app)
        return SandboxHandle(self.server.base_url, local, {})

    def prepare(self, control: ControlPlane, item: pytest.Item) -> dict[str, Credentials]:
        """Reset before a test and apply its marker; a test that swapped the world gets it back.

        Returns the credentials of the world now in force, so that ``dsco_sandbox.retailer`` and
        ``token("retailer")`` name the marker's world's accounts rather than the session's.
        """
        marker = item.get_closest_marker(MARKER)
        options = dict(marker.kwargs) if marker else {}
        settings: dict[str, Any] = {"rateLimit": {"enabled": False}}
        if self.baseline is not None and not self.target:
            baseline = self.baseline["config"]
            settings = {k: v for k, v in baseline.items() if k not in ("faults", "seed")}
        for name, value in options.items():
            if name in _MARKER_SETTINGS:
                settings.update(_MARKER_SETTINGS[name](value))
        world = _marker_world(self.contract, item, options["world"]) if options.get("world") else None
        if world or self.world_changed:
            if self.baseline is None:  # a --dsco-target: its own state is the one to come back to
                self.baseline = control.export_state()
            state = dict(self.baseline)
            if world:
                state["world"] = world[0]
            control.import_state(state)
            self.world_changed = world is not None
        fresh_start(control, settings)
        personas = options.get("personas")
        if personas is not None or self.personas_on:  # a reset keeps them: switch off what was on
            roles, document = (None, personas) if isinstance(personas, dict) else (personas, None)
            control.personas(persona_document(roles, document))
            self.personas_on = personas is not None
        if world:
            return credentials_of(world[1])
        return self.session_credentials(control)

    def session_credentials(self, control: ControlPlane) -> dict[str, Credentials]:
        """The accounts of the session's world (``--dsco-world``, the default world, or the target's)."""
        if isinstance(control, LocalControl):
            return credentials_of(control.sandbox.world)
        if self.credentials is None:
            self.credentials = credentials_of(read_world(self.contract, self.world_path))
        return self.credentials

    def close(self) -> None:
        if self.remote is not None:
            self.remote.close()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.lease is not None:
            lease, self.lease = self.lease, None
            lease.release()


def _marker_world(contract: Contract, item: pytest.Item, value: object) -> tuple[Any, World]:
    """The world file a ``dsco(world=...)`` marker names, read and checked: (document, world).

    A relative path is taken from the folder of the test file that carries the marker, so a test
    and its world file can move together. A missing or broken file fails the test with one line
    per problem instead of a traceback into the plugin.
    """
    given = Path(str(value))
    path = given if given.is_absolute() else item.path.parent / given
    where = f"@pytest.mark.dsco(world={str(value)!r})"
    if not path.is_file():
        pytest.fail(
            f"{where}: no file {path} (a relative path is taken from the test file's folder)", pytrace=False
        )
    try:
        document = read_world_document(path)
        return document, world_from_document(contract, document, str(path))
    except WorldFileError as error:
        pytest.fail(f"{where}: the world file is refused:\n{error}", pytrace=False)


@pytest.fixture(scope="session")
def _dsco_session(pytestconfig: pytest.Config) -> _Session:
    return _session_of(pytestconfig)  # closed by pytest_sessionfinish, after the scenario items too


@pytest.fixture
def dsco_sandbox(_dsco_session: _Session, request: pytest.FixtureRequest) -> SandboxHandle:
    """A running sandbox (or ``--dsco-target``), reset for this test: ``base_url``, ``api_url``,
    credentials per role (``.retailer``, ``.supplier``...), ``clock``, ``config()``, ``faults()``,
    ``events()``, ``notifications()``, ``snapshot()`` / ``restore()``."""
    handle = _dsco_session.handle()
    handle.credentials = _dsco_session.prepare(handle.control, request.node)
    request.node.stash[_HANDLE_KEY] = handle
    return handle


@pytest.fixture
def dsco_app(_dsco_session: _Session, request: pytest.FixtureRequest) -> Any:
    """The sandbox as an in-process Flask app (no socket), reset for this test."""
    control = _dsco_session.local()
    credentials = _dsco_session.prepare(control, request.node)
    request.node.stash[_HANDLE_KEY] = SandboxHandle("http://in-process", control, credentials)
    return _dsco_session.app


@pytest.fixture
def dsco_client(dsco_app: Any) -> Any:
    """A Flask test client of ``dsco_app``."""
    return dsco_app.test_client()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used the sandbox shows what the sandbox refused, and why, in its report.

    ``requests`` says only ``400 Client Error: BAD REQUEST``; the sandbox's answer names the field
    and what was expected, and that is the line an integrator needs.
    """
    report = yield
    handle = item.stash.get(_HANDLE_KEY, None)
    if handle is not None and report.when == "call" and report.failed:
        try:
            refusals = handle.refusals()
        except Exception as error:  # a vanished --dsco-target must not hide the test's own failure
            refusals = [f"(the sandbox's journal could not be read: {error})"]
        if refusals:
            report.sections.append((REFUSALS_SECTION, "\n".join(refusals)))
    return report
