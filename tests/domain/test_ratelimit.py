"""RateLimiter: 5 calls per second per account per operation, in a sliding window of sandbox time."""

from __future__ import annotations

import pytest

from simulator.domain.clock import MICROS
from simulator.domain.errors import RateLimited
from simulator.domain.ratelimit import RateLimiter

T0 = 1_682_933_395_000_000
ACCOUNT, OTHER_ACCOUNT = "1000001", "2000001"
OP, OTHER_OP = "getConversations", "createConversation"


def test_five_calls_in_the_same_instant_pass() -> None:
    limiter = RateLimiter()
    for _ in range(5):
        limiter.check(ACCOUNT, OP, T0)


def test_the_sixth_call_within_a_second_is_refused_with_retry_after_at_least_one() -> None:
    limiter = RateLimiter()
    for _ in range(5):
        limiter.check(ACCOUNT, OP, T0)
    with pytest.raises(RateLimited) as caught:
        limiter.check(ACCOUNT, OP, T0 + 999_000)
    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after >= 1
    assert OP in str(caught.value)


def test_calls_pass_again_one_second_after_the_first() -> None:
    limiter = RateLimiter()
    for _ in range(5):
        limiter.check(ACCOUNT, OP, T0)
    for _ in range(5):
        limiter.check(ACCOUNT, OP, T0 + MICROS)


def test_the_window_slides_instead_of_resetting_on_whole_seconds() -> None:
    limiter = RateLimiter()
    for _ in range(3):
        limiter.check(ACCOUNT, OP, T0)
    for _ in range(2):
        limiter.check(ACCOUNT, OP, T0 + 500_000)
    # a second after the first three, only those three have left the window
    for _ in range(3):
        limiter.check(ACCOUNT, OP, T0 + MICROS)
    with pytest.raises(RateLimited) as caught:
        limiter.check(ACCOUNT, OP, T0 + MICROS)
    assert caught.value.retry_after == 1
    limiter.check(ACCOUNT, OP, T0 + 1_500_000)


def test_retry_after_rounds_the_wait_up_to_whole_seconds() -> None:
    limiter = RateLimiter(per_second=1)
    limiter.check(ACCOUNT, OP, T0)
    with pytest.raises(RateLimited) as caught:
        limiter.check(ACCOUNT, OP, T0 + 1000)
    assert caught.value.retry_after == 1


def test_a_refused_call_does_not_count_against_the_window() -> None:
    limiter = RateLimiter()
    for _ in range(5):
        limiter.check(ACCOUNT, OP, T0)
    for _ in range(10):
        with pytest.raises(RateLimited):
            limiter.check(ACCOUNT, OP, T0 + 900_000)
    for _ in range(5):
        limiter.check(ACCOUNT, OP, T0 + MICROS)


def test_each_operation_has_its_own_limit() -> None:
    limiter = RateLimiter()
    for _ in range(5):
        limiter.check(ACCOUNT, OP, T0)
    for _ in range(5):
        limiter.check(ACCOUNT, OTHER_OP, T0)
    with pytest.raises(RateLimited):
        limiter.check(ACCOUNT, OP, T0)


def test_each_account_has_its_own_limit() -> None:
    limiter = RateLimiter()
    for _ in range(5):
        limiter.check(ACCOUNT, OP, T0)
    for _ in range(5):
        limiter.check(OTHER_ACCOUNT, OP, T0)
    with pytest.raises(RateLimited):
        limiter.check(OTHER_ACCOUNT, OP, T0)


@pytest.mark.parametrize("per_second", [1, 2, 10])
def test_the_limit_per_second_is_configurable(per_second: int) -> None:
    limiter = RateLimiter(per_second=per_second)
    for _ in range(per_second):
        limiter.check(ACCOUNT, OP, T0)
    with pytest.raises(RateLimited):
        limiter.check(ACCOUNT, OP, T0)


def test_changing_the_limit_takes_effect_at_once() -> None:
    limiter = RateLimiter()
    for _ in range(3):
        limiter.check(ACCOUNT, OP, T0)
    limiter.per_second = 3
    with pytest.raises(RateLimited):
        limiter.check(ACCOUNT, OP, T0)
    limiter.per_second = 10
    limiter.check(ACCOUNT, OP, T0)


def test_clear_forgets_every_call() -> None:
    limiter = RateLimiter()
    for _ in range(5):
        limiter.check(ACCOUNT, OP, T0)
    limiter.clear()
    for _ in range(5):
        limiter.check(ACCOUNT, OP, T0)


def test_setting_the_clock_back_does_not_lock_the_account_out() -> None:
    limiter = RateLimiter()
    for _ in range(5):
        limiter.check(ACCOUNT, OP, T0 + 3600 * MICROS)
    # the clock is set back an hour: those calls lie in the future and must not count for an hour
    limiter.check(ACCOUNT, OP, T0)
