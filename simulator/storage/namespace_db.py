"""Namespaces kept in the SQLite state database itself (``serve --state-file state.db``).

A :class:`~simulator.storage.namespace_store.NamespaceStore` over one table, ``namespaces``, of the very
database :mod:`simulator.storage.statedb` keeps the default sandbox in: one file holds the whole server,
so copying, backing up or deleting ``state.db`` does it for every namespace at once.

Each namespace is one row: its name, lifetime, control token and its exported state document as
JSON. A save is one small transaction replacing that row (its cost is that namespace's size, not
the server's); a delete removes the row.

It uses a connection of its own to the file rather than sharing the default sandbox's:

* the two are driven by different locks (the default sandbox's, each namespace's saver), and a
  ``sqlite3`` connection has one transaction at a time, so sharing it would mean one more lock
  taken around every commit of the default sandbox, inside ``statedb.py``;
* WAL lets the two connections read freely while SQLite's write lock orders their commits (each
  waits for the other's short transaction, within the busy timeout);
* the process holding the database (``statedb.py``'s lock file) is already this one: the
  connection opens lazily, after the default sandbox's database is open and locked, and
  opens again in a forked worker rather than using the parent's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

from ..domain.errors import StorageFailed
from .namespace_store import RECORD_FORMAT, RECORD_VERSION, SavedNamespace

_TABLE = """
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY,
    idle_ttl REAL NOT NULL,
    token TEXT,
    created_at REAL NOT NULL,
    last_used_at REAL NOT NULL,
    state TEXT NOT NULL
)
"""
_UPSERT = (
    "INSERT INTO namespaces(name, idle_ttl, token, created_at, last_used_at, state) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET idle_ttl=excluded.idle_ttl, "
    "token=excluded.token, created_at=excluded.created_at, last_used_at=excluded.last_used_at, "
    "state=excluded.state"
)


class NamespaceDatabase:
    """A :class:`~simulator.storage.namespace_store.NamespaceStore` keeping each namespace as one row of
    the state database's ``namespaces`` table."""

    def __init__(self, path: Path, *, sync: str = "normal") -> None:
        """``path`` is the state database; ``sync`` as ``serve --state-sync`` (``full`` flushes the
        disk on every commit)."""
        self.path = Path(path)
        self._sync = sync
        self._lock = threading.Lock()
        """One transaction at a time on the connection (namespaces save from many threads)."""
        self._connection: sqlite3.Connection | None = None
        self._pid = 0

    def _db(self) -> sqlite3.Connection:
        """The connection, opened on first use in this process (the table made if missing)."""
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        connection = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        try:
            if connection.execute("PRAGMA user_version").fetchone()[0] == 0:
                raise sqlite3.DatabaseError("not set up as a state database yet")
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA synchronous={'FULL' if self._sync == 'full' else 'NORMAL'}")
            connection.execute(_TABLE)
        except BaseException:
            connection.close()
            raise
        # A forked worker's inherited connection is left alone, never closed (see statedb.py).
        self._connection, self._pid = connection, os.getpid()
        return connection

    def load(self) -> list[SavedNamespace]:
        where = f"{self.path} (namespaces)"
        try:
            with self._lock:
                rows = (
                    self._db()
                    .execute(
                        "SELECT name, idle_ttl, token, created_at, last_used_at, state "
                        "FROM namespaces ORDER BY name"
                    )
                    .fetchall()
                )
        except sqlite3.Error as error:
            raise ValueError(f"{where}: cannot read the saved namespaces ({error})") from None
        records = []
        for name, idle_ttl, token, created_at, last_used_at, state in rows:
            try:
                document = json.loads(state)
            except ValueError as error:
                raise ValueError(f"{where}: namespace {name!r} holds no JSON state ({error})") from None
            records.append(
                SavedNamespace.from_json(
                    {
                        "format": RECORD_FORMAT,
                        "version": RECORD_VERSION,
                        "name": name,
                        "idleTtl": idle_ttl,
                        "token": token,
                        "createdAt": created_at,
                        "lastUsedAt": last_used_at,
                        "state": document,
                    },
                    f"{where}: namespace {name!r}",
                )
            )
        return records

    def save(self, record: SavedNamespace) -> None:
        state = json.dumps(record.state, separators=(",", ":"), ensure_ascii=False)
        row = (record.name, record.idle_ttl, record.token, record.created_at, record.last_used_at, state)
        self._write(_UPSERT, row, record.name)

    def delete(self, name: str) -> None:
        self._write("DELETE FROM namespaces WHERE name = ?", (name,), name)

    def _write(self, sql: str, parameters: tuple[object, ...], name: str) -> None:
        """One statement as one transaction; a failure (a full disk, say) is :class:`StorageFailed`."""
        with self._lock:
            connection: sqlite3.Connection | None = None
            try:
                connection = self._db()
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(sql, parameters)
                connection.execute("COMMIT")
            except sqlite3.Error as error:
                if connection is not None and connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise StorageFailed.at(
                    "",
                    f"{self.path}: namespace {name!r} could not be saved ({error}); "
                    "its latest changes are in memory only, until a later save of it succeeds",
                ) from None

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None
