"""Settings a user can change: at start-up (``serve`` flags) and, later, at run time."""

from __future__ import annotations

from dataclasses import dataclass

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
    """Reject fields the contract does not know instead of ignoring them."""

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
            )
            if not ok
        ]
        if problems:
            raise InvalidRequest(*problems, code="invalid_config")
