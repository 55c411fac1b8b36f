"""SandboxConfig: the documented defaults, and refusal of settings no sandbox can run with."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from simulator.domain.config import SandboxConfig
from simulator.domain.errors import InvalidRequest


def test_defaults_match_the_design() -> None:
    config = SandboxConfig()
    assert config.page_size == 100
    assert (config.lag_min, config.lag_max) == (0.2, 3.0)
    assert config.rate_limit_per_second == 5
    assert config.scroll_ttl == 300
    assert config.token_ttl == 3600
    assert config.until_margin == 5
    assert config.strict is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("page_size", 0),
        ("page_size", -3),
        ("lag_min", -0.1),
        ("lag_max", -1.0),
        ("rate_limit_per_second", 0),
        ("scroll_ttl", 0.0),
        ("token_ttl", 0),
        ("until_margin", -1.0),
    ],
)
def test_an_unusable_setting_is_refused_naming_the_field(name: str, value: float) -> None:
    overrides: dict[str, Any] = {name: value}
    with pytest.raises(InvalidRequest) as caught:
        SandboxConfig(**overrides)
    assert caught.value.code == "invalid_config"
    assert [p.field for p in caught.value.problems] == [name]


def test_replace_checks_the_new_settings_too() -> None:
    with pytest.raises(InvalidRequest):
        replace(SandboxConfig(), page_size=0)


def test_zero_lag_and_margin_are_allowed() -> None:
    config = SandboxConfig(lag_min=0, lag_max=0, until_margin=0, page_size=1)
    assert config.lag_max == 0
