"""The command line's arguments: every command, option and help text of ``dsco-sandbox``.

The help texts are the README's command reference (``make docs`` regenerates it), so they live in
one module that builds the whole parser and does nothing else.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .. import __version__
from ..domain.operations import OPERATIONS
from ..storage.shared.options import add_store_options


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
    validate.add_argument("operation", metavar="OPERATION", help=f"one of: {', '.join(OPERATIONS)}")
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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value


def _persona_option(text: str) -> Any:
    from ..personas import parse_option

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
