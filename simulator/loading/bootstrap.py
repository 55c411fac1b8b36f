"""Building a ready sandbox from files: the world document, checked against its schema first.

This sits above the domain (which never reads files or schemas) and below the front ends (HTTP
app, CLI, pytest plugin), which all start a sandbox the same way.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from ..contract.validation import Contract
from ..domain.config import SandboxConfig
from ..domain.errors import InvalidRequest
from ..domain.sandbox import Sandbox
from ..domain.world import World, load_world
from .resources import default_world_path, starter_world_path


class WorldFileError(ValueError):
    """A world file that cannot be used, with every reason why."""


def read_world(contract: Contract, path: Path | None = None) -> World:
    """Load and check a world file (the default world when ``path`` is None)."""
    path = path or default_world_path()
    return world_from_document(contract, read_world_document(path), str(path))


def read_world_document(path: Path) -> Any:
    """The document of a world file: JSON, or YAML when it ends in .yaml / .yml (so it can carry
    comments, as the starter of ``dsco-sandbox world new`` does). Not yet checked against the schema.
    """
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise WorldFileError(f"{path}: cannot read the world file ({exc.strerror})") from exc
    if Path(path).suffix.lower() in (".yaml", ".yml"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
            raise WorldFileError(f"{path}: {where}malformed YAML: {getattr(exc, 'problem', exc)}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorldFileError(
            f"{path}: line {exc.lineno} column {exc.colno}: malformed JSON: {exc.msg}"
        ) from exc


def new_world(name: str, directory: Path) -> Path:
    """Write NAME.yaml in ``directory``: the commented starter world (never over an existing file)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "world"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{slug}.yaml"
    if path.exists():
        raise FileExistsError(f"{path} already exists; choose another name or remove it")
    path.write_text(starter_world_path().read_text("utf-8"), "utf-8")
    return path


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
