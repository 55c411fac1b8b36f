"""The ``dsco-sandbox`` command: wiring only — parse arguments, call the layers below, set exit codes."""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .contract import Contract
from .contract_deviations import DEVIATIONS_FILE, format_review, load_deviations, review
from .contract_diff import diff_specs, read_openapi
from .domain.config import SandboxConfig
from .domain.errors import InvalidRequest
from .resources import data_dir
from .shared.options import add_store_options, store_problem

if TYPE_CHECKING:
    from .namespace_store import NamespaceStore

SUCCESS_STATUS = MappingProxyType(
    {
        "getAccessToken": 200,
        "createConversation": 201,
        "updateConversation": 200,
        "getConversations": 200,
        "addConversationMessage": 201,
        "getConversationMessages": 200,
        "getHello": 200,
    }
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dsco-sandbox",
        description="A local, stateful simulator of the Dsco v3 Conversation API, and its contract tools.",
    )
    parser.add_argument("--version", action="version", version=f"dsco-sandbox {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the sandbox over HTTP", description="Run the sandbox over HTTP."
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port", type=int, default=8765, help="port to bind, 0 for any free one (default: %(default)s)"
    )
    serve.add_argument(
        "--world",
        type=Path,
        help="world file (JSON, or YAML by its suffix) to load instead of the default world; "
        "`dsco-sandbox world new` writes a starter",
    )
    serve.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for ids, lags and faults; tokens are always random (default: %(default)s)",
    )
    serve.add_argument(
        "--page-size", type=_positive_int, default=100, help="items per list page (default: %(default)s)"
    )
    serve.add_argument(
        "--lag",
        type=_lag_range,
        default=(0.2, 3.0),
        metavar="MIN,MAX",
        help="post-processing lag in seconds before new items show in lists (default: 0.2,3)",
    )
    serve.add_argument(
        "--no-rate-limit", action="store_true", help="turn off the 5 calls/s per operation limit"
    )
    serve.add_argument(
        "--validate-responses",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also check every response against the contract, answering 500 on a violation (default: off "
        "in serve, where it would cost about a third of a list call; always on in the test fixtures)",
    )
    serve.add_argument(
        "--server",
        choices=("waitress", "granian"),
        default="waitress",
        help="the HTTP server: waitress (pure Python, runs anywhere) or granian (faster; needs the "
        "'fast' extra and a POSIX system; saves a --state-file after every change but not again at "
        "exit) (default: %(default)s)",
    )
    serve.add_argument(
        "--threads",
        type=_positive_int,
        help="threads running the app (default: 8 with waitress, 1 with granian, as measured fastest)",
    )
    serve.add_argument(
        "--state-file",
        type=Path,
        help="load state from this file at start (when it exists) and keep every change in it: a SQLite "
        "database, each change committed before its answer, when it ends in .db, .sqlite or .sqlite3 "
        "(see README, Durable state); else a JSON file, rewritten after every change and at exit",
    )
    serve.add_argument(
        "--state-sync",
        choices=("normal", "full"),
        default="normal",
        help="with a SQLite --state-file: 'normal' keeps every answered change through a killed process; "
        "'full' also through a power loss, flushing the disk on every change (default: %(default)s)",
    )
    add_store_options(serve)
    serve.add_argument(
        "--log",
        action="store_true",
        help="print one line per API call on standard error: method, path, account, status, duration "
        "and the first line of a refusal",
    )
    serve.add_argument(
        "--persona",
        action="append",
        default=[],
        type=_persona_option,
        metavar="ROLE[=ID,...]",
        help="let the sandbox play the world's retailers or suppliers (retailer, supplier, or e.g. "
        "retailer=1000001 for named accounts); repeatable",
    )
    serve.add_argument(
        "--personas",
        type=Path,
        metavar="FILE",
        help="persona file (YAML) saying who the sandbox plays and how (schemas/sandbox-personas.json)",
    )
    serve.add_argument(
        "--admin-token",
        help="require this bearer token on every /_sandbox call (needed to bind to a non-loopback host). "
        "A flag's value shows in `ps` to every user of the machine: prefer the environment variable "
        "DSCO_SANDBOX_ADMIN_TOKEN, read when this flag is not given",
    )
    _add_namespace_options(serve)

    validate = commands.add_parser(
        "validate",
        help="check a JSON payload against the contract",
        description="Check a request (or, with --response, a response) body against the contract. "
        "Exit 0 when valid, 1 when it breaks the contract, 2 when it cannot be read.",
    )
    validate.add_argument("operation", metavar="OPERATION", help=f"one of: {', '.join(SUCCESS_STATUS)}")
    validate.add_argument("file", metavar="FILE", help="JSON file to check, or - for standard input")
    validate.add_argument(
        "--response", action="store_true", help="check a response body instead of a request"
    )
    validate.add_argument(
        "--status", type=int, help="response status to check against (default: the success status)"
    )

    replay = commands.add_parser(
        "replay",
        help="run scenario files and report each step",
        description="Run scenario files (or every scenario in the given folders) and report each step. "
        "Without --target each scenario gets a fresh in-process sandbox. Exit 0 when all pass, 1 when "
        "any fails, 2 when a file cannot be loaded (nothing is sent then).",
    )
    replay.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="scenario files or folders; with --builtin, names from `dsco-sandbox scenario list` (none: all)",
    )
    replay.add_argument(
        "--builtin",
        action="store_true",
        help="run the scenarios shipped with dsco-sandbox (no checkout needed)",
    )
    replay.add_argument(
        "--target", help="base URL of a server to run against (a sandbox, or the vendor's API)"
    )
    replay.add_argument(
        "--client-id",
        action="append",
        default=[],
        metavar="ACTOR=ID",
        help="client id for an actor (repeatable)",
    )
    replay.add_argument(
        "--client-secret",
        action="append",
        default=[],
        metavar="ACTOR=SECRET",
        help="client secret for an actor (repeatable)",
    )
    replay.add_argument(
        "--credentials", type=Path, metavar="FILE", help="YAML/JSON file: actor -> {client_id, client_secret}"
    )
    replay.add_argument("--junit-xml", type=Path, metavar="FILE", help="also write a JUnit XML report")
    replay.add_argument("--seed", type=int, help="override every scenario's seed")
    where = replay.add_mutually_exclusive_group()
    where.add_argument(
        "--namespace", metavar="NAME", help="with --target: run in this namespace of the target (/ns/NAME)"
    )
    where.add_argument(
        "--fresh-namespace",
        action="store_true",
        help="with --target: run in a new namespace of the target, deleted at the end",
    )
    replay.add_argument(
        "--admin-token",
        default=os.environ.get("DSCO_SANDBOX_ADMIN_TOKEN") or None,
        help="the target's admin token, for its control plane and --fresh-namespace "
        "(default: $DSCO_SANDBOX_ADMIN_TOKEN)",
    )

    scenario = commands.add_parser(
        "scenario", help="work with scenario files", description="Work with scenarios."
    )
    scenario_commands = scenario.add_subparsers(dest="scenario_command", required=True, metavar="SUBCOMMAND")
    new = scenario_commands.add_parser(
        "new",
        help="write a commented starter scenario",
        description="Write NAME.yaml, a commented starter scenario showing every feature of the format.",
    )
    new.add_argument("name", metavar="NAME")
    scenario_commands.add_parser(
        "list",
        help="list the scenarios shipped with dsco-sandbox",
        description="List the scenarios shipped with dsco-sandbox, by the name `replay --builtin NAME` "
        "takes, with their titles, and say where the installed files are.",
    )
    new.add_argument(
        "--dir", type=Path, default=Path("scenarios"), help="folder to write to (default: %(default)s)"
    )

    examples = commands.add_parser(
        "examples",
        help="show or copy the example integrations",
        description="The example retailer and supplier integrations (plain scripts using only requests) "
        "come with the package: list where they are installed, or copy them into a folder to adapt.",
    )
    examples.add_argument("--copy", type=Path, metavar="DIR", help="copy them into DIR (never overwrites)")

    world = commands.add_parser("world", help="work with world files", description="Work with world files.")
    world_commands = world.add_subparsers(dest="world_command", required=True, metavar="SUBCOMMAND")
    new_world = world_commands.add_parser(
        "new",
        help="write a small commented world file",
        description="Write NAME.yaml, a small world (two accounts trading with each other, an order, an "
        "item, an invoice) whose comments explain every part; serve it with `dsco-sandbox serve --world "
        "NAME.yaml`. contracts/world.schema.json describes every field.",
    )
    new_world.add_argument("name", metavar="NAME")
    new_world.add_argument("--dir", type=Path, default=Path("."), help="folder to write to (default: .)")

    contract = commands.add_parser(
        "contract", help="work with the contract", description="Work with the contract."
    )
    contract_commands = contract.add_subparsers(dest="contract_command", required=True, metavar="SUBCOMMAND")
    diff = contract_commands.add_parser(
        "diff",
        help="compare our contract with another OpenAPI document",
        description="List what another OpenAPI document (such as a newer vendor spec) adds, removes or "
        "changes compared with the sandbox's contract: operations, statuses, media types, properties, "
        "types, enum values, required fields, and every keyword that constrains a value (pattern, "
        "format, lengths, bounds, const, additionalProperties...). Differences declared in the "
        "contract's deviations.yaml are listed as accepted deviations, with their reasons. Exit 0 when "
        "nothing else differs, 1 when something does, 2 when a document cannot be read.",
    )
    diff.add_argument("spec", type=Path, metavar="SPEC", help="the other OpenAPI document (YAML or JSON)")
    diff.add_argument(
        "--ours", type=Path, help="our contract (default: the installed contracts/openapi.yaml)"
    )
    conformance = contract_commands.add_parser(
        "test",
        help="check a running server against the contract (Schemathesis)",
        description="Send generated requests (valid and invalid) to a server that claims to speak the "
        "contract and check every answer: no server errors, documented status codes and content types, "
        "response schemas, invalid data refused, and links followed between operations. Exit 0 when "
        "clean, 1 when any check fails, 2 when the target cannot be reached.",
    )
    conformance.add_argument("--target", required=True, help="server root or API base URL (.../api/v3)")
    conformance.add_argument("--token", help="a bearer token to send (e.g. a sandbox legacy token)")
    conformance.add_argument("--client-id", help="OAuth2 client id to get a token with")
    conformance.add_argument("--client-secret", help="OAuth2 client secret to get a token with")
    conformance.add_argument(
        "--max-examples", type=_positive_int, default=50, help="examples per operation (default: %(default)s)"
    )
    conformance.add_argument("--no-stateful", action="store_true", help="skip the phase that follows links")
    conformance.add_argument(
        "--seed",
        type=int,
        help="seed of the generated requests, to repeat a run exactly (default: a new one, printed)",
    )
    _add_state_commands(commands)
    return parser


