"""Answers rendered by the presenter, from cached, pre-encoded items, must be exactly the dict
rendering of the same records (``Sandbox.call``)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from simulator.domain.clock import ControllableClock, seconds
from simulator.domain.config import SandboxConfig
from simulator.domain.models import Account
from simulator.domain.sandbox import Sandbox
from simulator.domain.views import conversation_view, message_view
from simulator.domain.world import load_world
from simulator.http.presenter import EncodedViews, Presenter

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "default-world.json"
T0 = 1_682_933_395_000_000  # 2023-05-01T09:29:55Z
LISTS = ("getConversations", "getConversationMessages")


@pytest.fixture
def sandbox() -> Sandbox:
    world = load_world(json.loads(FIXTURE.read_text("utf-8")))
    config = SandboxConfig(lag_min=1.0, lag_max=1.0, rate_limit=False, page_size=3)
    return Sandbox(world, config, ControllableClock(frozen_at=T0))


@pytest.fixture
def presenter(sandbox: Sandbox) -> Presenter:
    """What HTTP answers through: the sandbox's answers rendered as text, from its cache."""
    return Presenter(sandbox)


def who(sandbox: Sandbox, account_id: str) -> Account:
    found = sandbox.world.account(account_id)
    assert found is not None
    return found


def seed(sandbox: Sandbox, count: int) -> list[str]:
    retailer = who(sandbox, "1000001")
    ids = []
    for i in range(count):
        body = {
            "title": f"Parcel {i} — “quoted”",
            "otherPartyTradingPartnerId": "aaa-bbb-ccc",
            "initialMessage": {"message": f"Where is parcel {i}? ✉"},
            "referenceId": f"R-{i}",
        }
        ids.append(sandbox.call("createConversation", retailer, body)["id"])
        sandbox.clock.advance(seconds(1))
    sandbox.clock.advance(seconds(10))
    return ids


def without_scroll(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "scrollId"}


@pytest.mark.parametrize("operation", LISTS)
@pytest.mark.parametrize("viewer", ["1000001", "2000001"])
def test_an_encoded_page_is_the_fresh_page_as_json_for_every_viewer(
    sandbox: Sandbox, presenter: Presenter, operation: str, viewer: str
) -> None:
    seed(sandbox, 5)
    caller = who(sandbox, viewer)
    for body in ({}, {"sort": {"direction": "desc"}}):
        fresh = sandbox.call(operation, caller, body)
        encoded = json.loads(presenter.call(operation, caller, body))
        assert ("scrollId" in encoded) == ("scrollId" in fresh)
        assert without_scroll(encoded) == without_scroll(fresh)
        assert list(encoded) == list(fresh)  # same keys, scrollId first, as the vendor's samples show
        # ... and the second page too, through the encoded scroll.
        following = json.loads(presenter.call(operation, caller, {"scrollId": encoded["scrollId"]}))
        again = sandbox.call(operation, caller, {"scrollId": fresh["scrollId"]})
        assert without_scroll(following) == without_scroll(again)


def test_an_encoded_page_shows_the_conversation_as_updated_not_as_first_listed(
    sandbox: Sandbox, presenter: Presenter
) -> None:
    [cid] = seed(sandbox, 1)
    supplier = who(sandbox, "2000001")
    before = json.loads(presenter.call("getConversations", supplier, {}))["conversations"]
    messages = json.loads(presenter.call("getConversationMessages", supplier, {}))["messages"]
    assert "supplierReferenceId" not in messages[0]  # now cached, without one
    sandbox.call("updateConversation", supplier, {"dscoConversationId": cid, "status": "closed"})
    sandbox.call("updateConversation", supplier, {"dscoConversationId": cid, "supplierReferenceId": "S-9"})
    after = json.loads(presenter.call("getConversations", supplier, {}))["conversations"]
    messages = json.loads(presenter.call("getConversationMessages", supplier, {}))["messages"]
    assert before[0]["status"] == "new" and after[0]["status"] == "closed"
    assert after[0]["supplierReferenceId"] == "S-9"
    assert messages[0]["supplierReferenceId"] == "S-9"  # a message shows its conversation's ids


def test_a_tiny_cache_still_answers_every_item_right(sandbox: Sandbox) -> None:
    seed(sandbox, 4)
    retailer = who(sandbox, "1000001")
    records = list(sandbox.store.all_conversations())
    views = EncodedViews(sandbox.world, size=1)
    for _ in range(2):  # every lookup evicts the previous entry, and nothing comes back stale
        for record in records:
            expected = conversation_view(sandbox.world, record, retailer.id)
            assert json.loads(views.conversation(record, retailer.id)) == expected


