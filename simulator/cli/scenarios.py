"""The scenario commands (``replay``, ``scenario list|new``) and the starters (``examples``, ``world``)."""

from __future__ import annotations

import argparse
import ast
import shutil
import sys
from pathlib import Path
from typing import TextIO

from ..loading.resources import data_dir


def replay_command(args: argparse.Namespace) -> int:
    from ..scenario.loader import ScenarioError
    from ..scenario.replay import builtin_scenarios, merge_credentials, read_credentials, replay_main

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


def list_scenarios_command() -> int:
    from ..scenario.replay import list_builtin

    return list_builtin(sys.stdout)


def new_scenario_command(args: argparse.Namespace) -> int:
    from ..scenario.replay import new_scenario

    try:
        path = new_scenario(args.name, args.dir)
    except FileExistsError as exc:
        print(f"dsco-sandbox: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}: edit it, then run `dsco-sandbox replay {path}`")
    return 0


def examples_command(copy_to: Path | None, out: TextIO, err: TextIO) -> int:
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


def new_world_command(args: argparse.Namespace) -> int:
    from ..loading.bootstrap import new_world

    try:
        path = new_world(args.name, args.dir)
    except (FileExistsError, OSError) as exc:
        print(f"dsco-sandbox: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}: edit it, then run `dsco-sandbox serve --world {path}`")
    return 0
