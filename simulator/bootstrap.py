"""Building a ready sandbox from files: the world document, checked against its schema first.

This sits above the domain (which never reads files or schemas) and below the front ends (HTTP
app, CLI, pytest plugin), which all start a sandbox the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .contract import Contract
from .domain.config import SandboxConfig
from .domain.errors import InvalidRequest
from .domain.sandbox import Sandbox
from .domain.world import World, load_world
from .resources import default_world_path


class WorldFileError(ValueError):
    """A world file that cannot be used, with every reason why."""


def read_world(contract: Contract, path: Path | None = None) -> World:
    """Load and check a world file (the default world when ``path`` is None)."""
    path = path or default_world_path()
    try:
        document: Any = json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise WorldFileError(f"{path}: cannot read the world file ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise WorldFileError(
            f"{path}: line {exc.lineno} column {exc.colno}: malformed JSON: {exc.msg}"
        ) from exc
    return world_from_document(contract, document, str(path))


def world_from_document(contract: Contract, document: Any, source: str = "world") -> World:
    violations = contract.validate(contract.schema_uri("world.schema.json"), document)
    if violations:
        raise WorldFileError("\n".join(f"{source}: {v}" for v in violations))
    try:
        return load_world(document)
    except InvalidRequest as exc:
        raise WorldFileError("\n".join(f"{source}: {p}" for p in exc.problems)) from exc


def build_sandbox(
    contract: Contract, config: SandboxConfig | None = None, world_path: Path | None = None
) -> Sandbox:
    return Sandbox(read_world(contract, world_path), config or SandboxConfig())


__all__ = ["WorldFileError", "build_sandbox", "read_world", "world_from_document"]
