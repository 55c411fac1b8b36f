"""Where the data folders are: inside the installed wheel, or beside the package in a source tree.

The wheel carries ``contracts/``, ``fixtures/``, ``scenarios/`` and ``examples/`` under
``simulator/_data``; an editable install or a plain checkout uses the top-level folders directly,
so edits show at once.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # simulator/, beside _data/ in a wheel


def data_dir(name: str) -> Path:
    """The data folder ``name`` (``contracts``, ``fixtures``, ``scenarios``, ``examples``), wherever it is."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name}/ folder is missing from this installation of dsco-sandbox")


def default_world_path() -> Path:
    return data_dir("fixtures") / "default-world.json"


def starter_world_path() -> Path:
    """The commented starter world that ``dsco-sandbox world new`` copies."""
    return data_dir("fixtures") / "starter-world.yaml"
