"""Settings a user can change: at start-up (``serve`` flags) and, later, at run time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType
from typing import Any

from .errors import InvalidRequest, Problem


@dataclass
class SandboxConfig:
    seed: int = 0
    """Seeds ids, lags and tokens so that a run can be repeated exactly."""
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
            Problem(name, f"{getattr(self, name)!r} is out of range: {expected}")
            for name, ok, expected in (
                ("page_size", self.page_size >= 1, "at least 1"),
                ("lag_min", self.lag_min >= 0, "0 seconds or more"),
                ("lag_max", self.lag_max >= 0, "0 seconds or more"),
                ("rate_limit_per_second", self.rate_limit_per_second >= 1, "at least 1"),
                ("scroll_ttl", self.scroll_ttl > 0, "more than 0 seconds"),
                ("token_ttl", self.token_ttl > 0, "more than 0 seconds"),
                ("until_margin", self.until_margin >= 0, "0 seconds or more"),
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


def _json_words(message: str) -> str:
    """A problem's message with the Python attribute names it mentions spelt as the user sent them."""
    for name, json_name in _JSON_NAMES.items():
        message = message.replace(name, json_name)
    return message
