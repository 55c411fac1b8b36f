"""Paging a time index by keyset seeks, with inserts between pages, yields what was there once each.

A message scroll keeps no iterator between pages: each page seeks past the key of the last item it
returned. Meanwhile writes go on, and when the clock has been set back new items land *before* the
scroll's position. Whatever the inserts and the page sizes, the pages must yield every item that
was in range at the first page exactly once and in order (new items are found too; the lists drop
them by their sequence number, which this test does by their names).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.domain.store import Key, _TimeIndex

TIMES = st.integers(min_value=0, max_value=40)


def build(times: list[int]) -> tuple[_TimeIndex, int, dict[str, Key]]:
    index = _TimeIndex()
    keys: dict[str, Key] = {}
    for seq, time in enumerate(times, start=1):
        index.add((time, seq), f"id-{seq}")
        keys[f"id-{seq}"] = (time, seq)
    return index, len(times), keys


@given(
    existing=st.lists(TIMES, max_size=30),
    since=st.none() | TIMES,
    until=st.none() | TIMES,
    descending=st.booleans(),
    pages=st.lists(
        st.tuples(st.integers(min_value=1, max_value=5), st.lists(TIMES, max_size=4)), max_size=12
    ),
)
def test_pages_read_by_seeking_past_the_last_key_yield_every_original_item_once_in_order(
    existing: list[int],
    since: int | None,
    until: int | None,
    descending: bool,
    pages: list[tuple[int, list[int]]],
) -> None:
    index, seq, keys = build(existing)
    expected = index.between(since, until)
    if descending:
        expected = expected[::-1]
    seen: list[str] = []
    after: Key | None = None
    for size, inserts in [*pages, (len(existing) + 1, [])]:
        page = [i for i in index.walk(since, until, descending, after) if i.startswith("id-")][:size]
        seen += page
        if page:
            after = keys[page[-1]]
        for time in inserts:  # arbitrary times: before, at and after the scroll's position
            seq += 1
            index.add((time, seq), f"new-{seq}")
            keys[f"new-{seq}"] = (time, seq)
    assert seen == expected
