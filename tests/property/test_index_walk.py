"""A lazy walk over a time index, paused while items arrive, still yields what was there once each.

Scrolls over messages read their index a page at a time, minutes apart, while writes go on; when
the clock has been set back, new items land *before* the walk's position. Whatever the inserts and
wherever the pauses fall, a walk must yield every item that was in range when it started exactly
once and in order (new items may show up too; the service's snapshot filter drops those).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.domain.store import _TimeIndex

TIMES = st.integers(min_value=0, max_value=40)


def build(times: list[int]) -> tuple[_TimeIndex, int]:
    index = _TimeIndex()
    for seq, time in enumerate(times, start=1):
        index.add((time, seq), f"id-{seq}")
    return index, len(times)


@given(
    existing=st.lists(TIMES, max_size=30),
    since=st.none() | TIMES,
    until=st.none() | TIMES,
    descending=st.booleans(),
    pauses=st.lists(
        st.tuples(st.integers(min_value=0, max_value=5), st.lists(TIMES, max_size=4)), max_size=8
    ),
)
def test_a_paused_walk_yields_every_original_item_once_in_order(
    existing: list[int],
    since: int | None,
    until: int | None,
    descending: bool,
    pauses: list[tuple[int, list[int]]],
) -> None:
    index, seq = build(existing)
    expected = index.between(since, until)
    if descending:
        expected = expected[::-1]
    walk = index.walk(since, until, descending)
    seen: list[str] = []
    for steps, inserts in pauses:
        for _ in range(steps):
            item = next(walk, None)
            if item is None:
                break
            seen.append(item)
        for time in inserts:  # arbitrary times: before, at and after the walk's position
            seq += 1
            index.add((time, seq), f"new-{seq}")
    seen.extend(walk)
    original = [item_id for item_id in seen if item_id.startswith("id-")]
    assert original == expected
    assert len(seen) == len(set(seen))  # nothing twice, new items included
