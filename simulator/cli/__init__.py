"""The ``dsco-sandbox`` command: wiring only — parse arguments, call the layers below, set exit codes.

One module per group of commands: ``arguments`` (the parser and its help texts), ``serve``,
``scenarios`` (replay and the starters), ``contracts`` (validate, contract test and diff) and
``state``; this module only dispatches.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .arguments import build_parser
from .contracts import contract_diff_command, contract_test_command, validate_command
from .scenarios import (
    examples_command,
    list_scenarios_command,
    new_scenario_command,
    new_world_command,
    replay_command,
)
from .serve import serve_command
from .state import state_command

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve_command(args)
    if args.command == "validate":
        return validate_command(args, sys.stdin, sys.stdout, sys.stderr)
    if args.command == "replay":
        return replay_command(args)
    if args.command == "scenario":
        return list_scenarios_command() if args.scenario_command == "list" else new_scenario_command(args)
    if args.command == "world":
        return new_world_command(args)
    if args.command == "examples":
        return examples_command(args.copy, sys.stdout, sys.stderr)
    if args.command == "state":
        return state_command(args, sys.stdout, sys.stderr)
    if args.contract_command == "test":
        return contract_test_command(args)
    return contract_diff_command(args, sys.stdout, sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
