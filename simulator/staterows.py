"""Conversations and messages as rows of a state database: one column per field of the record.

A column per field rather than one JSON text per record, because a start with a million stored
messages makes a million records: building each straight from its row (one constructor call)
costs a fraction of parsing a JSON text into a dict and the dict into a record.

The columns follow the record's dataclass, so a field added to a record later gets its column when
an existing database is opened (with the field's default for the rows already there); objects
(a conversation's context) are kept as JSON text, booleans as 0 or 1.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import MISSING, Field, fields
from operator import attrgetter
from typing import Any, Generic, TypeVar

from .domain.models import Conversation, Message
from .domain.views import encode_json

_Record = TypeVar("_Record", Conversation, Message)


class RecordTable(Generic[_Record]):
    """The table of one kind of record: how to create it, write a record and read them back."""

    def __init__(self, name: str, kind: type[_Record], *, replaced: bool) -> None:
        """``replaced``: whether a record is ever written again under its id (a conversation is,
        on each update; a message never). Only then does the table get an index on the id: the
        ids are random, so each insert would touch a random page of it, and with a large state
        those pages are no longer in memory. Without it an insert appends."""
        self.name = name
        self.kind: type[_Record] = kind
        self.fields: tuple[Field[Any], ...] = fields(kind)
        names = tuple(f.name for f in self.fields)
        self._get: Callable[[Any], tuple[Any, ...]] = attrgetter(*names)
        self._objects = tuple(i for i, f in enumerate(self.fields) if _is_object(f))
        self._booleans = tuple(i for i, f in enumerate(self.fields) if str(f.type) == "bool")
        columns = ", ".join(names)
        self.create = f"CREATE TABLE {name} ({', '.join(_column(f, replaced) for f in self.fields)})"
        updates = ", ".join(f"{n}=excluded.{n}" for n in names if n != "id")
        placeholders = ", ".join("?" for _ in names)
        self.upsert = f"INSERT INTO {name} ({columns}) VALUES ({placeholders})"
        if replaced:
            self.upsert += f" ON CONFLICT(id) DO UPDATE SET {updates}"
        # In the order written: records are written in sequence order (a replaced conversation
        # keeps its row), and a store is rebuilt from any order anyway.
        self.select = f"SELECT {columns} FROM {name} ORDER BY rowid"

    def row(self, record: _Record) -> tuple[Any, ...] | list[Any]:
        values = self._get(record)
        if not self._objects:
            return values
        changed = list(values)
        for i in self._objects:
            changed[i] = encode_json(changed[i])
        return changed

    def read(self, connection: sqlite3.Connection) -> Iterator[_Record]:
        return map(self._maker(), connection.execute(self.select))

    def _maker(self) -> Callable[[tuple[Any, ...]], _Record]:
        """Row to record; the common case (one boolean, no objects: a message) without a loop."""
        kind, objects, booleans = self.kind, self._objects, self._booleans
        if not objects and not booleans:
            return lambda row: kind(*row)
        if not objects and len(booleans) == 1:
            at: int = booleans[0]

            def with_boolean(row: tuple[Any, ...]) -> _Record:
                values: tuple[Any, ...] = (*row[:at], row[at] == 1, *row[at + 1 :])
                return kind(*values)

            return with_boolean
        loads = json.loads

        def make(row: tuple[Any, ...]) -> _Record:
            values = list(row)
            for i in objects:
                values[i] = loads(values[i])
            for i in booleans:
                values[i] = values[i] == 1
            return kind(*values)

        return make

    def add_missing_columns(self, connection: sqlite3.Connection, where: str) -> None:
        """Give an older database the columns of fields added to the record since it was made."""
        present = {row[1] for row in connection.execute(f"PRAGMA table_info({self.name})")}
        for field in self.fields:
            if field.name in present:
                continue
            default = field.default
            if default is MISSING or not (default is None or isinstance(default, bool | int | str)):
                raise sqlite3.DatabaseError(
                    f"{where}: its {self.name} have no {field.name}, and it has no default to fill in"
                )
            literal = (
                "NULL" if default is None else repr(int(default) if isinstance(default, bool) else default)
            )
            connection.execute(f"ALTER TABLE {self.name} ADD COLUMN {field.name} DEFAULT {literal}")


def _is_object(field: Field[Any]) -> bool:
    kind = str(field.type)
    return kind.startswith(("dict", "list"))


def _column(field: Field[Any], replaced: bool) -> str:
    if field.name == "id":
        return "id TEXT PRIMARY KEY" if replaced else "id TEXT NOT NULL"
    return field.name


CONVERSATIONS = RecordTable("conversations", Conversation, replaced=True)
MESSAGES = RecordTable("messages", Message, replaced=False)