def _add_namespace_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--max-namespaces",
        type=_whole_number,
        default=100,
        help="how many namespaces (/ns/NAME/...) the server holds at most; 0 turns them off "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--namespace-ttl",
        type=_positive_float,
        default=3600.0,
        metavar="SECONDS",
        help="drop a namespace after this many seconds of wall time without a request, unless it was "
        "created with its own idleTtl (default: %(default)s)",
    )
    serve.add_argument(
        "--allow-webhook-hosts",
        action="store_true",
        help="let worlds posted for namespaces name webhook URLs on any host (default: loopback only, so "
        "that a shared server cannot be made to call internal addresses)",
    )


def _add_state_commands(commands: Any) -> None:
    state = commands.add_parser(
        "state",
        help="export or import the state a SQLite state database holds (offline)",
        description="Work on a state database (a --state-file ending in .db, .sqlite or .sqlite3) while no "
        "server uses it. Exit 0 on success, 2 when a file cannot be used (nothing is changed then).",
    )
    actions = state.add_subparsers(dest="state_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="write the state as the JSON document GET /_sandbox/state sends",
        description="Write the state a database holds as the JSON document GET /_sandbox/state sends.",
    )
    export.add_argument("database", type=Path, metavar="DATABASE", help="the state database to read")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    imported = actions.add_parser(
        "import",
        help="replace a database's state with a JSON state document",
        description="Replace the state a database holds (creating it if needed) with a JSON state "
        "document, as PUT /_sandbox/state does: checked completely first, then written in one transaction.",
    )
    imported.add_argument("database", type=Path, metavar="DATABASE", help="the state database to write")
    imported.add_argument("file", type=Path, metavar="FILE", help="the JSON state document to import")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "validate":
        return _validate(args, sys.stdin, sys.stdout, sys.stderr)
    if args.command == "replay":
        return _replay(args)
    if args.command == "scenario":
        return _list_scenarios() if args.scenario_command == "list" else _new_scenario(args)
    if args.command == "world":
        return _new_world(args)
    if args.command == "examples":
        return _examples(args.copy, sys.stdout, sys.stderr)
    if args.command == "state":
        return _state(args, sys.stdout, sys.stderr)
    if args.contract_command == "test":
        return _contract_test(args)
    return _contract_diff(args, sys.stdout, sys.stderr)


