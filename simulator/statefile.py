"""The state file of ``serve --state-file``: written atomically, so a killed sandbox never leaves a
torn file behind — a reader sees either the previous complete state or the new one.
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

    def read(self) -> Any | None:
        """The saved document, or ``None`` when there is no file yet (a first start)."""
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return None
        return json.loads(text)

    def write(self, document: Any) -> None:
        """Write to a temporary file beside the target, flush it to disk, then rename over it."""
        data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
