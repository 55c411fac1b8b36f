"""The declared list of deliberate differences between our contract and the vendor's document.

``contract diff`` is only a drift alarm while it stays quiet on purpose and loud otherwise. Where the
sandbox knowingly says something else than the vendor's OpenAPI (a pattern the vendor's YAML
escapes twice, a field its prose names and its schema forgets), the difference is written down once,
with its reason, in ``contracts/deviations.yaml`` beside the contract. :func:`review` sorts the
differences of a diff into those a declared deviation accepts and those it does not; only the latter
make the command fail.

An entry matches a difference when the ``kind`` is the same, the location matches ``at`` (a glob,
or a list of them, where ``*`` stands for any text and every other character for itself), the
operation is ``operation`` when one is given, and, when ``ours`` / ``theirs`` are given, the values
on each side equal them. Matching values as well as places keeps an accepted deviation from hiding
a later change at the same place: a vendor who rewrites a pattern again is reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .diff import Difference, format_report

__all__ = ["DEVIATIONS_FILE", "Deviation", "Review", "format_review", "load_deviations", "review"]

DEVIATIONS_FILE = "deviations.yaml"
"""The file name of the declared list, in the folder of the contract it belongs to."""
_FIELDS = frozenset({"kind", "at", "operation", "ours", "theirs", "reason"})


@dataclass(frozen=True)
class Deviation:
    """One declared difference: what it looks like in a diff, and why the sandbox chose it."""

    kind: str
    at: tuple[str, ...]
    """Where it applies: globs on a difference's location, any of which may match."""
    reason: str
    operation: str | None = None
    values: tuple[Any, Any] | None = None
    """``(ours, theirs)`` when the entry names the keyword's values; None matches any values."""

    def matches(self, difference: Difference) -> bool:
        if difference.kind != self.kind:
            return False
        if self.operation is not None and difference.operation != self.operation:
            return False
        if self.values is not None and (difference.ours, difference.theirs) != self.values:
            return False
        return any(_glob(at).fullmatch(difference.location) is not None for at in self.at)

    def describe(self) -> str:
        where = f"{self.operation} " if self.operation else ""
        values = ""
        if self.values is not None:
            ours, theirs = ("(none)" if v is None else v for v in self.values)
            values = f": ours {ours}, theirs {theirs}"
        return f"{where}{self.kind} at {' or '.join(self.at)}{values}"


@dataclass
class Review:
    """A diff sorted out: the differences nothing accepts, and each deviation with what it accepted."""

    differences: list[Difference] = field(default_factory=list)
    accepted: list[tuple[Deviation, list[Difference]]] = field(default_factory=list)


def _glob(pattern: str) -> re.Pattern[str]:
    """``*`` matches any text; everything else literally (locations hold brackets and dots)."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def load_deviations(path: Path | str) -> list[Deviation]:
    """Read a declared list; a file that does not exist declares nothing.

    A malformed entry is refused with a ``ValueError`` naming it and the field, so a typo in the list
    cannot silently accept nothing (or everything).
    """
    source = Path(path)
    if not source.is_file():
        return []
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{source.name}: not YAML ({error})") from None
    entries = document.get("deviations") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError(f"{source.name}: expected a mapping with a 'deviations' list")
    return [_entry(source.name, index, entry) for index, entry in enumerate(entries)]


def _entry(name: str, index: int, entry: Any) -> Deviation:
    where = f"{name}: deviations[{index}]"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected a mapping")
    unknown = sorted(set(map(str, entry)) - _FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(_FIELDS))})")
    for required in ("kind", "reason"):
        if not isinstance(entry.get(required), str) or not entry[required].strip():
            raise ValueError(f"{where}.{required}: required, a non-empty string")
    places = [entry.get("at")] if isinstance(entry.get("at"), str) else entry.get("at")
    if not isinstance(places, list) or not places or not all(isinstance(p, str) and p for p in places):
        raise ValueError(f"{where}.at: required, a location glob or a non-empty list of them")
    operation = entry.get("operation")
    if operation is not None and not isinstance(operation, str):
        raise ValueError(f"{where}.operation: expected a string")
    if ("ours" in entry) != ("theirs" in entry):
        raise ValueError(f"{where}: give both 'ours' and 'theirs', or neither")
    values = (entry["ours"], entry["theirs"]) if "ours" in entry else None
    reason = " ".join(entry["reason"].split())
    return Deviation(entry["kind"], tuple(places), reason, operation, values)


def review(differences: Sequence[Difference], deviations: Sequence[Deviation]) -> Review:
    """Sort ``differences``: each goes to the first deviation that matches it, or stays a difference."""
    result = Review()
    accepted: dict[int, list[Difference]] = {}
    for difference in differences:
        index = next((i for i, d in enumerate(deviations) if d.matches(difference)), None)
        if index is None:
            result.differences.append(difference)
        else:
            accepted.setdefault(index, []).append(difference)
    result.accepted = [(deviations[i], accepted[i]) for i in sorted(accepted)]
    return result


def format_review(outcome: Review) -> str:
    """The differences as :func:`format_report` prints them, then one line per accepted deviation.

    An accepted deviation is printed once however many places it covers (one pattern sits in every
    schema that embeds a context), with the count of places and its reason.
    """
    if not outcome.accepted:
        return format_report(outcome.differences)
    count = len(outcome.accepted)
    noun = "accepted deviation" if count == 1 else "accepted deviations"
    declared = f"{count} {noun} (declared in {DEVIATIONS_FILE}):"
    if outcome.differences:
        lines = [*format_report(outcome.differences).splitlines(), declared]
    else:
        lines = [f"No differences; {declared}"]
    for deviation, matched in outcome.accepted:
        places = "1 place" if len(matched) == 1 else f"{len(matched)} places"
        lines.append(f"  accepted deviation: {deviation.describe()} ({places}): {deviation.reason}")
    return "\n".join(lines)
