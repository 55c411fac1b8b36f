"""The contract commands: ``validate`` a payload, ``contract test`` a server, ``contract diff`` documents."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from ..contract.deviations import DEVIATIONS_FILE, format_review, load_deviations, review
from ..contract.diff import diff_specs, read_openapi
from ..contract.validation import Contract
from ..domain.operations import OPERATIONS
from ..loading.resources import data_dir


def validate_command(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    contract = Contract()
    if args.operation not in contract.operations:
        print(f"unknown operation {args.operation!r}; use one of: {', '.join(OPERATIONS)}", file=err)
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
        status = args.status or OPERATIONS[args.operation].success
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


def contract_test_command(args: argparse.Namespace) -> int:
    from ..conformance import run_conformance

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


def contract_diff_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
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
