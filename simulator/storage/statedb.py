"""Durable state in one SQLite file: ``serve --state-file state.db``.

Memory stays the fast path: every read is answered from the in-memory store, and the database is
read once, at start. Each change (a write, a token, a reset, a clock or config change, an import) is
one small transaction, committed inside the sandbox's lock before the caller gets its answer, so an
acknowledged change survives a killed process. The database runs in WAL mode with
``synchronous=NORMAL``: a commit is safe from a crash of the process at any moment, and a power
loss can cost at most the last few commits, never the file's integrity; ``sync="full"`` (fsync on
every commit) closes that window too.

What is kept is the state document (``domain/state.py``) in two shapes:

* the record collections (conversations, messages, tokens, notifications) as one row per record,
  written as :class:`~simulator.domain.state_changes.ChangeTracker` reports them changed, so a
  call costs the records it touched, whatever the size of the state. Notifications are a
  collection rather than a section because they grow with every message (up to 1000 per
  account): as one section they would be rewritten whole on each write;
* every other section of the document as ``name -> JSON`` rows (an object section one row per
  member), rewritten only when its value changed. A section added to the state document later is
  kept without any change here.

If a commit fails (a full disk, say), the transaction is rolled back, the sandbox is put back to
what the database holds, and the caller gets :class:`StorageFailed`: never an acknowledgement for a
change that was not kept.
"""

from __future__ import annotations

import datetime
import gc
import getpass
import json
import os
import socket
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, TextIO

from ..contract.validation import Contract
from ..domain.auth import IssuedToken, token_to_json
from ..domain.config import SandboxConfig
from ..domain.errors import InvalidRequest, StorageFailed
from ..domain.models import Conversation, Message
from ..domain.notifications import Notification
from ..domain.sandbox import Sandbox
from ..domain.state import build_store, notification_to_json
from ..domain.state_changes import ChangeTracker, CollectionChanges
from ..domain.state_parts import collection_names, derived_names
from ..domain.views import encode_json
from ..domain.world import World
from ..loading.bootstrap import WorldFileError, world_from_document
from .staterows import CONVERSATIONS, MESSAGES

SCHEMA_VERSION = 1
"""``PRAGMA user_version`` of the layout below; a database with a newer one is refused."""
SUFFIXES = (".db", ".sqlite", ".sqlite3")
"""A ``--state-file`` with one of these suffixes is a SQLite database; any other is a JSON file."""
ROW_TABLES = ("conversations", "messages", "tokens", "notifications")
"""The collection parts of the state (``domain/state_parts.py``) this database keeps as rows: each
has its table, is read back by :meth:`StateDatabase.read_document` or :meth:`~StateDatabase.read_records`,
and is followed change by change by :class:`Persistence`. A collection part added to the state
needs its table here (a test compares this with the definition)."""
_NOT_KEPT = frozenset({*derived_names(), *collection_names()})
"""Parts of the state (``domain/state_parts.py``) that are not section rows: derived at export, or
kept as records."""
_SCHEMA = """
CREATE TABLE sections (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tokens (token TEXT PRIMARY KEY, body TEXT NOT NULL);
"""
_NOTIFICATIONS = "CREATE TABLE IF NOT EXISTS notifications (id TEXT PRIMARY KEY, body TEXT NOT NULL)"
"""Created in a database made before notifications were kept, too (the schema version is unchanged:
an older dsco-sandbox reading the file simply leaves the table alone)."""
_DEPTH = 3
"""Object values are split into one row per member down to this depth: ``random`` > ``ids`` >
``position`` is one row, so a write that moved the id generator rewrites a number."""
_Path = tuple[str, ...]
"""A section row's place in the document, e.g. ("random", "ids", "position"); its name in the
table is this, as JSON (member names may hold any character)."""


