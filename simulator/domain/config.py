"""Settings a user can change: at start-up (``serve`` flags) and, later, at run time."""

from __future__ import annotations

from dataclasses import dataclass


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
