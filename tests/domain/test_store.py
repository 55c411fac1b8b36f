"""MemoryStore: the indexes the list calls rely on (time order, per account, reference ids)."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import Any

import pytest

from simulator.domain.clock import MICROS
from simulator.domain.models import Conversation, Message
from simulator.domain.store import MemoryStore, Store

RETAILER, SUPPLIER, OTHER_RETAILER, OTHER_SUPPLIER = "1000001", "2000001", "1000002", "2000002"
T0 = 1_682_933_395_000_000  # 2023-05-01T09:29:55Z


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def conversation(store: Store, cid: str, at: int, **overrides: Any) -> Conversation:
    fields: dict[str, Any] = {
        "id": cid,
        "seq": store.next_seq(),
        "title": f"conversation {cid}",
        "kind": "standard",
        "initiated_by": "retailer",
        "retailer_id": RETAILER,
        "supplier_id": SUPPLIER,
        "context": {"type": "account"},
        "create_time": at,
        "last_update": at,
        "visible_at": at,
    }
    fields.update(overrides)
    created = Conversation(**fields)
    store.add_conversation(created)
    return created


def message(store: Store, mid: str, on: Conversation, at: int, sender: str | None = None) -> Message:
    sender_id = sender or on.retailer_id
    created = Message(
        id=mid,
        seq=store.next_seq(),
        conversation_id=on.id,
        text=f"message {mid}",
        sender_id=sender_id,
        sender_role="retailer" if sender_id == on.retailer_id else "supplier",
        recipient_id=on.other_party(sender_id),
        create_time=at,
        visible_at=at,
    )
    store.add_message(created)
    return created


def ids(items: Any) -> list[str]:
    return [item.id for item in items]


def test_memory_store_satisfies_the_store_protocol(store: MemoryStore) -> None:
    typed: Store = store
    assert typed.counts() == (0, 0)


def test_next_seq_counts_up_from_one(store: MemoryStore) -> None:
    assert [store.next_seq() for _ in range(3)] == [1, 2, 3]


def test_conversations_come_back_in_create_time_order(store: MemoryStore) -> None:
    for i in range(5):
        conversation(store, f"c{i}", T0 + i * MICROS)
    assert ids(store.conversations_of(RETAILER, None, None)) == ["c0", "c1", "c2", "c3", "c4"]


def test_same_millisecond_conversations_are_ordered_by_seq(store: MemoryStore) -> None:
    for name in ("a", "b", "c"):
        conversation(store, name, T0)
    assert ids(store.conversations_of(RETAILER, None, None)) == ["a", "b", "c"]


def test_a_conversation_created_after_the_clock_was_set_back_lands_in_time_order(store: MemoryStore) -> None:
    conversation(store, "late", T0 + 10 * MICROS)
    conversation(store, "later", T0 + 20 * MICROS)
    conversation(store, "early", T0)  # the clock was set back
    conversation(store, "middle", T0 + 15 * MICROS)
    conversation(store, "tie-with-late", T0 + 10 * MICROS)  # same instant, higher seq: after "late"
    assert ids(store.conversations_of(RETAILER, None, None)) == [
        "early",
        "late",
        "tie-with-late",
        "middle",
        "later",
    ]


def test_time_range_includes_since_and_excludes_until(store: MemoryStore) -> None:
    for i in range(5):
        conversation(store, f"c{i}", T0 + i * MICROS)
    assert ids(store.conversations_of(RETAILER, T0 + MICROS, T0 + 3 * MICROS)) == ["c1", "c2"]
    assert ids(store.conversations_of(RETAILER, T0 + MICROS, None)) == ["c1", "c2", "c3", "c4"]
    assert ids(store.conversations_of(RETAILER, None, T0 + MICROS)) == ["c0"]
    assert ids(store.conversations_of(RETAILER, T0 + 2 * MICROS, T0 + 2 * MICROS)) == []


def test_since_includes_every_item_of_that_millisecond_and_until_excludes_them_all(
    store: MemoryStore,
) -> None:
    conversation(store, "before", T0 - 1000)
    conversation(store, "at-1", T0)
    conversation(store, "at-2", T0)
    conversation(store, "after", T0 + 1000)
    assert ids(store.conversations_of(RETAILER, T0, None)) == ["at-1", "at-2", "after"]
    assert ids(store.conversations_of(RETAILER, None, T0)) == ["before"]


def test_polling_with_since_equal_to_the_previous_until_never_misses_or_repeats(store: MemoryStore) -> None:
    times = [T0 + offset for offset in (0, 0, 999, 1000, 1000, 5000, 5001, 9999)]
    for i, at in enumerate(times):
        conversation(store, f"c{i}", at)
    windows = [T0, T0 + 1000, T0 + 5001, T0 + 10_000]
    seen: list[str] = []
    for since, until in pairwise(windows):
        seen += ids(store.conversations_of(RETAILER, since, until))
    assert seen == [f"c{i}" for i in range(len(times))]


def test_both_parties_see_a_conversation_and_a_third_account_does_not(store: MemoryStore) -> None:
    conversation(store, "c1", T0)
    assert ids(store.conversations_of(RETAILER, None, None)) == ["c1"]
    assert ids(store.conversations_of(SUPPLIER, None, None)) == ["c1"]
    assert ids(store.conversations_of(OTHER_RETAILER, None, None)) == []
    assert ids(store.conversations_of("no-such-account", None, None)) == []


def test_each_account_sees_only_its_own_conversations(store: MemoryStore) -> None:
    conversation(store, "nw-acme", T0)
    conversation(store, "nw-globex", T0 + 1000, supplier_id=OTHER_SUPPLIER)
    conversation(store, "contoso-acme", T0 + 2000, retailer_id=OTHER_RETAILER)
    assert ids(store.conversations_of(RETAILER, None, None)) == ["nw-acme", "nw-globex"]
    assert ids(store.conversations_of(SUPPLIER, None, None)) == ["nw-acme", "contoso-acme"]
    assert ids(store.conversations_of(OTHER_SUPPLIER, None, None)) == ["nw-globex"]
    assert ids(store.conversations_of(OTHER_RETAILER, None, None)) == ["contoso-acme"]


def test_sender_and_recipient_see_a_message_and_a_third_account_does_not(store: MemoryStore) -> None:
    c = conversation(store, "c1", T0)
    message(store, "m1", c, T0)
    message(store, "m2", c, T0 + 1000, sender=SUPPLIER)
    assert ids(store.messages_of(RETAILER, None, None)) == ["m1", "m2"]
    assert ids(store.messages_of(SUPPLIER, None, None)) == ["m1", "m2"]
    assert ids(store.messages_of(OTHER_RETAILER, None, None)) == []


def test_messages_of_an_account_follow_time_order_and_range(store: MemoryStore) -> None:
    c = conversation(store, "c1", T0)
    message(store, "m2", c, T0 + 2 * MICROS)
    message(store, "m0", c, T0)  # clock set back
    message(store, "m1", c, T0 + MICROS)
    assert ids(store.messages_of(RETAILER, None, None)) == ["m0", "m1", "m2"]
    assert ids(store.messages_of(SUPPLIER, T0 + MICROS, T0 + 2 * MICROS)) == ["m1"]


def test_messages_in_a_conversation_come_back_in_create_time_order(store: MemoryStore) -> None:
    c = conversation(store, "c1", T0)
    other = conversation(store, "c2", T0)
    message(store, "first", c, T0)
    message(store, "elsewhere", other, T0 + 500)
    message(store, "third", c, T0 + 2000, sender=SUPPLIER)
    message(store, "second", c, T0 + 1000)  # added last, created earlier: the clock was set back
    assert ids(store.messages_in("c1")) == ["first", "second", "third"]
    assert ids(store.messages_in("c2")) == ["elsewhere"]
    assert store.messages_in("no-such-conversation") == []


def test_lookup_by_id(store: MemoryStore) -> None:
    c = conversation(store, "c1", T0)
    m = message(store, "m1", c, T0)
    assert store.conversation("c1") == c
    assert store.message("m1") == m
    assert store.conversation("m1") is None
    assert store.message("c1") is None


def test_replace_conversation_updates_the_record_but_keeps_its_place_in_time(store: MemoryStore) -> None:
    first = conversation(store, "c1", T0)
    conversation(store, "c2", T0 + 1000)
    closed = replace(first, status="closed", last_update=T0 + 9 * MICROS)
    store.replace_conversation(closed)
    assert store.conversation("c1") == closed
    assert list(store.conversations_of(RETAILER, None, None)) == [closed, store.conversation("c2")]
    assert store.counts() == (2, 0)


def test_reference_ids_are_indexed_per_role_and_owner(store: MemoryStore) -> None:
    c = conversation(store, "c1", T0, retailer_reference_id="R-1", supplier_reference_id="S-1")
    assert store.conversation_by_reference("retailer", RETAILER, "R-1") == c
    assert store.conversation_by_reference("supplier", SUPPLIER, "S-1") == c
    assert store.conversation_by_reference("supplier", SUPPLIER, "R-1") is None
    assert store.conversation_by_reference("retailer", OTHER_RETAILER, "R-1") is None
    assert store.conversation_by_reference("retailer", RETAILER, "unknown") is None


def test_the_same_reference_id_may_be_used_by_different_owners(store: MemoryStore) -> None:
    mine = conversation(store, "c1", T0, retailer_reference_id="REF")
    theirs = conversation(store, "c2", T0, retailer_id=OTHER_RETAILER, retailer_reference_id="REF")
    assert store.conversation_by_reference("retailer", RETAILER, "REF") == mine
    assert store.conversation_by_reference("retailer", OTHER_RETAILER, "REF") == theirs


def test_replacing_a_reference_id_frees_the_old_one_and_finds_the_new(store: MemoryStore) -> None:
    c = conversation(store, "c1", T0, retailer_reference_id="OLD")
    store.replace_conversation(replace(c, retailer_reference_id="NEW"))
    assert store.conversation_by_reference("retailer", RETAILER, "OLD") is None
    found = store.conversation_by_reference("retailer", RETAILER, "NEW")
    assert found is not None
    assert found.retailer_reference_id == "NEW"


def test_a_reference_id_set_later_is_found_and_the_other_side_is_untouched(store: MemoryStore) -> None:
    c = conversation(store, "c1", T0, retailer_reference_id="R-1")
    store.replace_conversation(replace(c, supplier_reference_id="S-1"))
    assert store.conversation_by_reference("supplier", SUPPLIER, "S-1") is not None
    assert store.conversation_by_reference("retailer", RETAILER, "R-1") is not None


def test_lookup_by_reference_returns_the_latest_version_of_the_record(store: MemoryStore) -> None:
    c = conversation(store, "c1", T0, retailer_reference_id="R-1")
    store.replace_conversation(replace(c, title="renamed"))
    found = store.conversation_by_reference("retailer", RETAILER, "R-1")
    assert found is not None
    assert found.title == "renamed"


def test_all_conversations_and_messages_come_back_in_seq_order(store: MemoryStore) -> None:
    late = conversation(store, "late", T0 + MICROS)
    conversation(store, "early", T0)
    message(store, "m2", late, T0 + 2 * MICROS)
    message(store, "m1", late, T0)
    assert ids(store.all_conversations()) == ["late", "early"]
    assert ids(store.all_messages()) == ["m2", "m1"]


def test_counts_are_conversations_then_messages(store: MemoryStore) -> None:
    c = conversation(store, "c1", T0)
    conversation(store, "c2", T0)
    message(store, "m1", c, T0)
    assert store.counts() == (2, 1)


def test_clear_empties_every_index_and_restarts_the_sequence(store: MemoryStore) -> None:
    c = conversation(store, "c1", T0, retailer_reference_id="R-1")
    message(store, "m1", c, T0)
    store.clear()
    assert store.counts() == (0, 0)
    assert store.conversation("c1") is None
    assert store.message("m1") is None
    assert store.conversation_by_reference("retailer", RETAILER, "R-1") is None
    assert list(store.conversations_of(RETAILER, None, None)) == []
    assert list(store.messages_of(RETAILER, None, None)) == []
    assert store.messages_in("c1") == []
    assert list(store.all_conversations()) == []
    assert list(store.all_messages()) == []
    assert store.next_seq() == 1


def test_adding_a_record_with_a_higher_seq_moves_the_sequence_past_it(store: MemoryStore) -> None:
    """Importing a snapshot adds records with their own seq; new ones must not reuse those."""
    store.add_conversation(
        Conversation(
            id="imported",
            seq=41,
            title="t",
            kind="standard",
            initiated_by="retailer",
            retailer_id=RETAILER,
            supplier_id=SUPPLIER,
            context={"type": "account"},
            create_time=T0,
            last_update=T0,
            visible_at=T0,
        )
    )
    assert store.next_seq() == 42


def test_add_messages_in_bulk_builds_the_same_indexes_as_one_by_one() -> None:
    """The bulk load of a start (out-of-order times, two conversations, messages already there)
    answers every list call as adding the messages one at a time does."""
    one_by_one, bulk = MemoryStore(), MemoryStore()
    made: list[Message] = []
    for target in (one_by_one, bulk):
        first = conversation(target, "c1", T0)
        second = conversation(target, "c2", T0, supplier_id=OTHER_SUPPLIER)
        message(target, "m0", first, T0 + 5 * MICROS)  # already there before the bulk load
    source = MemoryStore()
    first = conversation(source, "c1", T0)
    second = conversation(source, "c2", T0, supplier_id=OTHER_SUPPLIER)
    source.next_seq()
    for n, (on, at) in enumerate([(first, 9), (second, 1), (first, 3), (second, 3), (first, 12)]):
        made.append(
            message(source, f"m{n + 1}", on, T0 + at * MICROS, sender=on.supplier_id if n % 2 else None)
        )
    for item in made:
        one_by_one.add_message(item)
    bulk.add_messages(made)
    assert bulk.counts() == one_by_one.counts()
    assert bulk.last_seq() == one_by_one.last_seq()
    for account in (RETAILER, SUPPLIER, OTHER_SUPPLIER):
        for descending in (False, True):
            expected = ids(one_by_one.messages_of(account, None, None, descending))
            assert ids(bulk.messages_of(account, None, None, descending)) == expected
        assert ids(bulk.messages_of(account, T0 + 3 * MICROS, T0 + 10 * MICROS)) == ids(
            one_by_one.messages_of(account, T0 + 3 * MICROS, T0 + 10 * MICROS)
        )
    for cid in ("c1", "c2"):
        assert ids(bulk.messages_in(cid)) == ids(one_by_one.messages_in(cid))
    assert ids(bulk.all_messages()) == ids(one_by_one.all_messages())
