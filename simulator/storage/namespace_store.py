"""Where the namespaces of ``serve --state-file`` are kept between runs: the one seam of their
persistence.

A namespace is saved as one record: its name, its lifetime settings, its control token and its
whole state as ``GET /_sandbox/state`` exports it (``schemas/sandbox-state.json``). The HTTP layer
only ever calls :class:`NamespaceStore`'s three methods, so keeping namespaces somewhere else (a
table of a database, one row per record) means writing one more class with these methods.

:class:`NamespaceFolder` keeps each record as a JSON file in a folder beside the state file
(``state.json`` -> ``state.json.namespaces/<name>.json``), written atomically like the state file:
a change in one namespace rewrites that namespace's file only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .statefile import StateFile

RECORD_FORMAT = "dsco-sandbox-namespace"
RECORD_VERSION = 1


@dataclass(frozen=True)
class SavedNamespace:
    """One namespace as persisted: enough to rebuild it exactly, clock and tokens included."""

    name: str
    idle_ttl: float
    token: str | None
    created_at: float
    """Wall time (seconds since the epoch) of its creation."""
    last_used_at: float
    """Wall time of its last request as of the save, so that idle expiry survives a restart."""
    state: dict[str, Any]
    """The exported state document of its sandbox."""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "version": RECORD_VERSION,
            "name": self.name,
            "idleTtl": self.idle_ttl,
            "token": self.token,
            "createdAt": self.created_at,
            "lastUsedAt": self.last_used_at,
            "state": self.state,
        }

    @classmethod
    def from_json(cls, document: Any, where: str) -> SavedNamespace:
        """Read a record, refusing anything that is not one (the state inside is checked later,
        against its schema, by whoever rebuilds the sandbox)."""
        if not isinstance(document, dict) or document.get("format") != RECORD_FORMAT:
            raise ValueError(f"{where}: not a saved namespace (format {RECORD_FORMAT!r} expected)")
        if document.get("version") != RECORD_VERSION:
            raise ValueError(
                f"{where}: unknown version {document.get('version')!r} (expected {RECORD_VERSION})"
            )
        try:
            return cls(
                name=str(document["name"]),
                idle_ttl=float(document["idleTtl"]),
                token=None if document["token"] is None else str(document["token"]),
                created_at=float(document["createdAt"]),
                last_used_at=float(document["lastUsedAt"]),
                state=dict(document["state"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{where}: a saved namespace without a usable {error}") from None


class NamespaceStore(Protocol):
    """Persistence of namespaces: everything the server needs, and nothing else."""

    def load(self) -> list[SavedNamespace]:
        """Every saved namespace (an empty list on a first start); raises ValueError on a broken one."""
        ...

    def save(self, record: SavedNamespace) -> None:
        """Create or replace one namespace's record."""
        ...

    def delete(self, name: str) -> None:
        """Forget one namespace (nothing happens when it was never saved)."""
        ...


class NamespaceFolder:
    """A :class:`NamespaceStore` keeping one JSON file per namespace in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @classmethod
    def beside(cls, state_file: Path) -> NamespaceFolder:
        """The folder that goes with a state file: ``<state file>.namespaces``."""
        state_file = Path(state_file)
        return cls(state_file.with_name(state_file.name + ".namespaces"))

    def _file(self, name: str) -> StateFile:
        return StateFile(self.folder / f"{name}.json")

    def load(self) -> list[SavedNamespace]:
        if not self.folder.is_dir():
            return []
        records = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                document = StateFile(path).read()
            except ValueError as error:
                raise ValueError(f"{path}: not JSON ({error})") from None
            records.append(SavedNamespace.from_json(document, str(path)))
        return records

    def save(self, record: SavedNamespace) -> None:
        self._file(record.name).write(record.to_json())

    def delete(self, name: str) -> None:
        (self.folder / f"{name}.json").unlink(missing_ok=True)
