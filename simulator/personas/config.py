"""What the personas do: their settings, built from a schema-valid persona document.

A document (a ``--personas`` file, a world's ``personas`` section, the body of
``PUT /_sandbox/personas`` or the ``personas`` part of a saved state) is laid over the built-in
defaults of ``fixtures/default-personas.yaml``, field by field, so that a user writes only what
differs. Anything a schema cannot check is checked here, before anything changes: that named
accounts exist and have the persona's role, and that every template names only placeholders the
sandbox can fill.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..domain.errors import InvalidRequest, Problem
from ..domain.world import World

PersonaRole = Literal["retailer", "supplier"]
ROLES: tuple[PersonaRole, ...] = ("retailer", "supplier")
PLACEHOLDERS = frozenset(
    {
        "consumerName",
        "consumerFirstName",
        "poNumber",
        "orderNumber",
        "sku",
        "itemTitle",
        "lineNumber",
        "quantity",
        "retailerName",
        "supplierName",
        "trackingNumber",
        "carrier",
        "returnNumber",
        "deliveryDate",
    }
)
"""The names a template may use; :mod:`simulator.personas.templates` fills each of them."""
_TEMPLATE_FIELDS = ("title", "message", "followUp", "thanks", "reply", "reopen", "question", "reminder")


@dataclass(frozen=True, slots=True)
class Delay:
    """A delay in seconds, drawn between ``low`` and ``high`` (triangular around ``mode`` if set)."""

    low: float
    high: float
    mode: float | None = None


@dataclass(frozen=True, slots=True)
class Complaint:
    kind: str
    weight: float
    line_item: bool
    standard: bool
    texts: Mapping[str, str]
    """title, message, followUp, thanks, reply and reopen templates."""


@dataclass(frozen=True, slots=True)
class Answer:
    kind: str
    keywords: tuple[str, ...]
    texts: Mapping[str, str]
    """message, question and reminder templates."""


@dataclass(frozen=True, slots=True)
class RetailerBehaviour:
    conversations_per_hour: float
    standard_per_hour: float
    follow_up_after: float
    max_follow_ups: int
    react_after: Delay
    thanks_chance: float
    close_chance: float
    reopen_chance: float
    reopen_after: Delay
    complaints: tuple[Complaint, ...]


@dataclass(frozen=True, slots=True)
class SupplierBehaviour:
    answer_after: Delay
    question_chance: float
    close_chance: float
    reminder_after: float
    answers: tuple[Answer, ...]


@dataclass(frozen=True, slots=True)
class PersonaSettings:
    """The whole configuration: the document it came from and what it means."""

    document: Mapping[str, Any]
    """The merged document (defaults plus overrides), as the control plane shows and saves it."""
    seed: int
    retailer_accounts: tuple[str, ...]
    """Accounts the retailer persona acts for, in id order (empty: it does not act)."""
    supplier_accounts: tuple[str, ...]
    retailer: RetailerBehaviour
    supplier: SupplierBehaviour

    def to_json(self) -> dict[str, Any]:
        return {
            **self.document,
            "active": {"retailer": list(self.retailer_accounts), "supplier": list(self.supplier_accounts)},
        }


def merged(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """``override`` laid over ``base``: roles field by field, everything else replaced."""
    result: dict[str, Any] = {
        key: dict(value) if isinstance(value, Mapping) else value for key, value in base.items()
    }
    for key, value in (override or {}).items():
        if key in ROLES and isinstance(value, Mapping):
            result[key] = {**result.get(key, {}), **value}
        else:
            result[key] = value
    return result


def enabled(
    document: Mapping[str, Any], role: PersonaRole, accounts: list[str] | None = None
) -> dict[str, Any]:
    """``document`` with ``role`` switched on, for ``accounts`` (None: all of the world's)."""
    section: dict[str, Any] = {**document.get(role, {}), "enabled": True}
    if accounts is None:
        section.pop("accounts", None)
    else:
        section["accounts"] = accounts
    return {**document, role: section}


def settings_from(
    document: Mapping[str, Any], defaults: Mapping[str, Any], world: World, sandbox_seed: int
) -> PersonaSettings:
    """Build settings from a schema-valid ``document`` over ``defaults``; raise
    :class:`InvalidRequest` naming every field that cannot work in this world."""
    full = merged(defaults, document)
    problems: list[Problem] = []
    active: dict[PersonaRole, tuple[str, ...]] = {}
    for role in ROLES:
        section = full.get(role, {})
        active[role] = _accounts(section, role, world, problems) if _is_on(document, role) else ()
    problems += file_template_problems(full)
    retailer, supplier = full.get("retailer", {}), full.get("supplier", {})
    if "complaints" in retailer and not any(c.get("weight", 1) > 0 for c in retailer["complaints"]):
        problems.append(Problem("retailer.complaints", "at least one complaint needs a weight above 0"))
    for role, name in (("retailer", "reactAfter"), ("retailer", "reopenAfter"), ("supplier", "answerAfter")):
        raw = full.get(role, {}).get(name)
        if raw is not None and not raw["min"] <= raw.get("mode", raw["min"]) <= raw["max"]:
            problems.append(Problem(f"{role}.{name}", "expected min <= mode <= max"))
    if problems:
        raise InvalidRequest(*problems, code="invalid_personas")
    for role in ROLES:  # said explicitly, so that the document means the same when read back
        full[role] = {**full.get(role, {}), "enabled": _is_on(document, role)}
    full["seed"] = int(full.get("seed", sandbox_seed))
    return PersonaSettings(
        document=full,
        seed=full["seed"],
        retailer_accounts=active["retailer"],
        supplier_accounts=active["supplier"],
        retailer=_retailer(retailer),
        supplier=_supplier(supplier),
    )


def _is_on(document: Mapping[str, Any], role: PersonaRole) -> bool:
    """A role acts when the document (not the defaults) has its section, unless it says otherwise."""
    section = document.get(role)
    return isinstance(section, Mapping) and bool(section.get("enabled", True))


def _accounts(
    section: Mapping[str, Any], role: PersonaRole, world: World, problems: list[Problem]
) -> tuple[str, ...]:
    named = section.get("accounts")
    if named is None:
        return tuple(sorted(a.id for a in world.accounts.values() if a.role == role))
    for index, account_id in enumerate(named):
        account = world.account(account_id)
        if account is None:
            problems.append(Problem(f"{role}.accounts[{index}]", f"no account {account_id!r} in this world"))
        elif account.role != role:
            problems.append(
                Problem(
                    f"{role}.accounts[{index}]", f"account {account_id!r} is a {account.role}, not a {role}"
                )
            )
    return tuple(sorted(named))


def file_template_problems(document: Any) -> list[Problem]:
    """The template problems of a persona document (any shape: it may not fit the schema yet)."""
    problems: list[Problem] = []
    for role, lists in (("retailer", "complaints"), ("supplier", "answers")):
        section = document.get(role) if isinstance(document, Mapping) else None
        entries = section.get(lists) if isinstance(section, Mapping) else None
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            for name in _TEMPLATE_FIELDS:
                if isinstance(entry, Mapping) and isinstance(entry.get(name), str):
                    problems.extend(template_problems(f"{role}.{lists}[{index}].{name}", entry[name]))
    return problems


def template_problems(field: str, template: str) -> list[Problem]:
    """Problems of one template: unknown placeholders, or braces that do not pair up."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        return [Problem(field, f"not a valid template ({error}); write a literal brace as {{{{ or }}}}")]
    known = ", ".join(sorted(PLACEHOLDERS))
    return [
        Problem(field, f"unknown placeholder {{{name}}}; known ones are: {known}")
        for name in names
        if name not in PLACEHOLDERS
    ]


def _delay(raw: Mapping[str, Any]) -> Delay:
    return Delay(float(raw["min"]), float(raw["max"]), float(raw["mode"]) if "mode" in raw else None)


def _retailer(raw: Mapping[str, Any]) -> RetailerBehaviour:
    return RetailerBehaviour(
        conversations_per_hour=float(raw["conversationsPerHour"]),
        standard_per_hour=float(raw["standardPerHour"]),
        follow_up_after=float(raw["followUpAfter"]),
        max_follow_ups=int(raw["maxFollowUps"]),
        react_after=_delay(raw["reactAfter"]),
        thanks_chance=float(raw["thanksChance"]),
        close_chance=float(raw["closeChance"]),
        reopen_chance=float(raw["reopenChance"]),
        reopen_after=_delay(raw["reopenAfter"]),
        complaints=tuple(
            Complaint(
                kind=c["kind"],
                weight=float(c.get("weight", 1)),
                line_item=bool(c.get("lineItem", True)),
                standard=bool(c.get("standard", False)),
                texts={
                    name: c[name] for name in ("title", "message", "followUp", "thanks", "reply", "reopen")
                },
            )
            for c in raw["complaints"]
        ),
    )


def _supplier(raw: Mapping[str, Any]) -> SupplierBehaviour:
    return SupplierBehaviour(
        answer_after=_delay(raw["answerAfter"]),
        question_chance=float(raw["questionChance"]),
        close_chance=float(raw["closeChance"]),
        reminder_after=float(raw["reminderAfter"]),
        answers=tuple(
            Answer(
                kind=a["kind"],
                keywords=tuple(word.lower() for word in a.get("keywords", ())),
                texts={name: a[name] for name in ("message", "question", "reminder")},
            )
            for a in raw["answers"]
        ),
    )
