"""The guide's polling recipe delivers every message exactly once, as long as the lag stays <= 5 s.

Why the 5-second rule exists. A message is stored at once (``createDate``), but the list calls see it
only after a post-processing lag. The recipe polls with ``createdSince`` = the previous call's
``until`` and ``until`` = now - 5 s, so:

* the windows ``[createdSince, until)`` of successive polls are contiguous and disjoint
  (``createdSince`` inclusive, ``until`` exclusive), so each message's ``createDate`` falls in exactly
  one window: nothing is asked for twice, nothing falls between two windows;
* a window is asked for only once it lies at least 5 s in the past, so a message created in it
  (before ``until``) has been stored for more than 5 s; with a lag of at most 5 s it is visible by
  then, and the one poll that asks for its window returns it.

With a lag above 5 s the second point fails: a message created just before ``until`` may still be
invisible when its window is polled, and every later window starts after its ``createDate``: the
recipe never sees it. ``test_lags_above_5_seconds_lose_messages`` shows such a loss (the reason the
sandbox's faults can push the lag past 5 s on purpose: to show a client what production's rule is
protecting it from).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from property_support import ACME, NORTHWIND, START, Harness, iso

from simulator.domain.clock import seconds

pytestmark = pytest.mark.slow

MARGIN_MS = 5000


@dataclass(frozen=True)
class Case:
    arrivals: tuple[tuple[int, int], ...]
    """(when the message is posted, its lag), in milliseconds after the start."""
    intervals: tuple[int, ...]
    """Milliseconds between the first polls; then a poll every second (or the last interval, when
    longer) until every message had its chance."""


def cases(max_lag_ms: int, min_lag_ms: int = 0) -> st.SearchStrategy[Case]:
    return st.builds(
        Case,
        arrivals=st.lists(
            st.tuples(st.integers(0, 60_000), st.integers(min_lag_ms, max_lag_ms)), min_size=1, max_size=20
        ).map(lambda xs: tuple(sorted(xs))),
        intervals=st.lists(st.integers(1, 20_000), min_size=1, max_size=20).map(tuple),
    )


def deliveries(case: Case) -> tuple[list[str], Counter[str]]:
    """Post the messages and poll by the recipe; return (posted ids, how often each was seen)."""
    h = Harness(page_size=7)
    conversation = h.expect(
        201,
        "createConversation",
        NORTHWIND,
        {"title": "Polling", "otherPartyTradingPartnerId": "aaa-bbb-ccc"},
    ).json["id"]
    last_arrival = max(t for t, _ in case.arrivals)
    longest_lag = max(lag for _, lag in case.arrivals)
    # Polls continue until every window that can hold a message was asked for after its lag passed.
    horizon = last_arrival + max(longest_lag, MARGIN_MS) + 1
    polls: list[int] = []
    when = 0
    for step in range(10_000):
        when += case.intervals[step] if step < len(case.intervals) else max(case.intervals[-1], 1000)
        polls.append(when)
        if when - MARGIN_MS > horizon:
            break
    assert when - MARGIN_MS > horizon, "the test stopped polling too early"
    events = sorted(
        [(t, 0, lag) for t, lag in case.arrivals] + [(t, 1, 0) for t in polls]  # posts first on a tie
    )
    posted: list[str] = []
    seen: Counter[str] = Counter()
    previous_until = iso(START)
    for at, kind, lag in events:
        h.advance_micros(START + at * 1000 - h.now())
        if kind == 0:
            h.set_lag(lag / 1000, lag / 1000)
            body = {"dscoConversationId": conversation, "message": f"message {len(posted)}"}
            posted.append(h.expect(201, "addConversationMessage", ACME, body).json["dscoMessageId"])
        else:
            until = iso(h.now() - seconds(MARGIN_MS / 1000))
            query = {"createdSince": previous_until, "until": until}
            pages = h.pages("getConversationMessages", NORTHWIND, query, "messages")
            seen.update(m["dscoMessageId"] for page in pages for m in page)
            previous_until = until
    return posted, seen


def loses_or_repeats(case: Case) -> bool:
    posted, seen = deliveries(case)
    return any(seen[message] != 1 for message in posted) or set(seen) != set(posted)


@given(case=cases(max_lag_ms=MARGIN_MS))
def test_the_recipe_delivers_every_message_exactly_once_while_lags_stay_within_5_seconds(case: Case) -> None:
    posted, seen = deliveries(case)
    assert set(seen) == set(posted), "a message was missed"
    assert all(count == 1 for count in seen.values()), f"a message was delivered twice: {seen}"


def test_a_lag_above_5_seconds_loses_a_message_deterministically() -> None:
    """Posted at 0 s with an 8 s lag; polls every 6 s. The poll at 6 s asks for [start, 1 s) but the
    message only shows at 8 s; the poll at 12 s asks for [1 s, 7 s), which starts after it."""
    posted, seen = deliveries(Case(arrivals=((0, 8000),), intervals=(6000,)))
    assert len(posted) == 1
    assert seen == Counter(), "the message should have been lost"


def test_lags_above_5_seconds_lose_messages() -> None:
    """Hypothesis finds a loss on its own as soon as lags may exceed 5 s."""
    example = find(
        cases(max_lag_ms=15_000, min_lag_ms=MARGIN_MS + 1),
        loses_or_repeats,
        # The first loss found is proof enough: skip shrinking, which would replay hundreds of runs.
        settings=settings(max_examples=300, database=None, deadline=None, phases=[Phase.generate]),
    )
    assert loses_or_repeats(example)
    assert any(lag > MARGIN_MS for _, lag in example.arrivals)
