"""The layer rules of ARCHITECTURE.md, checked on the source with ``ast`` (nothing is imported).

Layers: ``LAYERS`` below, lowest first; a module may import only from its own layer or the layers
below it. ARCHITECTURE.md shows the same layers, highest first, in a table whose first column names
each layer and whose rows name its modules; the tests at the end keep the two in step (every module
of the package is in LAYERS, every entry of LAYERS is named in its layer's rows, and no row names a
module of another layer).

Every import counts, wherever it is written (inside a function or an ``if TYPE_CHECKING:`` block
too): a layer rule is about what a module depends on, not about when the import runs. Relative
imports are resolved to absolute names; ``from __future__ import ...`` is not a dependency.

No state in module globals. The check is a heuristic on module-level bindings (statements at the
top of a module, including inside top-level ``if``/``try``/``with`` blocks, not inside functions or
classes). A binding is flagged when its value is a mutable container or a stateful object:

* a ``dict``, ``list`` or ``set`` display or comprehension, e.g. ``_CODES = {"a": 1}``;
* a call to one of ``dict``, ``list``, ``set``, ``bytearray``, ``defaultdict``, ``OrderedDict``,
  ``Counter``, ``deque``, ``ChainMap`` or ``Random`` (by name or as ``module.name``).

The name does not matter: an ALL_CAPS dict is still a dict anyone can mutate. Constants that cannot
change are fine: tuples, frozensets, strings, numbers, compiled regexes, ``MappingProxyType(...)``
for a frozen mapping, type aliases such as ``Json = dict[str, Any]``, loggers. Dunder names
(``__all__``) are exempt, as Python tooling reads them by convention. A ``global`` statement
anywhere is flagged too, since it rebinds module state from inside a function.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "simulator"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("domain", ("simulator.domain",)),
    (
        "support",
        (
            "simulator",
            "simulator.client",
            "simulator.control_client",
            "simulator.transport",
            "simulator.webhooks",
            "simulator.loading.resources",
            "simulator.storage.statefile",
            "simulator.storage.staterows",
            "simulator.storage.namespace_store",
            "simulator.storage.namespace_db",
            "simulator.storage.shared.options",
        ),
    ),
    ("contract", ("simulator.contract", "simulator.loading.worldgen")),
    ("bootstrap", ("simulator.loading", "simulator.storage")),
    ("personas", ("simulator.personas",)),
    ("http", ("simulator.http",)),
    ("scenario", ("simulator.scenario", "simulator.conformance", "simulator.harness")),
    ("wiring", ("simulator.cli", "simulator.pytest_plugin", "simulator.__main__")),
)
THIRD_PARTY_BANNED_FROM_DOMAIN = (
    "flask",
    "werkzeug",
    "jsonschema",
    "referencing",
    "yaml",
    "faker",
    "requests",
)
MUTABLE_FACTORIES = frozenset(
    {
        "dict",
        "list",
        "set",
        "bytearray",
        "defaultdict",
        "OrderedDict",
        "Counter",
        "deque",
        "ChainMap",
        "Random",
    }
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the absolute name of what it imports
    line: int

    def __str__(self) -> str:
        return f"{path_of(self.module)}:{self.line}: {self.module} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def path_of(module: str) -> str:
    return str(MODULES[module].relative_to(ROOT))


def discover() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "_data" not in path.relative_to(PACKAGE).parts
    }


MODULES = discover()


@cache
def parse(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text("utf-8"), filename=str(MODULES[module]))


def resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` statement reads from."""
    if node.level == 0:
        assert node.module is not None
        return node.module
    package = module.split(".")
    if MODULES[module].name != "__init__.py":
        package.pop()  # a plain module's package is its parent
    if node.level > 1:
        package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, node.module] if node.module else package)


@cache
def imports(module: str) -> tuple[Import, ...]:
    """Every import of ``module``; a module's imports are asked for by many tests, the walk once."""
    return tuple(_walk_imports(module))


