"""``${...}`` expressions in scenario files: parsing (for the loader's checks) and resolving (for runs).

Forms: ``${name.path[0].key}`` (a saved response), ``${actors.NAME.FIELD}``, ``${fake.METHOD}`` and
``${fake.METHOD:ARG}`` (Faker, seeded), ``${clock.now}`` and ``${clock.until}`` (now and now - 5 s),
``${repeat:TEXT:COUNT}``. ``$${`` writes a literal ``${``. A string that is exactly one expression
takes the value's own JSON type, so a saved number stays a number and a saved object stays an object;
inside longer text, values are written as text (JSON for anything but strings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from faker import Faker

from ..domain.clock import format_rfc3339, seconds
from .model import ACTOR_FIELDS, MISSING, Actor, Missing

EXPRESSION: Final = re.compile(r"\$\{([^{}]*)\}")
_TOKEN: Final = re.compile(r"\$\$\{|\$\{([^{}]*)\}")
RESERVED: Final = frozenset({"actors", "fake", "clock", "repeat"})
"""Names an expression reads specially, so no step may save a response under them."""
UNTIL_MARGIN_SECONDS: Final = 5.0
MAX_REPEAT: Final = 16 * 1024 * 1024
_FAKER_REFUSED: Final = frozenset(
    {
        "seed",
        "seed_instance",
        "seed_locale",
        "add_provider",
        "get_providers",
        "provider",
        "set_formatter",
        "get_formatter",
        "set_arguments",
        "get_arguments",
        "del_arguments",
        "format",
        "parse",
        "unique",
        "optional",
        "random",
        "items",
        "weights",
        "factories",
        "locales",
    }
)
"""Faker attributes that are machinery rather than value generators (they would reseed or reconfigure)."""


class ExpressionError(ValueError):
    """An expression that cannot be parsed or, at run time, resolved."""


@dataclass(frozen=True)
class Reference:
    kind: str
    """``saved``, ``actor``, ``fake``, ``clock`` or ``repeat``."""
    name: str = ""
    """Saved name, actor name, Faker method or clock field."""
    path: tuple[str | int, ...] = ()
    argument: str | None = None
    count: int = 0


# --- paths ---------------------------------------------------------------------------------------
def parse_path(text: str) -> tuple[str | int, ...]:
    """``a.b[0].c`` as ``("a", "b", 0, "c")``; indexes may be negative (``[-1]`` is the last)."""
    parts: list[str | int] = []
    i, n = 0, len(text)
    need_name = False
    while i < n:
        char = text[i]
        if char == "[":
            end = text.find("]", i)
            if end < 0:
                raise ExpressionError(f"{text!r}: '[' without a closing ']'")
            inner = text[i + 1 : end].strip()
            if not re.fullmatch(r"-?[0-9]+", inner):
                raise ExpressionError(f"{text!r}: [{inner}] is not a list index (a whole number)")
            parts.append(int(inner))
            i = end + 1
            need_name = False
        elif char == ".":
            if i == 0 or need_name:
                raise ExpressionError(f"{text!r}: empty name between dots")
            i += 1
            need_name = True
            if i == n or text[i] in ".[":
                raise ExpressionError(f"{text!r}: a '.' must be followed by a name")
        else:
            if parts and not need_name:
                raise ExpressionError(f"{text!r}: expected '.' or '[' before {text[i:]!r}")
            end = i
            while end < n and text[end] not in ".[":
                end += 1
            name = text[i:end]
            if "]" in name:
                raise ExpressionError(f"{text!r}: ']' without an opening '['")
            parts.append(name)
            i = end
            need_name = False
    if need_name:
        raise ExpressionError(f"{text!r}: ends with '.'")
    return tuple(parts)


def format_path(parts: tuple[str | int, ...]) -> str:
    text = ""
    for part in parts:
        text = f"{text}[{part}]" if isinstance(part, int) else (f"{text}.{part}" if text else part)
    return text


def lookup(value: Any, parts: tuple[str | int, ...]) -> Any:
    """The value at ``parts`` inside a JSON document, or :data:`MISSING` when there is none."""
    for part in parts:
        if isinstance(part, int):
            if not isinstance(value, list) or not -len(value) <= part < len(value):
                return MISSING
            value = value[part]
        else:
            if not isinstance(value, dict) or part not in value:
                return MISSING
            value = value[part]
    return value


# --- parsing -------------------------------------------------------------------------------------
def expressions_in(text: str) -> Iterator[str]:
    """The inside of every ``${...}`` in ``text`` (escaped ``$${`` excluded)."""
    for match in _TOKEN.finditer(text):
        if match.group(0) != "$${":
            yield match.group(1)


def unterminated(text: str) -> bool:
    """Whether ``text`` opens a ``${`` that no ``}`` closes (a typo the loader reports)."""
    return "${" in _TOKEN.sub("", text)


def parse_expression(inner: str) -> Reference:
    text = inner.strip()
    if not text:
        raise ExpressionError("empty ${}")
    if text.startswith("repeat:"):
        body, sep, count = text[len("repeat:") :].rpartition(":")
        if not sep or not count.strip().isdigit():
            raise ExpressionError(f"${{{inner}}}: write ${{repeat:TEXT:COUNT}} with a whole-number COUNT")
        times = int(count)
        if len(body) * times > MAX_REPEAT:
            raise ExpressionError(f"${{{inner}}}: more than {MAX_REPEAT} characters")
        return Reference("repeat", argument=body, count=times)
    if text.startswith("fake."):
        method, colon, argument = text[len("fake.") :].partition(":")
        method = method.strip()
        if not re.fullmatch(r"[a-z][a-z0-9_]*", method):
            raise ExpressionError(f"${{{inner}}}: {method!r} is not a Faker method name")
        return Reference("fake", name=method, argument=argument if colon else None)
    parts = parse_path(text)
    head = parts[0]
    if not isinstance(head, str):
        raise ExpressionError(f"${{{inner}}}: must start with a name")
    if head == "clock":
        if len(parts) != 2 or parts[1] not in ("now", "until"):
            raise ExpressionError(f"${{{inner}}}: the clock gives ${{clock.now}} and ${{clock.until}}")
        return Reference("clock", name=str(parts[1]))
    if head == "actors":
        if len(parts) != 3 or not isinstance(parts[1], str) or parts[2] not in ACTOR_FIELDS:
            raise ExpressionError(
                f"${{{inner}}}: write ${{actors.NAME.FIELD}} with FIELD one of {', '.join(ACTOR_FIELDS)}"
            )
        return Reference("actor", name=parts[1], path=(parts[2],))
    if head in ("fake", "repeat"):
        raise ExpressionError(f"${{{inner}}}: write ${{fake.METHOD}} or ${{repeat:TEXT:COUNT}}")
    return Reference("saved", name=head, path=parts[1:])


def check_faker_method(faker: Any, method: str) -> str | None:
    """Why ``${fake.METHOD}`` cannot work, or None when it can."""
    if method in _FAKER_REFUSED or method.startswith("_"):
        return f"fake.{method} configures Faker rather than producing a value"
    try:
        candidate = getattr(faker, method, None)
    except (AttributeError, TypeError, NotImplementedError):
        candidate = None
    if not callable(candidate):
        return f"fake.{method} is not a Faker method (try fake.sentence, fake.name, fake.numerify:C-#####)"
    return None


def new_faker(seed: int) -> Any:
    """A Faker of its own (never the shared module-level random), seeded for repeatable values."""
    faker = Faker("en_US")
    faker.seed_instance(seed)
    return faker


# --- resolving ----------------------------------------------------------------------------------
class Resolver:
    """Resolves expressions for one run: saved responses, actors, seeded Faker and the clock.

    Faker is reseeded at the start of every step from (seed, step index), so a step's values do not
    depend on how many values earlier steps drew, or on whether they ran at all.
    """

    def __init__(
        self,
        *,
        seed: int,
        actors: Mapping[str, Actor],
        now: Callable[[], int],
    ) -> None:
        self.seed = seed
        self.actors = actors
        self.saved: dict[str, Any] = {}
        self._now = now
        self._now_cache: int | None = None
        self._faker = new_faker(seed)

    def begin_step(self, index: int) -> None:
        self._faker.seed_instance(f"{self.seed}:{index}")
        self._now_cache = None

    def now(self) -> int:
        if self._now_cache is None:
            self._now_cache = self._now()
        return self._now_cache

    def resolve(self, value: Any) -> Any:
        """``value`` with every expression replaced, recursively through objects and lists."""
        if isinstance(value, str):
            return self.resolve_text(value)
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def resolve_text(self, text: str) -> Any:
        whole = EXPRESSION.fullmatch(text)
        if whole is not None:
            return self.value_of(whole.group(1))

        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            value = self.value_of(match.group(1))
            return value if isinstance(value, str) else json.dumps(value)

        return _TOKEN.sub(substitute, text)

    def value_of(self, inner: str) -> Any:
        reference = parse_expression(inner)
        if reference.kind == "repeat":
            return (reference.argument or "") * reference.count
        if reference.kind == "clock":
            now = self.now()
            if reference.name == "until":
                now -= seconds(UNTIL_MARGIN_SECONDS)
            return format_rfc3339(now)
        if reference.kind == "fake":
            return self._fake(reference)
        if reference.kind == "actor":
            actor = self.actors.get(reference.name)
            if actor is None:
                raise ExpressionError(f"${{{inner}}}: no actor named {reference.name!r}")
            value = actor.attribute(str(reference.path[0]))
            if value is None:
                raise ExpressionError(f"${{{inner}}}: actor {reference.name!r} has no {reference.path[0]}")
            return value
        if reference.name not in self.saved:
            raise ExpressionError(
                f"${{{inner}}}: nothing was saved as {reference.name!r} (the step that saves it did not run "
                "or did not pass)"
            )
        found = lookup(self.saved[reference.name], reference.path)
        if found is MISSING:
            raise ExpressionError(
                f"${{{inner}}}: the response saved as {reference.name!r} has nothing at "
                f"{format_path(reference.path)!r}"
            )
        return found

    def _fake(self, reference: Reference) -> Any:
        problem = check_faker_method(self._faker, reference.name)
        if problem is not None:
            raise ExpressionError(problem)
        method = getattr(self._faker, reference.name)
        argument = reference.argument
        try:
            if argument is None:
                produced = method()
            elif re.fullmatch(r"-?[0-9]+", argument.strip()):
                produced = method(int(argument))
            else:
                produced = method(argument)
        except Exception as error:  # Faker raises anything from TypeError to AttributeError
            raise ExpressionError(f"${{fake.{reference.name}}}: Faker refused: {error}") from None
        return _jsonable(produced)


def _jsonable(value: Any) -> Any:
    """Faker values as JSON: dates and other objects become text."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def is_missing(value: Any) -> bool:
    return isinstance(value, Missing)