def _compare(path: _Path, new: Any, old: Any, changed: dict[_Path, Any], gone: list[_Path]) -> None:
    """Collect the rows that differ between two versions of the sections at ``path``."""
    if new is old:
        return
    if isinstance(new, dict) and len(path) < _DEPTH:
        if not isinstance(old, dict):
            changed[path] = {}
            old = {}
        for member, item in new.items():
            _compare((*path, member), item, old.get(member, _MISSING), changed, gone)
        for member, item in old.items():
            if member not in new:
                gone.extend(row for row, _ in _rows((*path, member), item))
    elif old is _MISSING or old != new:
        if isinstance(old, dict) and len(path) < _DEPTH:  # an object became a plain value
            gone.extend(row for row, _ in _rows(path, old) if row != path)
        changed[path] = new


def _rows(path: _Path, value: Any) -> Iterator[tuple[_Path, Any]]:
    """The rows a value is kept as: an object above :data:`_DEPTH` is a row of its own holding
    ``{}``, then its members' rows (rows are read back in the order first written, so a parent
    always comes before its members)."""
    if isinstance(value, dict) and len(path) < _DEPTH:
        yield path, {}
        for member, item in value.items():
            yield from _rows((*path, member), item)
    else:
        yield path, value


class StateDatabaseError(WorldFileError):
    """A state database that cannot be used, as one line naming the file and what to do."""


def is_database_path(path: Path) -> bool:
    return Path(path).suffix.lower() in SUFFIXES