def test_a_page_answered_as_text_keeps_non_ascii_text_as_utf8_characters(
    sandbox: Sandbox, presenter: Presenter
) -> None:
    seed(sandbox, 1)
    text = presenter.call("getConversationMessages", who(sandbox, "2000001"), {})
    assert "✉" in text and "\\u" not in text


def test_a_message_page_shows_reference_ids_as_they_are_when_each_page_is_read(
    sandbox: Sandbox, presenter: Presenter
) -> None:
    [cid] = seed(sandbox, 1)
    retailer, supplier = who(sandbox, "1000001"), who(sandbox, "2000001")
    for i in range(5):  # six messages of one conversation: two full pages of three
        sandbox.call("addConversationMessage", supplier, {"dscoConversationId": cid, "message": f"Reply {i}"})
        sandbox.clock.advance(seconds(1))
    sandbox.clock.advance(seconds(10))
    first = json.loads(presenter.call("getConversationMessages", supplier, {}))
    fresh = sandbox.call("getConversationMessages", supplier, {})
    assert [m["retailerReferenceId"] for m in first["messages"]] == ["R-0"] * 3
    sandbox.call("updateConversation", supplier, {"dscoConversationId": cid, "supplierReferenceId": "S-1"})
    sandbox.call("updateConversation", retailer, {"dscoConversationId": cid, "retailerReferenceId": "R-1"})
    following = json.loads(
        presenter.call("getConversationMessages", supplier, {"scrollId": first["scrollId"]})
    )
    again = sandbox.call("getConversationMessages", supplier, {"scrollId": fresh["scrollId"]})
    assert without_scroll(following) == without_scroll(again)
    assert [(m["retailerReferenceId"], m["supplierReferenceId"]) for m in following["messages"]] == [
        ("R-1", "S-1")
    ] * 3
    # The first page read again shows the new ids too: its cached texts are not served as they were.
    reread = json.loads(presenter.call("getConversationMessages", supplier, {}))
    assert without_scroll(reread) == without_scroll(sandbox.call("getConversationMessages", supplier, {}))
    assert {(m["retailerReferenceId"], m["supplierReferenceId"]) for m in reread["messages"]} == {
        ("R-1", "S-1")
    }


@pytest.mark.parametrize("size", [1, 2, 3])
def test_a_tiny_cache_shared_by_two_viewers_still_answers_every_item_right(
    sandbox: Sandbox, size: int
) -> None:
    seed(sandbox, 3)
    viewers = [who(sandbox, "1000001"), who(sandbox, "2000001")]
    conversations = list(sandbox.store.all_conversations())
    messages = list(sandbox.store.all_messages())
    views = EncodedViews(sandbox.world, size=size)
    for round_ in range(3):  # evictions run across viewers, and nothing comes back stale
        for viewer in viewers:
            for c in conversations:
                assert json.loads(views.conversation(c, viewer.id)) == conversation_view(
                    sandbox.world, c, viewer.id
                )
            for m in messages:
                shown = replace(conversations[0], retailer_reference_id=f"R-{round_ % 2}")
                expected = message_view(sandbox.world, m, shown.references, viewer.id)
                assert json.loads(views.message(m, shown, viewer.id)) == expected


def test_a_cached_message_text_follows_its_conversations_reference_ids_not_its_record(
    sandbox: Sandbox,
) -> None:
    seed(sandbox, 1)
    supplier = who(sandbox, "2000001")
    [conversation] = sandbox.store.all_conversations()
    [message] = sandbox.store.all_messages()
    views = EncodedViews(sandbox.world)
    first = views.message(message, conversation, supplier.id)
    closed = replace(conversation, status="closed")
    assert views.message(message, closed, supplier.id) is first  # a new record, the same ids: kept
    renamed = replace(closed, retailer_reference_id="R-9", supplier_reference_id="S-9")
    assert json.loads(views.message(message, renamed, supplier.id)) == message_view(
        sandbox.world, message, ("R-9", "S-9"), supplier.id
    )
    assert views.message(message, closed, supplier.id) == first  # and back


def test_a_conversations_new_record_takes_the_cache_entry_of_the_one_before(sandbox: Sandbox) -> None:
    seed(sandbox, 2)
    retailer = who(sandbox, "1000001")
    first, second = sandbox.store.all_conversations()
    views = EncodedViews(sandbox.world, size=2)
    kept = views.conversation(first, retailer.id)
    for status in ("in_progress", "closed", "new", "closed"):  # each update makes a new record
        second = replace(second, status=status)
        assert json.loads(views.conversation(second, retailer.id))["status"] == status
    assert views.conversation(first, retailer.id) is kept  # the old records did not push it out