# --- serve -----------------------------------------------------------------------------------
def _serve(args: argparse.Namespace) -> int:
    from .bootstrap import WorldFileError
    from .http.app import ServerConfig, create_app
    from .http.namespace_control import create_server_app
    from .http.namespaces import NamespaceOptions
    from .http.server import (
        PortInUse,
        ServerUnavailable,
        address_problem,
        log_calls,
        resolves_to_loopback,
        serve,
        serve_granian,
    )
    from .http.workers import serve_workers, share_app
    from .personas import PersonaFileError
    from .statefile import StateFile

    lag_min, lag_max = args.lag
    host = args.host[1:-1] if args.host.startswith("[") and args.host.endswith("]") else args.host
    if args.admin_token:
        print(
            "dsco-sandbox: note: --admin-token shows in `ps` to every user of this machine; "
            "set DSCO_SANDBOX_ADMIN_TOKEN in the environment instead",
            file=sys.stderr,
        )
    admin_token = args.admin_token or os.environ.get("DSCO_SANDBOX_ADMIN_TOKEN") or None
    try:
        settings = SandboxConfig(
            seed=args.seed,
            page_size=args.page_size,
            lag_min=lag_min,
            lag_max=lag_max,
            rate_limit=not args.no_rate_limit,
            validate_responses=args.validate_responses,
        )
    except InvalidRequest as error:
        print(f"dsco-sandbox: cannot start: {error}", file=sys.stderr)
        return 2
    config = ServerConfig(
        sandbox=settings,
        world_path=args.world,
        admin_token=admin_token,
        state_file=args.state_file,
        loopback_only=_is_loopback(host),
        personas_file=args.personas,
        persona_options=tuple(args.persona),
        state_sync=args.state_sync,
    )
    problem = address_problem(host, args.port)
    if problem is not None:
        print(f"dsco-sandbox: cannot serve: {problem}", file=sys.stderr)
        return 2
    if not (_is_loopback(host) or resolves_to_loopback(host)) and not admin_token:
        print(
            f"dsco-sandbox: refusing to serve on {args.host}: the control plane (/_sandbox) could then be "
            "reached by anyone on the network; set DSCO_SANDBOX_ADMIN_TOKEN (or pass --admin-token) to "
            "require a token for it",
            file=sys.stderr,
        )
        return 2
    problem = StateFile(args.state_file).problem() if args.state_file else None
    if problem is not None:
        print(f"dsco-sandbox: cannot serve: --state-file {problem}", file=sys.stderr)
        return 2
    problem = store_problem(args)
    if problem is not None:
        print(f"dsco-sandbox: cannot serve: {problem}", file=sys.stderr)
        return 2
    try:
        app = (
            create_app(config)
            if args.max_namespaces == 0
            else create_server_app(
                config,
                NamespaceOptions(
                    cap=args.max_namespaces,
                    default_ttl=args.namespace_ttl,
                    allow_webhook_hosts=args.allow_webhook_hosts,
                    store=_namespace_store(args.state_file, args.state_sync),
                ),
            )
        )
    except (WorldFileError, PersonaFileError) as exc:
        print(f"dsco-sandbox: cannot start:\n{exc}", file=sys.stderr)
        return 2
    if args.log:
        log_calls(app.extensions["dsco_sandbox"], sys.stderr)
    try:
        if args.store is not None:
            share_app(app, args.store, args.redis_prefix)
            return serve_workers(app, host, args.port, args.workers, threads=args.threads or 8)
        if args.server == "waitress":
            return serve(app, host=host, port=args.port, threads=args.threads or 8)
        return serve_granian(app, host=host, port=args.port, threads=args.threads or 1)
    except (PortInUse, WorldFileError) as exc:  # the address, or the shared store (SharedStoreError)
        print(f"dsco-sandbox: cannot serve: {exc}", file=sys.stderr)
        return 2
    except ServerUnavailable as exc:
        print(f"dsco-sandbox: cannot serve with {args.server}: {exc}", file=sys.stderr)
        return 2