class StateDatabase:
    """One open state database: the lock that keeps it to one process, and the connection."""

    def __init__(self, path: Path, *, sync: str = "normal") -> None:
        self.path = Path(path)
        self._sync = sync
        self._lock = _hold_lock(self.path)
        self._pid = os.getpid()
        self._inherited: sqlite3.Connection | None = None
        self.connection = self._connect()

    def _connect(self) -> sqlite3.Connection:
        where = str(self.path)
        try:
            connection = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StateDatabaseError(
                    f"{where}: made by a newer dsco-sandbox (schema version {version}; this one knows "
                    f"up to {SCHEMA_VERSION}): upgrade dsco-sandbox, or start over with another file"
                )
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise StateDatabaseError(
                    f"{where}: cannot use write-ahead logging here (journal mode {mode})"
                )
            connection.execute(f"PRAGMA synchronous={'FULL' if self._sync == 'full' else 'NORMAL'}")
            connection.execute("PRAGMA cache_size=-32768")  # 32 MiB of pages (the default is 2)
            if version == 0:
                tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if tables:
                    raise StateDatabaseError(
                        f"{where}: a SQLite database, but not a dsco-sandbox state; use another file"
                    )
                tables = ";".join(table.create for table in (CONVERSATIONS, MESSAGES))
                connection.executescript(
                    f"BEGIN IMMEDIATE;{_SCHEMA}{tables};{_NOTIFICATIONS};"
                    f"PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
                )
            else:  # prove at start that changes can be written, not at the first client's call
                connection.execute("BEGIN IMMEDIATE")
                for table in (CONVERSATIONS, MESSAGES):
                    table.add_missing_columns(connection, where)
                connection.execute(_NOTIFICATIONS)
                connection.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            raise StateDatabaseError(_explain(where, error)) from None
        return connection

    def check_fork(self) -> None:
        """A server that forks its worker (granian) must not share the parent's connection."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            # The parent's connection is kept, never closed here: closing it would run SQLite's
            # last-connection clean-up (a checkpoint) on locks this process does not hold.
            self._inherited = self.connection
            self.connection = self._connect()

    # --- reading ---------------------------------------------------------------------------
    def read_document(self) -> dict[str, Any] | None:
        """The saved state document without its conversations and messages (see
        :meth:`read_records`), or None when the database holds none yet."""
        db = self.connection
        try:
            rows = db.execute("SELECT name, value FROM sections ORDER BY rowid").fetchall()
            if not rows:
                return None
            document: dict[str, Any] = {}
            for name, value in rows:
                *parents, last = json.loads(name)
                place = document
                for parent in parents:
                    place = place[parent]
                place[last] = json.loads(value)
            cursor = db.execute("SELECT body FROM tokens ORDER BY rowid")
            document["tokens"] = [json.loads(body) for (body,) in cursor]
            cursor = db.execute("SELECT body FROM notifications ORDER BY rowid")
            document["notifications"] = [json.loads(body) for (body,) in cursor]
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as error:
            raise StateDatabaseError(f"{self.path}: cannot read the saved state ({error})") from None
        return document

    def read_records(self) -> tuple[Iterator[Conversation], Iterator[Message]]:
        """The saved conversations and messages, made straight from their rows, lazily."""
        try:
            return CONVERSATIONS.read(self.connection), MESSAGES.read(self.connection)
        except (sqlite3.DatabaseError, ValueError, TypeError) as error:
            raise StateDatabaseError(f"{self.path}: cannot read the saved state ({error})") from None

    def close(self) -> None:
        self.connection.close()
        self._lock.close()


class Persistence:
    """Keeps a :class:`StateDatabase` in step with one sandbox, change by change.

    It is the sandbox's ``after_change``: it takes what changed from its
    :class:`~simulator.domain.state_changes.ChangeTracker` (the records each call wrote, the small
    sections as they are now) and commits that before the answer goes out.
    """

    def __init__(self, database: StateDatabase, sandbox: Sandbox, contract: Contract) -> None:
        self.database = database
        self.sandbox = sandbox
        self.contract = contract
        self.changes = ChangeTracker(sandbox)
        self._written: dict[str, Any] = {}
        """The small sections as last committed (values are compared by identity first: the
        world, or a generator that did not move, is the very object it was)."""

    # --- saving ------------------------------------------------------------------------------
    def attach(self) -> None:
        """Write the sandbox's whole state as the database's content, then follow every change."""
        self.sandbox.after_change = self.flush
        with self.sandbox.lock:
            self.flush()

    def flush(self) -> None:
        """Commit what changed since the last flush as one transaction (called under the lock)."""
        db = self.database
        db.check_fork()
        changes = self.changes.take()
        statements: list[tuple[str, Any]] = []
        if changes.everything:
            self._written = {}
            statements.append(("DELETE FROM sections", ()))
        for name in ROW_TABLES:
            statements += _row_statements(name, changes.collections[name])
        sections, gone = self._changed_sections(changes.sections)
        if sections:  # one statement for them all: each call into sqlite3 has its own cost
            rows = [(_dumps(path), _dumps(value)) for path, value in sections.items()]
            statements.append((_UPSERT_SECTION, rows))
        if gone:
            statements.append(("DELETE FROM sections WHERE name = ?", [(_dumps(path),) for path in gone]))
        if not statements:
            return
        try:
            connection = db.connection
            connection.execute("BEGIN IMMEDIATE")
            for sql, parameters in statements:
                if isinstance(parameters, list):
                    connection.executemany(sql, parameters)
                else:
                    connection.execute(sql, parameters)
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            self._undo(error)
        self._written = changes.sections

    def _changed_sections(self, now: dict[str, Any]) -> tuple[dict[_Path, Any], list[_Path]]:
        """The section rows whose value differs from what was last committed, and the rows of
        members that are gone (a fault rule removed, say)."""
        changed: dict[_Path, Any] = {}
        gone: list[_Path] = []
        _compare((), now, self._written, changed, gone)
        changed.pop((), None)  # the document itself is not a row
        return changed, gone

    def _undo(self, error: sqlite3.Error) -> None:
        """Roll back, put the sandbox back to what the database holds, and refuse the change."""
        connection = self.database.connection
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        self.restore()
        raise StorageFailed.at("", f"{_explain(str(self.database.path), error)}; the change was not kept")

    def restore(self, document: dict[str, Any] | None = None) -> None:
        """Make the sandbox what the database holds (at start, and after a failed commit)."""
        document = document or self.database.read_document()
        if document is None:
            return
        sandbox = self.sandbox
        hook, sandbox.after_change = sandbox.after_change, None
        collecting = gc.isenabled()
        # Millions of new records, none of them garbage: the cycle collector would walk them all
        # again and again while they are made (a fifth of a start with 10^6 messages).
        gc.disable()
        try:
            world = world_from_document(self.contract, document["world"], str(self.database.path))
            store = build_store(world, *self.database.read_records())
            sandbox.import_state(world, {**document, "conversations": [], "messages": []}, store)
        except (WorldFileError, InvalidRequest, sqlite3.DatabaseError, ValueError, TypeError) as error:
            raise StateDatabaseError(
                f"{self.database.path}: the saved state is not usable ({error})"
            ) from None
        finally:
            sandbox.after_change = hook
            if collecting:
                gc.enable()
        self._written = {k: v for k, v in document.items() if k not in _NOT_KEPT}
        self.changes.saved()


_MISSING = object()
_UPSERT_SECTION = (
    "INSERT INTO sections(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value"
)
_UPSERT_NOTIFICATION = (
    "INSERT INTO notifications(id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body=excluded.body"
)
_UPSERT_TOKEN = (
    "INSERT INTO tokens(token, body) VALUES (?, ?) ON CONFLICT(token) DO UPDATE SET body=excluded.body"
)


_dumps = encode_json  # compact, and one encoder built once rather than one per call


def _token_row(token: IssuedToken) -> tuple[Any, ...]:
    return token.access_token, _dumps(token_to_json(token))


def _notification_row(notification: Notification) -> tuple[Any, ...]:
    return notification.id, _dumps(notification_to_json(notification))


_TABLES: Mapping[str, tuple[str, Callable[[Any], Any], str]] = MappingProxyType(
    {
        "conversations": ("id", CONVERSATIONS.row, CONVERSATIONS.upsert),
        "messages": ("id", MESSAGES.row, MESSAGES.upsert),
        "tokens": ("token", _token_row, _UPSERT_TOKEN),
        "notifications": ("id", _notification_row, _UPSERT_NOTIFICATION),
    }
)
"""Each row table of :data:`ROW_TABLES`: its key column, a record as its row, the upsert."""


def _row_statements(table: str, changes: CollectionChanges) -> list[tuple[str, Any]]:
    """One collection's changes as statements on its table: clear, delete, then upsert."""
    if not changes:
        return []
    key, row, upsert = _TABLES[table]
    statements: list[tuple[str, Any]] = []
    if changes.cleared:
        statements.append((f"DELETE FROM {table}", ()))
    if changes.removed:
        statements.append((f"DELETE FROM {table} WHERE {key} = ?", [(k,) for k in changes.removed]))
    if changes.written:
        statements.append((upsert, [row(record) for record in changes.written.values()]))
    return statements


