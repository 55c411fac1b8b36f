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

from ..domain.models import Conversation, Message
from ..domain.views import encode_json

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
        """Row to record, the hot path of a start (10^6 messages make 10^6 records).

        The record's own ``__init__`` is skipped: a frozen dataclass sets each field through
        ``object.__setattr__``, which costs more than twice what setting the slots directly does
        (measured on 10^5 messages: 2.0 s against 0.8 s). So the function made here, once per
        table and from the dataclass's fields (the one definition of a record), takes a new object
        and sets each slot from its column, turning the 0/1 of a boolean column into a bool and
        parsing an object column's JSON. The records have no ``__post_init__`` to miss, which
        :func:`_settable` checks.
        """
        kind = _settable(self.kind)
        values = []
        for i in range(len(self.fields)):
            value = f"row[{i}]"
            if i in self._objects:
                value = f"loads({value})"
            elif i in self._booleans:
                value = f"{value} == 1"
            values.append(f"    set_{i}(record, {value})\n")
        source = "def make(row):\n    record = new(kind)\n" + "".join(values) + "    return record\n"
        scope: dict[str, Any] = {"new": object.__new__, "kind": kind, "loads": json.loads}
        for i, field in enumerate(self.fields):
            scope[f"set_{i}"] = getattr(kind, field.name).__set__
        exec(source, scope)  # code made here from the record's own field names
        maker: Callable[[tuple[Any, ...]], _Record] = scope["make"]
        return maker

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


def _settable(kind: type[_Record]) -> type[_Record]:
    """``kind``, if its records can be made by setting their slots (see ``RecordTable._maker``)."""
    if not hasattr(kind, "__slots__") or hasattr(kind, "__post_init__"):
        raise TypeError(f"{kind.__name__} must be a slotted dataclass without __post_init__")
    return kind


def _is_object(field: Field[Any]) -> bool:
    kind = str(field.type)
    return kind.startswith(("dict", "list"))


def _column(field: Field[Any], replaced: bool) -> str:
    if field.name == "id":
        return "id TEXT PRIMARY KEY" if replaced else "id TEXT NOT NULL"
    return field.name


CONVERSATIONS = RecordTable("conversations", Conversation, replaced=True)
MESSAGES = RecordTable("messages", Message, replaced=False)