def _walk_imports(module: str) -> Iterator[Import]:
    for node in ast.walk(parse(module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(module, node)
            if base == "__future__":
                continue
            yield Import(module, base, node.lineno)
            for alias in node.names:  # ``from . import http`` imports the submodule simulator.http
                if f"{base}.{alias.name}" in MODULES:
                    yield Import(module, f"{base}.{alias.name}", node.lineno)


def layer_of(module: str) -> int | None:
    """Index in LAYERS of the entry that is ``module`` or a package containing it.

    The package root ``simulator`` stands for its ``__init__`` only; every other entry covers its
    submodules too, so a new module under ``simulator/`` must be placed explicitly.
    """
    for index, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            if module == entry or (entry != "simulator" and module.startswith(entry + ".")):
                return index
    return None


def in_package(target: str, *packages: str) -> bool:
    return any(target == p or target.startswith(p + ".") for p in packages)


def own_modules(*packages: str) -> list[str]:
    return [m for m in MODULES if in_package(m, *packages)]


# --- the checker checks itself ---------------------------------------------------------------------


def test_the_package_is_found() -> None:
    assert "simulator.domain.service" in MODULES
    assert "simulator.http" in MODULES


def test_relative_imports_resolve_to_absolute_names() -> None:
    def first(module: str, source: str) -> str:
        node = ast.parse(source).body[0]
        assert isinstance(node, ast.ImportFrom)
        return resolve(module, node)

    assert first("simulator.domain.service", "from .clock import Clock") == "simulator.domain.clock"
    assert (
        first("simulator.domain.service", "from ..contract.validation import Contract")
        == "simulator.contract.validation"
    )
    assert first("simulator.domain.service", "from . import clock") == "simulator.domain"
    assert first("simulator.domain", "from .clock import Clock") == "simulator.domain.clock"
    assert first("simulator.http", "from ..domain import errors") == "simulator.domain"
    assert first("simulator.harness", "from . import __version__") == "simulator"
    assert first("simulator.cli", "from os import path") == "os"


def test_future_imports_are_not_dependencies() -> None:
    assert all(i.target != "__future__" for m in MODULES for i in imports(m))


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in MODULES if layer_of(m) is None]
    assert not unplaced, f"place these modules in a layer (ARCHITECTURE.md and LAYERS here): {unplaced}"


# --- the rules -------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", own_modules("simulator.domain"))
def test_the_domain_imports_only_the_standard_library_and_itself(module: str) -> None:
    bad = [
        str(i)
        for i in imports(module)
        if not in_package(i.target, "simulator.domain")
        and i.target.split(".")[0] not in sys.stdlib_module_names
    ]
    assert not bad, "\n".join(bad)


def test_the_domain_imports_none_of_the_frameworks() -> None:
    """Spelled out separately so the failure names the culprit even if the stdlib list changes."""
    bad = [
        str(i)
        for m in own_modules("simulator.domain")
        for i in imports(m)
        if i.target.split(".")[0] in THIRD_PARTY_BANNED_FROM_DOMAIN
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "module",
    own_modules("simulator.contract.validation", "simulator.contract.diff", "simulator.contract.deviations"),
)
def test_the_contract_does_not_import_front_ends(module: str) -> None:
    banned = ("simulator.http", "simulator.cli", "simulator.scenario", "simulator.pytest_plugin")
    bad = [str(i) for i in imports(module) if in_package(i.target, *banned)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module", own_modules("simulator.http"))
def test_http_does_not_import_the_layers_above_it(module: str) -> None:
    banned = ("simulator.cli", "simulator.scenario", "simulator.pytest_plugin")
    bad = [str(i) for i in imports(module) if in_package(i.target, *banned)]
    assert not bad, "\n".join(bad)


NAMESPACE_MODULES = (
    "simulator.http.namespaces",
    "simulator.http.namespace_control",
    "simulator.http.shared_namespaces",
    "simulator.http.workers",  # serves them: a namespace's requests hold its own lock, not the default's
    "simulator.storage.namespace_store",
    "simulator.storage.namespace_db",
)


@pytest.mark.parametrize(
    "module",
    [m for m in own_modules("simulator.http") if m not in NAMESPACE_MODULES and m != "simulator.http"],
)
def test_a_sandbox_app_knows_nothing_of_namespaces(module: str) -> None:
    """Namespaces are apps in front of apps: the app, its routes and errors never import them."""
    bad = [str(i) for i in imports(module) if in_package(i.target, *NAMESPACE_MODULES)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module", list(MODULES))
def test_no_module_imports_from_a_layer_above_its_own(module: str) -> None:
    own = layer_of(module)
    if own is None:
        pytest.skip("not placed in a layer (see test_every_module_has_a_layer)")
    bad = []
    for i in imports(module):
        if not in_package(i.target, "simulator"):
            continue
        target = layer_of(i.target)
        if target is not None and target > own:
            bad.append(f"{i} (layer {LAYERS[own][0]} -> {LAYERS[target][0]})")
    assert not bad, "\n".join(bad)


def test_the_layer_check_catches_an_upward_import() -> None:
    assert layer_of("simulator.domain.service") == 0
    assert layer_of("simulator.personas.engine") == 4
    assert layer_of("simulator.http.errors") == 5
    assert layer_of("simulator.cli") == 7
    assert layer_of("simulator") == 1
    assert layer_of("simulator.not_placed_yet") is None
    assert layer_of("simulatorx") is None


# --- no state in module globals ----------------------------------------------------------------------


def module_level_bindings(tree: ast.Module) -> Iterator[tuple[str, ast.expr, int]]:
    """(name, value, line) for each name bound at module level, entering if/try/with, not def/class."""

    def walk(statements: list[ast.stmt]) -> Iterator[tuple[str, ast.expr, int]]:
        for statement in statements:
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            yield name.id, statement.value, statement.lineno
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                if isinstance(statement.target, ast.Name):
                    yield statement.target.id, statement.value, statement.lineno
            elif isinstance(statement, ast.If | ast.For | ast.While):
                yield from walk(statement.body)
                yield from walk(statement.orelse)
            elif isinstance(statement, ast.With):
                yield from walk(statement.body)
            elif isinstance(statement, ast.Try):
                for block in (statement.body, statement.orelse, statement.finalbody):
                    yield from walk(block)
                for handler in statement.handlers:
                    yield from walk(handler.body)

    return walk(tree.body)


def is_mutable(value: ast.expr) -> bool:
    if isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = (
            func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        )
        return name in MUTABLE_FACTORIES
    return False


def mutable_globals(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    found = [
        (line, f"module-level {name} is a mutable {type(value).__name__.lower()}")
        for name, value, line in module_level_bindings(tree)
        if not (name.startswith("__") and name.endswith("__")) and is_mutable(value)
    ]
    found += [
        (node.lineno, f"global statement rebinds {', '.join(node.names)}")
        for node in ast.walk(tree)
        if isinstance(node, ast.Global)
    ]
    return sorted(found)


@pytest.mark.parametrize(
    "source",
    [
        "REGISTRY = {}",
        "_CACHE: dict[str, int] = {}",
        "ITEMS = [1, 2]",
        "SEEN = set()",
        "import collections\nBY_KEY = collections.defaultdict(list)",
        "NAMES = {n: n for n in 'ab'}",
        "import random\nRNG = random.Random(0)",
        "try:\n    import x\nexcept ImportError:\n    FALLBACK = []",
        "A = B = {}",
        "def f():\n    global counter\n    counter = 1",
    ],
)
def test_the_state_heuristic_flags_mutable_module_globals(source: str) -> None:
    assert mutable_globals(source)


@pytest.mark.parametrize(
    "source",
    [
        "NAMES = ('a', 'b')",
        "KINDS = frozenset({'a', 'b'})",
        "import re\nPATTERN = re.compile('x')",
        "from types import MappingProxyType\nCODES = MappingProxyType({'a': 1})",
        "LIMIT = 5\nNAME = 'x'\nRATIO = 0.5",
        "from typing import Any\nJson = dict[str, Any]",
        "__all__ = ['a', 'b']",
        "import logging\nlog = logging.getLogger('x')",
        "def f():\n    local = {}\n    return local",
        "class C:\n    def m(self):\n        self.x = []",
    ],
)
def test_the_state_heuristic_accepts_constants_and_local_state(source: str) -> None:
    assert mutable_globals(source) == []


@pytest.mark.parametrize("module", list(MODULES))
def test_no_module_binds_mutable_state_at_module_level(module: str) -> None:
    found = mutable_globals(MODULES[module].read_text("utf-8"))
    assert not found, "\n".join(f"{path_of(module)}:{line}: {what}" for line, what in found)


# --- ARCHITECTURE.md shows the same layers ----------------------------------------------------------

DOCUMENT = ROOT / "ARCHITECTURE.md"
MENTION = re.compile(r"(?<![\w/.])((?:[a-z_]+/)*(?:__init__\.py|__main__\.py|[a-z_]+\.py|[a-z_]+/))")


def documented_layers(text: str) -> list[tuple[str, list[str]]]:
    """(layer, modules named in its rows) from the first fenced block of ARCHITECTURE.md, as written.

    A row that starts in the first column opens a layer; indented rows continue it. A name counts
    when it is a module or package of ``simulator/`` (``http/console/``, ``client.py``,
    ``__init__.py`` for the package itself); other words of the descriptions are ignored.
    """
    block = text.split("```", 2)[1]
    layers: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            layers.append((line.split()[0], []))
        assert layers, f"ARCHITECTURE.md: a layer row must come first: {line!r}"
        for mention in MENTION.findall(line):
            module = "simulator." + mention.removesuffix("/").removesuffix(".py").replace("/", ".")
            module = module.removesuffix(".__init__")
            if module in MODULES:
                layers[-1][1].append(module)
    return layers


def test_architecture_md_lists_the_layers_of_LAYERS_in_order() -> None:
    documented = [name for name, _ in documented_layers(DOCUMENT.read_text("utf-8"))]
    assert documented == [name for name, _ in reversed(LAYERS)]


@pytest.mark.parametrize("index", range(len(LAYERS)))
def test_architecture_md_names_each_layer_s_modules_and_no_others(index: int) -> None:
    name, entries = LAYERS[index]
    named = dict(documented_layers(DOCUMENT.read_text("utf-8")))[name]
    missing = [entry for entry in entries if entry not in named]
    assert not missing, f"ARCHITECTURE.md's {name} rows do not name {missing}"
    elsewhere = [module for module in named if layer_of(module) != index]
    assert not elsewhere, f"ARCHITECTURE.md's {name} rows name modules of other layers: {elsewhere}"


def test_the_document_check_reads_layers_and_modules() -> None:
    text = """Intro
```
http        http/, client.py      Flask; not a module: contracts/ or namespaces.py
            http/console/         the console
support     __init__.py           the version
```
"""
    assert documented_layers(text) == [
        ("http", ["simulator.http", "simulator.client", "simulator.http.console"]),
        ("support", ["simulator"]),
    ]
