"""How a worker of a shared sandbox reads the leader's record of deliveries, without Redis: a
delivery a snapshot brought is known as raised at or before the snapshot's version, so the
record's line for it counts though it names an earlier entry."""

from __future__ import annotations

from typing import Any, cast

from simulator.storage.shared.deliveries import SharedDeliveries
from simulator.webhooks import PendingDelivery

HOOK = PendingDelivery("2000001/n-1", "http://127.0.0.1:9/hook", "{}", "sha256=" + "0" * 64, 1)


class Record:
    """The leader's record as a follower reads it (the one call ``prune`` makes)."""

    def __init__(self, lines: dict[str, str]) -> None:
        self.lines = lines

    def deliveries(self, keys: object) -> tuple[int, dict[str, str]]:
        return 0, self.lines


class Idle:
    """A dispatcher that sends nothing (a follower's)."""

    def pending(self) -> list[PendingDelivery]:
        return []


def known_after(brought_by: str, lines: dict[str, str]) -> list[PendingDelivery]:
    """What a follower still holds pending once it reads ``lines``, HOOK having been raised by the
    entry at version 5 (``entry``) or pending in a snapshot at version 5 (``snapshot``)."""
    record = Record(lines)
    deliveries = SharedDeliveries(cast(Any, record), cast(Any, None), cast(Any, Idle()))
    deliveries.resume(HOOK)
    if brought_by == "entry":
        deliveries.entry_kept(5)
    else:
        deliveries.state_loaded(5)
    deliveries.prune()
    return deliveries.pending()


def test_a_delivery_from_a_snapshot_is_settled_by_the_line_of_its_earlier_entry() -> None:
    assert known_after("snapshot", {HOOK.delivery_id: "3:done"}) == []


def test_a_delivery_from_an_entry_is_settled_by_its_own_entrys_line_only() -> None:
    assert known_after("entry", {HOOK.delivery_id: "3:done"}) == [HOOK]  # another delivery's line
    assert known_after("entry", {HOOK.delivery_id: "5:done"}) == []


def test_a_delivery_from_a_snapshot_takes_the_attempt_the_record_reached_and_no_later_line() -> None:
    [pending] = known_after("snapshot", {HOOK.delivery_id: "3:2"})
    assert pending.attempt == 2
    assert known_after("snapshot", {HOOK.delivery_id: "7:done"}) == [HOOK]  # raised after it: another's