def _namespace_store(state_file: Path | None, sync: str) -> NamespaceStore | None:
    """Where namespaces are kept: in the state database itself, or a folder beside a JSON state file."""
    from .namespace_db import NamespaceDatabase
    from .namespace_store import NamespaceFolder
    from .statedb import is_database_path

    if state_file is None:
        return None
    if is_database_path(state_file):
        return NamespaceDatabase(state_file, sync=sync)
    return NamespaceFolder.beside(state_file)


def _is_loopback(host: str) -> bool:
    from .webhooks import is_loopback_host

    return is_loopback_host(host)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value


def _persona_option(text: str) -> Any:
    from .personas import parse_option

    try:
        return parse_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _whole_number(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected more than 0 seconds, got {text}")
    return value


def _lag_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX in seconds (like 0.2,3), got {text!r}") from None
    if low < 0 or high < low:
        raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {text!r}")
    return low, high


# --- validate --------------------------------------------------------------------------------
def _validate(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    contract = Contract()
    if args.operation not in contract.operations:
        print(f"unknown operation {args.operation!r}; use one of: {', '.join(SUCCESS_STATUS)}", file=err)
        return 2
    name = "<stdin>" if args.file == "-" else args.file
    try:
        text = stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except OSError as exc:
        print(f"{name}: cannot read: {exc.strerror}", file=err)
        return 2
    try:
        payload: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        print(f"{name}: line {exc.lineno} column {exc.colno}: malformed JSON: {exc.msg}", file=err)
        return 2
    if args.response:
        status = args.status or SUCCESS_STATUS[args.operation]
        violations = contract.validate_response(args.operation, status, payload)
        what = f"{args.operation} {status} response"
    else:
        violations = contract.validate_request(args.operation, payload)
        what = f"{args.operation} request"
    for violation in violations:
        print(violation, file=out)
    if violations:
        print(f"{name}: {len(violations)} problem(s) in this {what}", file=err)
        return 1
    print(f"{name}: a valid {what}", file=err)
    return 0


# --- scenarios ---------------------------------------------------------------------------------
def _replay(args: argparse.Namespace) -> int:
    from .scenario.loader import ScenarioError
    from .scenario.replay import builtin_scenarios, merge_credentials, read_credentials, replay_main

    try:
        base = read_credentials(args.credentials) if args.credentials else {}
        credentials = merge_credentials(base, args.client_id, args.client_secret)
    except ValueError as exc:
        print(f"dsco-sandbox: {exc}", file=sys.stderr)
        return 2
    if (args.namespace or args.fresh_namespace) and not args.target:
        print("dsco-sandbox: --namespace and --fresh-namespace need --target", file=sys.stderr)
        return 2
    paths: list[str | Path] = list(args.paths)
    if args.builtin:
        try:
            paths = list(builtin_scenarios(args.paths))
        except ScenarioError as error:
            print("\n".join(f"dsco-sandbox: {problem}" for problem in error.problems), file=sys.stderr)
            return 2
    elif not paths:
        print(
            "dsco-sandbox replay: name scenario files or folders, or --builtin for the shipped ones",
            file=sys.stderr,
        )
        return 2
    return replay_main(
        paths,
        target=args.target,
        credentials=credentials,
        junit_xml=args.junit_xml,
        seed=args.seed,
        namespace=args.namespace,
        fresh_namespace=args.fresh_namespace,
        admin_token=args.admin_token,
    )


def _list_scenarios() -> int:
    from .scenario.replay import list_builtin

    return list_builtin(sys.stdout)


def _new_scenario(args: argparse.Namespace) -> int:
    from .scenario.replay import new_scenario

    try:
        path = new_scenario(args.name, args.dir)
    except FileExistsError as exc:
        print(f"dsco-sandbox: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}: edit it, then run `dsco-sandbox replay {path}`")
    return 0


def _examples(copy_to: Path | None, out: TextIO, err: TextIO) -> int:
    folder = data_dir("examples")
    scripts = sorted(folder.glob("*.py"))
    if copy_to is None:
        for script in scripts:
            summary = (ast.get_docstring(ast.parse(script.read_text("utf-8"))) or "").split("\n")[0]
            print(f"{script}\n    {summary}", file=out)
        print(
            "copy them with `dsco-sandbox examples --copy DIR`; run one with --help for its options", file=out
        )
        return 0
    taken = [copy_to / s.name for s in scripts if (copy_to / s.name).exists()]
    if taken:
        print(f"dsco-sandbox: {', '.join(map(str, taken))} already exist(s); nothing copied", file=err)
        return 2
    try:
        copy_to.mkdir(parents=True, exist_ok=True)
        for script in scripts:
            shutil.copyfile(script, copy_to / script.name)
    except OSError as exc:
        print(f"dsco-sandbox: cannot copy into {copy_to}: {exc.strerror}", file=err)
        return 2
    print(f"copied {', '.join(s.name for s in scripts)} into {copy_to}", file=out)
    return 0


def _new_world(args: argparse.Namespace) -> int:
    from .bootstrap import new_world

    try:
        path = new_world(args.name, args.dir)
    except (FileExistsError, OSError) as exc:
        print(f"dsco-sandbox: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}: edit it, then run `dsco-sandbox serve --world {path}`")
    return 0


def _contract_test(args: argparse.Namespace) -> int:
    from .conformance import run_conformance

    return run_conformance(
        args.target,
        token=args.token,
        client_id=args.client_id,
        client_secret=args.client_secret,
        max_examples=args.max_examples,
        stateful=not args.no_stateful,
        out=sys.stdout,
        seed=args.seed,
    )


# --- state ---------------------------------------------------------------------------------------
def _state(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .statedb import StateDatabaseError, export_database, import_into_database, is_database_path

    contract = Contract()
    if not is_database_path(args.database):
        print(f"{args.database}: a state database ends in .db, .sqlite or .sqlite3", file=err)
        return 2
    try:
        if args.state_command == "import":
            counts = import_into_database(contract, args.database, args.file)
            print(f"{args.database}: imported {args.file} ({counts})", file=err)
            return 0
        if args.output is None:
            counts = export_database(contract, args.database, out)
        else:
            with args.output.open("w", encoding="utf-8") as target:
                counts = export_database(contract, args.database, target)
        print(f"{args.database}: exported {counts}", file=err)
        return 0
    except StateDatabaseError as exc:
        print(exc, file=err)
        return 2
    except OSError as exc:
        print(f"{exc.filename}: cannot write ({exc.strerror})", file=err)
        return 2


# --- contract diff ---------------------------------------------------------------------------
def _contract_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ours_path = args.ours or data_dir("contracts") / "openapi.yaml"
    try:
        ours, theirs = read_openapi(ours_path), read_openapi(args.spec)
    except OSError as exc:
        print(f"cannot read a document: {exc.filename}: {exc.strerror}", file=err)
        return 2
    except ValueError as exc:
        print(f"cannot read a document: {exc}", file=err)
        return 2
    try:
        deviations = load_deviations(Path(ours_path).parent / DEVIATIONS_FILE)
    except (OSError, ValueError) as exc:
        print(f"cannot read the declared deviations: {exc}", file=err)
        return 2
    outcome = review(diff_specs(ours, theirs), deviations)
    print(format_review(outcome), file=out)
    return 1 if outcome.differences else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
