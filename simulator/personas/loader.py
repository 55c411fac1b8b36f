"""Reading persona files and ``--persona`` options, every problem found before anything starts.

A persona file is YAML (or JSON, which is YAML) following ``contracts/schemas/sandbox-personas.json``. It is
parsed with line information, so that each problem is reported as ``FILE:LINE: field: message``:
schema violations, placeholders a template may not use, accounts the world does not have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..contract.validation import Contract
from ..contract.yamlnodes import line, locate
from ..domain.errors import InvalidRequest
from ..domain.sandbox import Sandbox
from ..domain.world import World
from ..loading.resources import data_dir
from .config import ROLES, PersonaRole, PersonaSettings, enabled, file_template_problems, settings_from
from .engine import SCHEMA, Personas

DEFAULTS_FILE = "default-personas.yaml"


class PersonaFileError(ValueError):
    """Persona settings that cannot be used, one ``FILE:LINE: field: message`` line per problem."""


def read_document(path: Path, contract: Contract) -> dict[str, Any]:
    """A persona file's document, checked against the schema (every violation at its line)."""
    return read_file(path, contract)[0]


def read_file(path: Path, contract: Contract) -> tuple[dict[str, Any], yaml.Node | None]:
    """A persona file's document and its YAML nodes (for the lines of later problems)."""
    where = str(path)
    try:
        text = Path(path).read_text("utf-8")
    except OSError as error:
        raise PersonaFileError(f"{where}: cannot read the persona file ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise PersonaFileError(f"{where}: not UTF-8 text (byte {error.start})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise PersonaFileError(f"{where}:{line}: not valid YAML: {error.problem or error}") from None
    except yaml.YAMLError as error:
        raise PersonaFileError(f"{where}:1: not valid YAML: {error}") from None
    if document is None:
        document = {}
    problems = [(v.path, v.message) for v in contract.validate(contract.schema_uri(SCHEMA), document)]
    problems += [(p.field, p.message) for p in file_template_problems(document)]
    if problems:
        problems.sort(key=lambda problem: _line(root, problem[0]))
        raise PersonaFileError(
            "\n".join(f"{where}:{_line(root, field)}: {field}: {message}" for field, message in problems)
        )
    return dict(document), root


def default_document(contract: Contract) -> dict[str, Any]:
    """The built-in behaviours (``fixtures/default-personas.yaml``), checked like any file."""
    return read_document(data_dir("fixtures") / DEFAULTS_FILE, contract)


def parse_option(text: str) -> tuple[PersonaRole, list[str] | None]:
    """``retailer``, ``supplier``, or either followed by ``=ID[,ID...]``; ValueError otherwise."""
    role, _, accounts = text.partition("=")
    if role not in ROLES:
        raise ValueError(
            f"expected retailer or supplier, optionally =ACCOUNT_ID[,ACCOUNT_ID...]; got {text!r}"
        )
    if not _:
        return role, None
    ids = [part.strip() for part in accounts.split(",") if part.strip()]
    if not ids:
        raise ValueError(f"expected account ids after '{role}='; got {text!r}")
    return role, ids


def requested(
    world: World,
    file_document: Mapping[str, Any] | None,
    options: Sequence[tuple[PersonaRole, list[str] | None]],
) -> dict[str, Any]:
    """The personas a start asks for: the world's section, then the file, then each option."""
    document: dict[str, Any] = dict(world.document.get("personas") or {})
    if file_document:
        document = {**document, **file_document}
    for role, accounts in options:
        document = enabled(document, role, accounts)
    return document


def settings_or_error(
    document: Mapping[str, Any],
    defaults: Mapping[str, Any],
    world: World,
    seed: int,
    where: str,
    root: yaml.Node | None = None,
) -> PersonaSettings:
    """Settings for ``document``, or a :class:`PersonaFileError` naming every problem (at its line
    of the file when ``root`` holds the file's nodes)."""
    try:
        return settings_from(document, defaults, world, seed)
    except InvalidRequest as error:
        lines = [
            f"{where}:{_line(root, p.field)}: {p}" if root is not None else f"{where}: {p}"
            for p in error.problems
        ]
        raise PersonaFileError("\n".join(lines)) from None


def attach_personas(
    sandbox: Sandbox,
    contract: Contract,
    *,
    file: Path | None = None,
    options: Sequence[tuple[PersonaRole, list[str] | None]] = (),
) -> Personas:
    """Attach the personas a start asks for (none acting when nothing asks) to ``sandbox``."""
    personas = Personas(sandbox, contract, lambda: default_document(contract))
    settings = requested_settings(personas, file=file, options=options)
    if settings is not None:
        personas.configure(settings)
    return personas


def requested_settings(
    personas: Personas,
    *,
    file: Path | None = None,
    options: Sequence[tuple[PersonaRole, list[str] | None]] = (),
) -> PersonaSettings | None:
    """The settings the world's section, a file and options ask for (None: nothing asked), or a
    :class:`PersonaFileError` listing every problem."""
    contract, world = personas.contract, personas.sandbox.world
    file_document, root = read_file(file, contract) if file is not None else (None, None)
    document = requested(world, file_document, options)
    if not document:
        return None
    where = str(file) if file is not None else "--persona" if options else "the world's personas"
    seed = personas.sandbox.config.seed
    return settings_or_error(document, personas.defaults, world, seed, where, root)


def _line(root: yaml.Node | None, path: str) -> int:
    """The line of what a JSON path (``retailer.complaints[0].title``) points at; 1 without nodes."""
    return 1 if root is None else line(locate(root, path))
