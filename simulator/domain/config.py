"""Settings a user can change: at start-up (``serve`` flags) and, later, at run time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType
from typing import Any

from .errors import InvalidRequest, Problem

LONGEST_DURATION = 366 * 24 * 3600
"""The longest duration any setting takes, in seconds (366 days): a lag, lifetime or margin past
it is a typo, and an unbounded one overflows the calendar (year 9999) the sandbox renders."""
LARGEST_COUNT = 1_000_000
"""The largest count a setting takes (calls per second, forced faults)."""
SEED_RANGE = (-(2**63), 2**63 - 1)
"""Seeds are 64-bit integers: a longer one is no more random, only slower to print."""


@dataclass
class SandboxConfig:
    seed: int = 0
    """Seeds ids, lags and random faults so that a run can be repeated exactly (tokens stay random)."""
    page_size: int = 100
    lag_min: float = 0.2
    """Post-processing lag range, in seconds of sandbox time, before a new item shows in lists."""
    lag_max: float = 3.0
    rate_limit: bool = True
    rate_limit_per_second: int = 5
    scroll_ttl: float = 300.0
    token_ttl: int = 3600
    until_margin: float = 5.0
    """How far in the past ``until`` must be, as production requires."""
    strict: bool = False
    """Reject fields the contract does not know instead of ignoring them, and hold requests to the
    vendor's strictest reading where its prose asks more than its schema (grant_type, a list
    query's criteria, updatedSince)."""
    validate_responses: bool = True
    """Check every response against the contract; a violation is answered as a 500 (a sandbox bug)."""
    journal_size: int = 1000
    """How many requests, notifications and webhook attempts the journal keeps."""

    def __post_init__(self) -> None:
        """Refuse settings no sandbox can run with (a page size of 0 would page forever)."""
        problems = [
            Problem(name, f"{_shown(getattr(self, name))} is out of range: {expected}")
            for name, ok, expected in (
                ("seed", SEED_RANGE[0] <= self.seed <= SEED_RANGE[1], "a 64-bit integer (-2^63 to 2^63-1)"),
                ("page_size", self.page_size >= 1, "at least 1"),
                ("lag_min", 0 <= self.lag_min <= LONGEST_DURATION, _SECONDS),
                ("lag_max", 0 <= self.lag_max <= LONGEST_DURATION, _SECONDS),
                ("rate_limit_per_second", 1 <= self.rate_limit_per_second <= LARGEST_COUNT, _COUNT),
                ("scroll_ttl", 0 < self.scroll_ttl <= LONGEST_DURATION, _POSITIVE_SECONDS),
                ("token_ttl", 0 < self.token_ttl <= LONGEST_DURATION, _POSITIVE_SECONDS),
                ("until_margin", 0 <= self.until_margin <= LONGEST_DURATION, _SECONDS),
                ("journal_size", self.journal_size >= 1, "at least 1"),
                (
                    "lag_max",
                    self.lag_max < 0 or self.lag_max >= self.lag_min,
                    f"at least lag_min ({self.lag_min!r})",
                ),
            )
            if not ok
        ]
        if problems:
            raise InvalidRequest(*problems, code="invalid_config")

    def to_json(self) -> dict[str, Any]:
        """The settings in the control plane's JSON shape (``contracts/schemas/sandbox-config.json``)."""
        return {
            "seed": self.seed,
            "pageSize": self.page_size,
            "lag": {"min": self.lag_min, "max": self.lag_max},
            "rateLimit": {"enabled": self.rate_limit, "perSecond": self.rate_limit_per_second},
            "scrollTtl": self.scroll_ttl,
            "tokenTtl": self.token_ttl,
            "untilMargin": self.until_margin,
            "strict": self.strict,
            "validateResponses": self.validate_responses,
            "journalSize": self.journal_size,
        }

    def updated(self, changes: Mapping[str, Any]) -> SandboxConfig:
        """A new, checked config with ``changes`` (control-plane JSON, any subset) applied.

        Problems name the JSON field (``lag.max``), not the Python attribute, since that is what the
        user sent.
        """
        lag = changes.get("lag") or {}
        rate = changes.get("rateLimit") or {}
        values = {
            "seed": changes.get("seed"),
            "page_size": changes.get("pageSize"),
            "lag_min": lag.get("min"),
            "lag_max": lag.get("max"),
            "rate_limit": rate.get("enabled"),
            "rate_limit_per_second": rate.get("perSecond"),
            "scroll_ttl": changes.get("scrollTtl"),
            "token_ttl": changes.get("tokenTtl"),
            "until_margin": changes.get("untilMargin"),
            "strict": changes.get("strict"),
            "validate_responses": changes.get("validateResponses"),
            "journal_size": changes.get("journalSize"),
        }
        if "min" in lag and "max" not in lag and lag["min"] > self.lag_max:
            values["lag_max"] = lag["min"]  # raising only the minimum moves the range up with it
        try:
            return replace(self, **{name: value for name, value in values.items() if value is not None})
        except InvalidRequest as error:
            raise InvalidRequest(
                *(Problem(_JSON_NAMES.get(p.field, p.field), _json_words(p.message)) for p in error.problems),
                code="invalid_config",
            ) from None

    def copy_from(self, other: SandboxConfig) -> None:
        """Take over another config's values in place (the services hold on to this object)."""
        for field in fields(self):
            setattr(self, field.name, getattr(other, field.name))


_SECONDS = f"0 to {LONGEST_DURATION} seconds (366 days)"
_POSITIVE_SECONDS = f"more than 0 and at most {LONGEST_DURATION} seconds (366 days)"
_COUNT = f"1 to {LARGEST_COUNT}"

_JSON_NAMES = MappingProxyType(
    {
        "page_size": "pageSize",
        "lag_min": "lag.min",
        "lag_max": "lag.max",
        "rate_limit_per_second": "rateLimit.perSecond",
        "scroll_ttl": "scrollTtl",
        "token_ttl": "tokenTtl",
        "until_margin": "untilMargin",
        "journal_size": "journalSize",
    }
)


def _shown(value: Any) -> str:
    """A refused value as a message shows it: a 4000-digit number is cut, not printed whole."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:12]}... (a number of {len(text)} characters)"


def _json_words(message: str) -> str:
    """A problem's message with the Python attribute names it mentions spelt as the user sent them."""
    for name, json_name in _JSON_NAMES.items():
        message = message.replace(name, json_name)
    return message
