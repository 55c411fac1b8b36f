"""Sandbox time: RFC 3339 parsing and formatting, and the controllable clock every rule reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulator.domain.clock import (
    MICROS,
    ControllableClock,
    SystemClock,
    format_rfc3339,
    parse_rfc3339,
    seconds,
)

GUIDE_SAMPLE = datetime(2023, 5, 1, 9, 29, 55, tzinfo=UTC)


def epoch_micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


GUIDE_MICROS = epoch_micros(GUIDE_SAMPLE)


class FakeSource:
    """A source clock the test moves by hand (microseconds, any resolution)."""

    def __init__(self, start: int) -> None:
        self.time = start

    def now(self) -> int:
        return self.time


# --- parse_rfc3339 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-05-01T09:29:55Z", GUIDE_MICROS),
        ("2023-05-01t09:29:55z", GUIDE_MICROS),
        ("2023-05-01T09:29:55.000Z", GUIDE_MICROS),
        ("2023-05-01T09:29:55.5Z", GUIDE_MICROS + 500_000),
        ("2023-05-01T09:29:55.123Z", GUIDE_MICROS + 123_000),
        ("2023-05-01T09:29:55.123456Z", GUIDE_MICROS + 123_456),
        ("2023-05-01T09:29:55.1234567891234Z", GUIDE_MICROS + 123_456),
        ("2023-05-01T11:29:55+02:00", GUIDE_MICROS),
        ("2023-05-01T04:59:55-04:30", GUIDE_MICROS),
        ("2023-05-01T09:29:55+00:00", GUIDE_MICROS),
        ("2023-05-01T09:29:55-00:00", GUIDE_MICROS),
        ("2023-05-02T00:29:55+15:00", GUIDE_MICROS),
        ("2024-02-29T00:00:00Z", epoch_micros(datetime(2024, 2, 29, tzinfo=UTC))),
        ("1970-01-01T00:00:00Z", 0),
    ],
)
def test_parse_accepts_valid_rfc3339_and_converts_to_utc_micros(text: str, expected: int) -> None:
    assert parse_rfc3339(text) == expected


def test_parse_converts_offsets_to_the_same_utc_instant() -> None:
    spellings = [
        "2023-05-01T09:29:55Z",
        "2023-05-01T10:29:55+01:00",
        "2023-05-01T02:29:55-07:00",
        "2023-04-30T23:59:55-09:30",
        "2023-05-01T15:14:55+05:45",
    ]
    assert {parse_rfc3339(s) for s in spellings} == {GUIDE_MICROS}


def test_parse_truncates_fractions_beyond_microseconds_instead_of_rounding() -> None:
    assert parse_rfc3339("2023-05-01T09:29:55.9999999Z") == GUIDE_MICROS + 999_999


@pytest.mark.parametrize(
    "text", ["2016-12-31T23:59:60Z", "2016-12-31T15:59:60-08:00", "2016-12-31T23:59:60.5Z"]
)
def test_parse_accepts_a_leap_second_at_2359_utc_as_the_last_instant_of_the_day(text: str) -> None:
    parsed = parse_rfc3339(text)
    end_of_day = epoch_micros(datetime(2017, 1, 1, tzinfo=UTC))
    assert parsed is not None
    assert end_of_day - MICROS < parsed < end_of_day


def test_parse_rejects_a_leap_second_anywhere_but_2359_utc() -> None:
    assert parse_rfc3339("2016-12-31T12:00:60Z") is None
    assert parse_rfc3339("2016-12-31T23:59:60+01:00") is None  # that is 22:59:60 UTC


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2023:05:01T9:29:55.0000Z", id="the-guide's-malformed-sample"),
        pytest.param("2023:05:01T9:29:55Z", id="colons-in-date"),
        pytest.param("2023-05-01T9:29:55Z", id="one-digit-hour"),
        pytest.param("2023-05-01T09:29:55", id="missing-offset"),
        pytest.param("2023-05-01T09:29:55.123", id="missing-offset-with-fraction"),
        pytest.param("2023-05-01", id="date-only"),
        pytest.param("09:29:55Z", id="time-only"),
        pytest.param("2023-05-01 09:29:55Z", id="space-separator"),
        pytest.param("2023-05-01T09:29Z", id="no-seconds"),
        pytest.param("2023-05-01T09:29:55.Z", id="empty-fraction"),
        pytest.param("2023-05-01T09:29:55,5Z", id="comma-fraction"),
        pytest.param("2023-05-01T09:29:55+0200", id="offset-without-colon"),
        pytest.param("2023-05-01T09:29:55+02", id="offset-hours-only"),
        pytest.param("2023-05-01T09:29:55+24:00", id="offset-hour-24"),
        pytest.param("2023-05-01T09:29:55+02:60", id="offset-minute-60"),
        pytest.param("2023-02-30T00:00:00Z", id="february-30"),
        pytest.param("2023-02-29T00:00:00Z", id="february-29-not-leap-year"),
        pytest.param("2023-04-31T00:00:00Z", id="april-31"),
        pytest.param("2023-13-01T00:00:00Z", id="month-13"),
        pytest.param("2023-00-10T00:00:00Z", id="month-0"),
        pytest.param("2023-05-00T00:00:00Z", id="day-0"),
        pytest.param("2023-05-01T24:00:00Z", id="hour-24"),
        pytest.param("2023-05-01T09:60:00Z", id="minute-60"),
        pytest.param("2023-05-01T09:29:61Z", id="second-61"),
        pytest.param("0000-01-01T00:00:00Z", id="year-0"),
        pytest.param("0001-01-01T00:00:00+01:00", id="before-year-1-in-utc"),
        pytest.param("2023-05-01T09:29:55Z\n", id="trailing-newline"),
        pytest.param(" 2023-05-01T09:29:55Z", id="leading-space"),
        pytest.param("2023-05-01T09:29:55ZZ", id="trailing-garbage"),
        pytest.param("٢٠٢٣-05-01T09:29:55Z", id="non-ascii-digits"),
        pytest.param("+2023-05-01T09:29:55Z", id="signed-year"),
        pytest.param("", id="empty"),
    ],
)
def test_parse_rejects_malformed_date_times(text: str) -> None:
    assert parse_rfc3339(text) is None


# --- format_rfc3339 -----------------------------------------------------------------------------


def test_format_renders_utc_with_exactly_three_fraction_digits_and_z() -> None:
    assert format_rfc3339(GUIDE_MICROS) == "2023-05-01T09:29:55.000Z"
    assert format_rfc3339(GUIDE_MICROS + 7_000) == "2023-05-01T09:29:55.007Z"
    assert format_rfc3339(0) == "1970-01-01T00:00:00.000Z"


def test_format_truncates_sub_millisecond_parts() -> None:
    assert format_rfc3339(GUIDE_MICROS + 123_999) == "2023-05-01T09:29:55.123Z"


@pytest.mark.parametrize(
    "micros",
    [0, GUIDE_MICROS, GUIDE_MICROS + 1_000, GUIDE_MICROS + 999_000, 253402300799999000, 951782400000000],
)
def test_format_then_parse_round_trips_whole_milliseconds(micros: int) -> None:
    assert parse_rfc3339(format_rfc3339(micros)) == micros


@pytest.mark.parametrize(
    "text",
    [
        "2023-05-01T09:29:55.000Z",
        "2023-05-01T09:29:55.123Z",
        "1999-12-31T23:59:59.999Z",
        "2024-02-29T12:00:00.001Z",
    ],
)
def test_parse_then_format_round_trips_the_canonical_form(text: str) -> None:
    parsed = parse_rfc3339(text)
    assert parsed is not None
    assert format_rfc3339(parsed) == text


def test_format_of_an_offset_time_is_its_utc_instant() -> None:
    parsed = parse_rfc3339("2023-05-01T11:29:55.250+02:00")
    assert parsed is not None
    assert format_rfc3339(parsed) == "2023-05-01T09:29:55.250Z"


# --- seconds() ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (1, 1_000_000),
        (0.2, 200_000),
        (2.5, 2_500_000),
        (300, 300_000_000),
        (0.0004, 0),
        (-1, -1_000_000),
    ],
)
def test_seconds_converts_to_whole_milliseconds_in_micros(value: float, expected: int) -> None:
    assert seconds(value) == expected
    assert seconds(value) % 1000 == 0


# --- SystemClock --------------------------------------------------------------------------------


def test_system_clock_is_close_to_wall_time_and_whole_milliseconds() -> None:
    now = SystemClock().now()
    wall = epoch_micros(datetime.now(UTC))
    assert now % 1000 == 0
    assert abs(now - wall) < 5 * MICROS


# --- ControllableClock --------------------------------------------------------------------------


def test_a_frozen_clock_does_not_move_while_its_source_does() -> None:
    source = FakeSource(GUIDE_MICROS)
    clock = ControllableClock(source, frozen_at=GUIDE_MICROS)
    source.time += 10 * MICROS
    assert clock.frozen
    assert clock.now() == GUIDE_MICROS
    assert clock.now() == GUIDE_MICROS


def test_freezing_a_running_clock_stops_it_at_the_current_instant() -> None:
    source = FakeSource(GUIDE_MICROS)
    clock = ControllableClock(source)
    was_frozen = clock.frozen
    clock.freeze()
    source.time += 60 * MICROS
    assert (was_frozen, clock.frozen) == (False, True)
    assert clock.now() == GUIDE_MICROS


def test_advance_moves_a_frozen_clock_exactly() -> None:
    clock = ControllableClock(FakeSource(0), frozen_at=GUIDE_MICROS)
    clock.advance(seconds(3600))
    assert clock.now() == GUIDE_MICROS + 3600 * MICROS
    assert clock.frozen


def test_advance_moves_a_running_clock_and_it_keeps_running() -> None:
    source = FakeSource(GUIDE_MICROS)
    clock = ControllableClock(source)
    clock.advance(seconds(10))
    assert clock.now() == GUIDE_MICROS + 10 * MICROS
    source.time += 2 * MICROS
    assert clock.now() == GUIDE_MICROS + 12 * MICROS


def test_set_moves_a_frozen_clock_to_the_instant_and_keeps_it_frozen() -> None:
    clock = ControllableClock(FakeSource(0), frozen_at=0)
    clock.set(GUIDE_MICROS)
    assert clock.now() == GUIDE_MICROS
    assert clock.frozen


def test_set_moves_a_running_clock_which_runs_on_from_there() -> None:
    source = FakeSource(10**15)
    clock = ControllableClock(source)
    clock.set(GUIDE_MICROS)
    assert clock.now() == GUIDE_MICROS
    source.time += 1_500_000
    assert clock.now() == GUIDE_MICROS + 1_500_000


def test_set_may_move_a_running_clock_back_on_purpose() -> None:
    source = FakeSource(GUIDE_MICROS)
    clock = ControllableClock(source)
    clock.now()
    clock.set(GUIDE_MICROS - 3600 * MICROS)
    assert clock.now() == GUIDE_MICROS - 3600 * MICROS


def test_a_negative_advance_moves_a_running_clock_back_on_purpose() -> None:
    source = FakeSource(GUIDE_MICROS)
    clock = ControllableClock(source)
    clock.now()
    clock.advance(-seconds(60))
    assert clock.now() == GUIDE_MICROS - 60 * MICROS


def test_unfreezing_continues_from_the_frozen_instant_not_from_the_source() -> None:
    source = FakeSource(GUIDE_MICROS)
    clock = ControllableClock(source)
    clock.freeze()
    source.time += 3600 * MICROS  # an hour of wall time passes while frozen
    clock.advance(seconds(5))
    clock.freeze(False)
    assert not clock.frozen
    assert clock.now() == GUIDE_MICROS + 5 * MICROS
    source.time += 250_000
    assert clock.now() == GUIDE_MICROS + 5 * MICROS + 250_000


def test_freeze_and_unfreeze_are_idempotent() -> None:
    source = FakeSource(GUIDE_MICROS)
    clock = ControllableClock(source)
    clock.freeze()
    source.time += MICROS
    clock.freeze()  # a second freeze must not re-read the source
    assert clock.now() == GUIDE_MICROS
    clock.freeze(False)
    clock.freeze(False)
    assert clock.now() == GUIDE_MICROS


def test_now_is_always_whole_milliseconds_whatever_the_source_resolution() -> None:
    source = FakeSource(GUIDE_MICROS + 123_456)
    clock = ControllableClock(source)
    assert clock.now() % 1000 == 0
    clock.set(GUIDE_MICROS + 777)  # set truncates to the millisecond
    source.time += 333
    assert clock.now() % 1000 == 0
    clock.advance(1_999)
    assert clock.now() % 1000 == 0
    clock.freeze()
    assert clock.now() % 1000 == 0
    frozen = ControllableClock(source, frozen_at=GUIDE_MICROS + 999)
    assert frozen.now() == GUIDE_MICROS


def test_a_running_clock_never_goes_backwards_even_if_its_source_does() -> None:
    source = FakeSource(GUIDE_MICROS)
    clock = ControllableClock(source)
    seen = [clock.now()]
    for step in (1_000, 5_000, -4_000, -60 * MICROS, 2_000, 61 * MICROS):
        source.time += step
        seen.append(clock.now())
    assert seen == sorted(seen)


def test_a_running_clock_on_the_system_source_never_goes_backwards() -> None:
    clock = ControllableClock()
    readings = [clock.now() for _ in range(2000)]
    assert readings == sorted(readings)
    assert all(r % 1000 == 0 for r in readings)


def test_freezing_after_the_source_stepped_back_keeps_the_latest_instant() -> None:
    source = FakeSource(GUIDE_MICROS)
    clock = ControllableClock(source)
    before = clock.now()
    source.time -= 10 * MICROS
    clock.freeze()
    assert clock.now() >= before


class TickingSource(FakeSource):
    """A source that moves one millisecond every time it is read, as a busy machine's clock may."""

    def now(self) -> int:
        self.time += 1000
        return self.time


def test_restore_freezes_a_running_clock_exactly_at_the_instant_even_if_the_source_ticks() -> None:
    clock = ControllableClock(TickingSource(10**15))
    clock.now()
    clock.restore(GUIDE_MICROS, frozen=True)
    assert clock.frozen
    assert clock.now() == GUIDE_MICROS


def test_restore_puts_a_frozen_clock_running_from_the_instant() -> None:
    source = FakeSource(10**15)
    clock = ControllableClock(source, frozen_at=0)
    clock.restore(GUIDE_MICROS, frozen=False)
    source.time += 250_000
    assert clock.now() == GUIDE_MICROS + 250_000


def test_resume_goes_back_to_the_source_time_and_runs() -> None:
    source = FakeSource(1_000_000_000)
    clock = ControllableClock(source)
    clock.advance(3_600_000_000)
    clock.freeze()
    clock.resume()
    assert not clock.frozen
    assert clock.now() == 1_000_000_000
    source.time += 5_000
    assert clock.now() == 1_000_005_000
