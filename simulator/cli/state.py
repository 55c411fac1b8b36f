"""``dsco-sandbox state export|import``: a state database's document, offline."""

from __future__ import annotations

import argparse
from typing import TextIO

from ..contract.validation import Contract


def state_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..storage.statedb import StateDatabaseError, export_database, import_into_database, is_database_path

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