def _explain(where: str, error: sqlite3.Error) -> str:
    text = str(error)
    if "not a database" in text:
        return f"{where}: not a SQLite database (a --state-file ending in {', '.join(SUFFIXES)} must be one)"
    if "readonly" in text or "unable to open" in text:
        return f"{where}: cannot write the state database here ({text}); choose a writable file and folder"
    if "full" in text:
        return f"{where}: the disk (or the database's size limit) is full ({text})"
    return f"{where}: {text}"


# --- one process per database ------------------------------------------------------------------
def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + "-lock")


def _hold_lock(path: Path) -> IO[str]:
    """Hold an exclusive lock beside the database for as long as this process lives.

    The lock is an advisory ``flock`` on ``<file>-lock``, so the system releases it when the process
    ends in any way (kill -9 included); the file itself names the holder for the refusal message.
    """
    lock_path = _lock_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the process's life)
    except OSError as error:
        raise StateDatabaseError(
            f"{path}: cannot write beside the state database ({error.strerror}); choose a writable folder"
        ) from None
    if sys.platform != "win32":  # elsewhere SQLite's own locking still guards the file
        import fcntl

        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StateDatabaseError(
                f"{path}: already in use by {holder}; stop that one first, or use another --state-file"
            ) from None
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    handle.seek(0)
    handle.truncate()
    handle.write(f"dsco-sandbox pid {os.getpid()} ({_user()}@{socket.gethostname()}, since {started})")
    handle.flush()
    return handle


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return str(os.getuid()) if hasattr(os, "getuid") else "?"


