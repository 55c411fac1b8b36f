"""The ``dsco-sandbox`` command: wiring only — parse arguments, call the layers below, set exit codes."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, TextIO

from . import __version__
from .contract import Contract
from .contract_diff import diff_specs, format_report, load_spec
from .domain.config import SandboxConfig
from .resources import data_dir

SUCCESS_STATUS = MappingProxyType(
    {
        "getAccessToken": 200,
        "createConversation": 201,
        "updateConversation": 200,
        "getConversations": 200,
        "addConversationMessage": 201,
        "getConversationMessages": 200,
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
    serve.add_argument("--world", type=Path, help="world file to load instead of the default world")
    serve.add_argument(
        "--seed", type=int, default=0, help="seed for ids, lags and tokens (default: %(default)s)"
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
    serve.add_argument(
        "--admin-token",
        default=os.environ.get("DSCO_SANDBOX_ADMIN_TOKEN") or None,
        help="require this bearer token on every /_sandbox call (needed to bind to a non-loopback host; "
        "default: $DSCO_SANDBOX_ADMIN_TOKEN)",
    )

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
    replay.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
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
    new.add_argument(
        "--dir", type=Path, default=Path("scenarios"), help="folder to write to (default: %(default)s)"
    )

    contract = commands.add_parser(
        "contract", help="work with the contract", description="Work with the contract."
    )
    contract_commands = contract.add_subparsers(dest="contract_command", required=True, metavar="SUBCOMMAND")
    diff = contract_commands.add_parser(
        "diff",
        help="compare our contract with another OpenAPI document",
        description="List what another OpenAPI document (such as a newer vendor spec) adds, removes or "
        "changes compared with the sandbox's contract: operations, properties, enum values, required "
        "fields, types. Exit 0 when they agree, 1 when they differ, 2 when a document cannot be read.",
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
    _add_state_commands(commands)
    return parser


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
        return _new_scenario(args)
    if args.command == "state":
        return _state(args, sys.stdout, sys.stderr)
    if args.contract_command == "test":
        return _contract_test(args)
    return _contract_diff(args, sys.stdout, sys.stderr)


# --- serve -----------------------------------------------------------------------------------
def _serve(args: argparse.Namespace) -> int:
    from .bootstrap import WorldFileError
    from .http.app import ServerConfig, create_app
    from .http.server import ServerUnavailable, serve, serve_granian

    lag_min, lag_max = args.lag
    config = ServerConfig(
        sandbox=SandboxConfig(
            seed=args.seed,
            page_size=args.page_size,
            lag_min=lag_min,
            lag_max=lag_max,
            rate_limit=not args.no_rate_limit,
            validate_responses=args.validate_responses,
        ),
        world_path=args.world,
        admin_token=args.admin_token,
        state_file=args.state_file,
        state_sync=args.state_sync,
    )
    if not _is_loopback(args.host) and not args.admin_token:
        print(
            f"dsco-sandbox: refusing to serve on {args.host}: the control plane (/_sandbox) could then be "
            "reached by anyone on the network; pass --admin-token TOKEN to require a token for it",
            file=sys.stderr,
        )
        return 2
    try:
        app = create_app(config)
    except WorldFileError as exc:
        print(f"dsco-sandbox: cannot start:\n{exc}", file=sys.stderr)
        return 2
    if args.server == "waitress":
        return serve(app, host=args.host, port=args.port, threads=args.threads or 8)
    try:
        return serve_granian(app, host=args.host, port=args.port, threads=args.threads or 1)
    except ServerUnavailable as exc:
        print(f"dsco-sandbox: cannot serve with granian: {exc}", file=sys.stderr)
        return 2


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
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
    from .scenario.replay import merge_credentials, read_credentials, replay_main

    try:
        base = read_credentials(args.credentials) if args.credentials else {}
        credentials = merge_credentials(base, args.client_id, args.client_secret)
    except ValueError as exc:
        print(f"dsco-sandbox: {exc}", file=sys.stderr)
        return 2
    return replay_main(
        args.paths, target=args.target, credentials=credentials, junit_xml=args.junit_xml, seed=args.seed
    )


def _new_scenario(args: argparse.Namespace) -> int:
    from .scenario.replay import new_scenario

    try:
        path = new_scenario(args.name, args.dir)
    except FileExistsError as exc:
        print(f"dsco-sandbox: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}: edit it, then run `dsco-sandbox replay {path}`")
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
        ours, theirs = load_spec(ours_path), load_spec(args.spec)
    except (OSError, ValueError) as exc:
        print(f"cannot read a document: {exc}", file=err)
        return 2
    differences = diff_specs(ours, theirs)
    print(format_report(differences), file=out)
    return 1 if differences else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
