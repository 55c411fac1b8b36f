"""Entry points for the command line: replaying scenario files, and starting a new one.

``replay_main`` is what ``dsco-sandbox replay`` calls: load every file first (a typo anywhere stops
the whole run before any request, exit 2), then run each scenario in a fresh in-process sandbox, or
one after another against ``target``, print a report per scenario and optionally write JUnit XML.
Exit 0 when every scenario passed, 1 when any failed.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml
from flask import Flask

from ..contract.validation import Contract
from ..control_client import ControlClient
from ..domain.clock import parse_rfc3339
from ..domain.config import SandboxConfig
from ..harness import NamespaceLease, NoNamespaces, lease_namespace, server_root
from ..http.app import ServerConfig, create_app
from ..loading.resources import data_dir
from .loader import ScenarioError, load_directory, load_scenario
from .model import Scenario, ScenarioResult
from .report import format_result, starter_scenario, write_junit_xml
from .runner import run_scenario
from .transport import API_PREFIX, HttpTransport, InProcessTransport, TransportError

Credentials = dict[str, tuple[str, str]]


def app_for(scenario: Scenario, *, contract: Contract | None = None, seed: int | None = None) -> Flask:
    """A fresh sandbox app for one in-process run: the scenario's world and seed, rate limit off.

    The rate limit is off as in every test fixture; a scenario about it turns it on in its config.
    """
    chosen = seed if seed is not None else scenario.seed
    config = ServerConfig(
        sandbox=SandboxConfig(seed=chosen if chosen is not None else 0, rate_limit=False),
        world_path=scenario.world,
    )
    return create_app(config, contract=contract)


def run_in_process(
    scenario: Scenario,
    *,
    contract: Contract | None = None,
    credentials: Mapping[str, tuple[str, str]] | None = None,
    seed: int | None = None,
) -> ScenarioResult:
    """Run ``scenario`` against a sandbox of its own in this process."""
    transport = InProcessTransport(app_for(scenario, contract=contract, seed=seed))
    try:
        return run_scenario(scenario, transport, credentials=credentials, seed=seed)
    finally:
        transport.close()


def replay_main(
    paths: Sequence[str | Path],
    *,
    target: str | None = None,
    credentials: Mapping[str, tuple[str, str]] | None = None,
    junit_xml: str | Path | None = None,
    seed: int | None = None,
    out: TextIO | None = None,
    namespace: str | None = None,
    fresh_namespace: bool = False,
    admin_token: str | None = None,
) -> int:
    """Replay scenario files or folders; 0 all passed, 1 any failed, 2 a file could not be loaded.

    Without ``target`` each scenario gets a fresh in-process sandbox. With one (a server root such as
    ``http://127.0.0.1:8765``, or an API base ending in ``/api/v3``) the scenarios run one after
    another against it; nothing is reset between them unless a scenario's own steps do so.
    ``namespace`` runs them in that namespace of the target; ``fresh_namespace`` in a new one,
    deleted at the end (``admin_token`` is the server's, when it has one).
    """
    out = out or sys.stdout
    contract = Contract()
    try:
        files = load_directory(paths)
    except ScenarioError as error:
        print("\n".join(error.problems), file=out)
        return 2
    if not files:
        print(f"no scenario files (*.yaml, *.yml, *.json) in {', '.join(map(str, paths))}", file=out)
        return 2
    scenarios: list[Scenario] = []
    problems: list[str] = []
    for path in files:
        try:
            scenarios.append(load_scenario(path, contract=contract))
        except ScenarioError as error:
            problems.extend(error.problems)
    if problems:
        print("\n".join(problems), file=out)
        print(f"{len(problems)} problem(s) in the scenario files; nothing was run", file=out)
        return 2
    results: list[ScenarioResult] = []
    if target:
        probe = HttpTransport(target, admin_token=admin_token)
        problem = unreachable(probe)
        probe.close()
        if problem is not None:
            print(f"{problem}; nothing was run", file=out)
            return 2
    lease: NamespaceLease | None = None
    if target and (namespace or fresh_namespace):
        try:
            target, lease = _namespaced(target, namespace, admin_token)
        except (NoNamespaces, RuntimeError, TransportError) as error:
            print(f"cannot use a namespace of {target}: {error}", file=out)
            return 2
        print(f"running in namespace {target}", file=out)
    token = lease.control_token if lease is not None else admin_token
    transport = HttpTransport(target, admin_token=token) if target else None
    if transport is not None and lease is None:  # a fresh namespace is the run's own: nobody else sees it
        print("\n".join(target_changes(scenarios, transport)), file=out, flush=True)
    clock_before = _target_clock(transport)
    try:
        for scenario in scenarios:
            if transport is None:
                result = run_in_process(scenario, contract=contract, credentials=credentials, seed=seed)
            else:
                result = run_scenario(scenario, transport, credentials=credentials, seed=seed)
            results.append(result)
            print(format_result(result), file=out, flush=True)
    finally:
        if transport is not None:
            moved = _clock_moved(transport, clock_before)
            if moved:
                print(moved, file=out)
            transport.close()
        if lease is not None:
            lease.release()
    if junit_xml is not None:
        write_junit_xml(results, junit_xml)
    passed = sum(1 for result in results if result.passed)
    print(f"{passed} of {len(results)} scenario(s) passed", file=out)
    return 0 if passed == len(results) else 1


def unreachable(transport: HttpTransport) -> str | None:
    """Why nothing answers at the target, or None when something does (any HTTP status will do).

    Asked once before running, so that a wrong URL costs one line instead of every step of every
    scenario failing with a connection error.
    """
    try:
        transport.request("GET", API_PREFIX)
    except TransportError as error:
        cause = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
        reason = cause.group(1).strip() if cause else str(error.__cause__ or error).split(":")[0]
        return f"{transport.description} does not answer ({reason})"
    return None


def target_changes(scenarios: Sequence[Scenario], transport: HttpTransport) -> list[str]:
    """What running ``scenarios`` will change on a shared target, said before anything is sent.

    Runs against a server are not isolated: they leave conversations behind, and against a sandbox
    their control steps wipe its data and move its clock, which everyone else using it sees.
    """
    where = transport.description
    count = f"{len(scenarios)} scenario(s)"
    if not transport.has_control_plane:
        return [
            f"running {count} against {where} (no sandbox control plane: control steps are skipped); it "
            "will keep the conversations and messages they create as their actors",
        ]

    def using(*actions: str) -> int:
        return sum(1 for scenario in scenarios if any(step.action in actions for step in scenario.steps))

    lines = [f"running {count} against the sandbox at {where} changes it for everyone using it:"]
    lines.append("  - conversations and messages are created as the scenarios' actors")
    if resets := using("reset"):
        lines.append(
            f"  - all its conversations, messages, journal and notifications are wiped (reset, in {resets})"
        )
    if moves := using("advance_clock", "set_clock", "poll_messages"):
        lines.append(
            f"  - its clock is moved (clock steps and polls, in {moves}) and is not put back: it stays ahead"
        )
    configured = sum(
        1 for s in scenarios if s.config is not None or any(step.action == "set_config" for step in s.steps)
    )
    if configured:
        lines.append(
            f"  - its settings and faults are changed (in {configured}), and put back after each scenario"
        )
    return lines


def _target_clock(transport: HttpTransport | None) -> tuple[int, float] | None:
    """The target sandbox's clock (microseconds) and this machine's monotonic time, read together."""
    if transport is None or not transport.has_control_plane:
        return None
    try:
        reply = ControlClient(transport).request("getClock")
    except TransportError:
        return None
    now = parse_rfc3339(str(reply.body.get("now"))) if isinstance(reply.body, dict) else None
    return None if now is None else (now, time.monotonic())


def _clock_moved(transport: HttpTransport, before: tuple[int, float] | None) -> str | None:
    """How far the run moved the target's clock beyond the time that really passed."""
    after = _target_clock(transport)
    if before is None or after is None:
        return None
    elapsed = after[1] - before[1]
    ahead = (after[0] - before[0]) / 1_000_000 - elapsed
    if abs(ahead) < 1:
        return None
    direction = "ahead of" if ahead > 0 else "behind"
    return f"the sandbox's clock is now {abs(ahead):.0f} s further {direction} real time than before the run"


def builtin_scenarios(names: Sequence[str] = ()) -> list[Path]:
    """The scenario files shipped with the package (all of them, or those ``names`` name).

    A name is a file's path inside the shipped folder, with or without its suffix, as
    ``dsco-sandbox scenario list`` shows it (``late-order-loop``, ``errors/401-unauthorized``).
    They come with the wheel, so an installed sandbox can replay them without a checkout.
    """
    folder = data_dir("scenarios")
    shipped = {_builtin_name(path, folder): path for path in load_directory([folder])}
    if not names:
        return list(shipped.values())
    unknown = [name for name in names if name.removesuffix(".yaml").removesuffix(".yml") not in shipped]
    if unknown:
        raise ScenarioError(
            [f"{name}: no such shipped scenario (see `dsco-sandbox scenario list`)" for name in unknown]
        )
    return [shipped[name.removesuffix(".yaml").removesuffix(".yml")] for name in names]


def list_builtin(out: TextIO, contract: Contract | None = None) -> int:
    """Print each shipped scenario: its name for ``replay --builtin NAME`` and its title."""
    folder = data_dir("scenarios")
    contract = contract or Contract()
    for path in builtin_scenarios():
        print(f"{_builtin_name(path, folder):<36} {load_scenario(path, contract=contract).name}", file=out)
    print(
        "\nrun one with `dsco-sandbox replay --builtin NAME`, all with `dsco-sandbox replay --builtin`;",
        file=out,
    )
    print(f"the files are in {folder}", file=out)
    return 0


def _builtin_name(path: Path, folder: Path) -> str:
    return path.relative_to(folder).with_suffix("").as_posix()


def _namespaced(target: str, name: str | None, admin_token: str | None) -> tuple[str, NamespaceLease | None]:
    """The root URL of namespace ``name`` on ``target`` (which must exist), or of a new one."""
    if name is None:
        lease = lease_namespace(target, admin_token, prefix="replay")
        return lease.base_url, lease
    root = f"{server_root(target)}/ns/{name}"
    control = ControlClient.over_http(root)
    try:
        reply = control.request("getHealth")
    finally:
        control.close()
    if reply.status == 404:
        raise RuntimeError(reply.text.strip())
    return root, None


def new_scenario(name: str, directory: str | Path = "scenarios") -> Path:
    """Write a starter scenario named ``name`` into ``directory``; never overwrites a file."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "scenario"
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.yaml"
    if path.exists():
        raise FileExistsError(f"{path} already exists; choose another name or remove it")
    path.write_text(starter_scenario(name), "utf-8")
    return path


# --- credentials for the command line -------------------------------------------------------------
def read_credentials(path: str | Path) -> Credentials:
    """A credentials file (YAML or JSON): ``actor: {client_id: ..., client_secret: ...}``.

    Kept out of scenario files so that real secrets for a vendor environment never get committed.
    """
    where = str(path)
    try:
        document: Any = yaml.safe_load(Path(path).read_text("utf-8"))
    except OSError as error:
        raise ValueError(f"{where}: cannot read the credentials file ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{where}: not valid YAML or JSON ({error})") from None
    if not isinstance(document, dict):
        raise ValueError(f"{where}: expected a mapping of actor -> {{client_id, client_secret}}")
    found: Credentials = {}
    for actor, entry in document.items():
        if not isinstance(entry, dict) or set(entry) - {"client_id", "client_secret"}:
            raise ValueError(f"{where}: {actor}: expected {{client_id: ..., client_secret: ...}}")
        found[str(actor)] = (str(entry.get("client_id") or ""), str(entry.get("client_secret") or ""))
    return found


def merge_credentials(
    base: Mapping[str, tuple[str, str]] | None,
    client_ids: Sequence[str] = (),
    client_secrets: Sequence[str] = (),
) -> Credentials:
    """``base`` (e.g. from a file) overridden by ``ACTOR=ID`` and ``ACTOR=SECRET`` options.

    An empty part means "keep the scenario file's value", so one can replace only a secret.
    """
    merged: Credentials = dict(base or {})
    for options, position in ((client_ids, 0), (client_secrets, 1)):
        for option in options:
            actor, sep, value = option.partition("=")
            if not sep or not actor:
                raise ValueError(f"{option!r}: expected ACTOR=VALUE")
            current = list(merged.get(actor, ("", "")))
            current[position] = value
            merged[actor] = (current[0], current[1])
    return merged