# --- opening, as serve and the offline commands do -----------------------------------------------
def open_persistence(
    sandbox: Sandbox,
    contract: Contract,
    path: Path,
    *,
    world_given: bool,
    sync: str = "normal",
    say: Callable[[str], None] | None = None,
) -> Persistence:
    """Open ``path``, load what it holds into ``sandbox`` and keep it in step from now on.

    A database that holds a different world than ``--world`` named is refused (the saved
    conversations belong to the saved world). A database that holds nothing yet, beside a JSON
    state file of the same name (``state.json`` for ``state.db``), imports that file once.
    """
    say = say or _stderr
    database = StateDatabase(path, sync=sync)
    try:
        persistence = Persistence(database, sandbox, contract)
        document = database.read_document()
        if document is not None:
            saved_world = document.get("world")
            if world_given and saved_world != sandbox.world.document:
                raise StateDatabaseError(
                    f"{path}: holds the state of a different world than --world; to start over with "
                    f"this world, remove {path} (or choose another --state-file); to go on with the "
                    "saved one, leave out --world"
                )
            persistence.restore(document)
        else:
            legacy = Path(path).with_suffix(".json")
            if legacy.is_file():
                counts = import_json_file(sandbox, contract, legacy)
                say(f"{path}: imported the JSON state file {legacy} once ({counts}); it is not read again")
        persistence.attach()
    except BaseException:
        database.close()
        raise
    return persistence


def read_state_file(contract: Contract, source: Path) -> tuple[World, dict[str, Any]]:
    """A JSON state document and its world, checked against the contract."""
    try:
        document = json.loads(Path(source).read_text("utf-8"))
    except OSError as error:
        raise StateDatabaseError(f"{source}: cannot read ({error.strerror})") from None
    except ValueError as error:
        raise StateDatabaseError(f"{source}: not a JSON state document ({error})") from None
    violations = contract.validate(contract.schema_uri("schemas/sandbox-state.json"), document)
    if violations:
        raise StateDatabaseError("\n".join(f"{source}: {v}" for v in violations))
    return world_from_document(contract, document["world"], str(source)), document


def import_json_file(sandbox: Sandbox, contract: Contract, source: Path) -> str:
    """Load a state document from a JSON file into ``sandbox``, all or nothing; say what came in."""
    world, document = read_state_file(contract, source)
    try:
        sandbox.import_state(world, document)
    except InvalidRequest as error:
        raise StateDatabaseError("\n".join(f"{source}: {p}" for p in error.problems)) from None
    conversations, messages = sandbox.store.counts()
    return f"{conversations} conversations, {messages} messages"


# --- offline: ``dsco-sandbox state export`` and ``state import`` --------------------------------
def export_database(contract: Contract, path: Path, out: TextIO) -> str:
    """Write the state a database holds as the JSON document ``GET /_sandbox/state`` sends."""
    if not Path(path).is_file():
        raise StateDatabaseError(f"{path}: no such state database")
    database = StateDatabase(path)
    try:
        document = database.read_document()
        if document is None:
            raise StateDatabaseError(f"{path}: holds no state yet (serve with it, or state import into it)")
        world = world_from_document(contract, document["world"], str(path))
        sandbox = Sandbox(world, SandboxConfig())
        Persistence(database, sandbox, contract).restore(document)
        for chunk in sandbox.export_state_text():
            out.write(chunk)
        conversations, messages = sandbox.store.counts()
    finally:
        database.close()
    return f"{conversations} conversations, {messages} messages"


def import_into_database(contract: Contract, path: Path, source: Path) -> str:
    """Replace what a database holds with a JSON state document, all or nothing."""
    world, document = read_state_file(contract, source)
    sandbox = Sandbox(world, SandboxConfig())
    try:
        sandbox.import_state(world, document)
    except InvalidRequest as error:
        raise StateDatabaseError("\n".join(f"{source}: {p}" for p in error.problems)) from None
    database = StateDatabase(path)
    try:
        Persistence(database, sandbox, contract).attach()
    finally:
        database.close()
    conversations, messages = sandbox.store.counts()
    return f"{conversations} conversations, {messages} messages"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
