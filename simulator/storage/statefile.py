"""The state file of ``serve --state-file``: written atomically, so a killed sandbox never leaves a
torn file behind — a reader sees either the previous complete state or the new one.

A process killed in the middle of a write (``kill -9``) leaves its temporary file behind. Each
temporary file's name carries the writing process's id (``.state.json.<pid>.<random>.tmp``), so
the next start removes those of processes that are gone, and never one a live writer still uses.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _temporary_prefix(self, pid: int) -> str:
        return f".{self.path.name}.{pid}."

    def sweep_abandoned(self) -> list[Path]:
        """Remove the temporary files that writers which no longer run left beside the file."""
        removed: list[Path] = []
        head = f".{self.path.name}."
        try:
            candidates = list(self.path.parent.glob(f"{glob_escape(head)}*.tmp"))
        except OSError:
            return removed
        for candidate in candidates:
            pid_text = candidate.name[len(head) :].split(".", 1)[0]
            if pid_text.isascii() and pid_text.isdigit() and not _alive(int(pid_text)):
                try:
                    candidate.unlink()
                    removed.append(candidate)
                except OSError:
                    pass
        return removed

    def read(self) -> Any | None:
        """The saved document, or ``None`` when there is no file yet (a first start)."""
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return None
        return json.loads(text)

    def problem(self) -> str | None:
        """Why saving here would fail, checked once before serving; None when it can be saved.

        Without this check a sandbox started fine and then answered 500 to every change. The
        folder is not created: a typo in it should be reported, not silently become a new folder.
        """
        folder = self.path.parent
        if not folder.is_dir():
            return f"{self.path}: the folder {folder} does not exist; create it first"
        if self.path.is_dir():
            return f"{self.path}: is a folder; give the path of a file"
        try:
            handle, probe = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
        except OSError as error:
            return f"{self.path}: cannot write in {folder} ({error.strerror})"
        os.close(handle)
        Path(probe).unlink(missing_ok=True)
        if self.path.exists() and not os.access(self.path, os.R_OK):
            return f"{self.path}: cannot read the state file (permission denied)"
        return None

    def write(self, document: Any) -> None:
        """Write to a temporary file beside the target, flush it to disk, then rename over it."""
        data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                prefix=self._temporary_prefix(os.getpid()), suffix=".tmp", dir=self.path.parent
            )
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise


def glob_escape(text: str) -> str:
    """``text`` as a glob pattern that matches only itself."""
    return "".join(f"[{char}]" if char in "*?[" else char for char in text)


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user's counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True
    return True
