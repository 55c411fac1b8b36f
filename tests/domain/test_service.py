"""A few direct service checks through Sandbox (no HTTP); the HTTP tests cover the API in depth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator.domain.clock import ControllableClock, format_rfc3339, seconds
from simulator.domain.config import SandboxConfig
from simulator.domain.errors import InvalidRequest, RateLimited
from simulator.domain.models import Account
from simulator.domain.sandbox import Sandbox
from simulator.domain.world import load_world

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "default-world.json"
T0 = 1_682_933_395_000_000  # 2023-05-01T09:29:55Z


@pytest.fixture
def sandbox() -> Sandbox:
    world = load_world(json.loads(FIXTURE.read_text("utf-8")))
    config = SandboxConfig(lag_min=1.0, lag_max=1.0, rate_limit=False)
    return Sandbox(world, config, ControllableClock(frozen_at=T0))


def account(sandbox: Sandbox, account_id: str) -> Account:
    found = sandbox.world.account(account_id)
    assert found is not None
    return found


@pytest.fixture
def retailer(sandbox: Sandbox) -> Account:
    return account(sandbox, "1000001")


@pytest.fixture
def supplier(sandbox: Sandbox) -> Account:
    return account(sandbox, "2000001")


def create(sandbox: Sandbox, caller: Account, **extra: Any) -> dict[str, Any]:
    body = {"title": "Damaged shoe", "otherPartyTradingPartnerId": "aaa-bbb-ccc", **extra}
    return sandbox.call("createConversation", caller, body)


def test_create_add_message_and_list_after_the_lag_and_until_margin(
    sandbox: Sandbox, retailer: Account, supplier: Account
) -> None:
    created = create(sandbox, retailer, initialMessage={"message": "The left shoe arrived torn."})
    assert created["status"] == "new"
    assert created["createDate"] == format_rfc3339(T0)
    assert created["dscoSupplierTradingPartnerId"] == "aaa-bbb-ccc"
    sandbox.clock.advance(seconds(2))
    reply = sandbox.call(
        "addConversationMessage", supplier, {"dscoConversationId": created["id"], "message": "Sorry!"}
    )
    assert reply["accountType"] == "supplier"

    assert sandbox.call("getConversationMessages", supplier, {})["messages"] == []  # until = now - 5 s
    sandbox.clock.advance(seconds(10))
    listed = sandbox.call("getConversationMessages", supplier, {"dscoConversationId": created["id"]})
    assert [m["message"] for m in listed["messages"]] == ["The left shoe arrived torn.", "Sorry!"]
    conversations = sandbox.call("getConversations", supplier, {})["conversations"]
    assert [c["id"] for c in conversations] == [created["id"]]
    assert conversations[0]["dscoRetailerTradingPartnerId"] == "NW-RETAIL"


def test_a_new_item_is_invisible_until_its_lag_has_passed(sandbox: Sandbox, retailer: Account) -> None:
    sandbox.clock.advance(seconds(10))
    create(sandbox, retailer)
    sandbox.clock.advance(seconds(0.999))
    until = format_rfc3339(sandbox.clock.now() - seconds(5))
    assert sandbox.call("getConversations", retailer, {"until": until})["conversations"] == []


def test_status_moves_new_to_in_progress_to_closed_and_back(
    sandbox: Sandbox, retailer: Account, supplier: Account
) -> None:
    cid = create(sandbox, retailer)["id"]

    def post(caller: Account) -> None:
        sandbox.call("addConversationMessage", caller, {"dscoConversationId": cid, "message": "hi"})

    def status() -> str:
        found = sandbox.store.conversation(cid)
        assert found is not None
        return found.status

    post(retailer)  # the initiator's own messages leave it new
    assert status() == "new"
    post(supplier)
    assert status() == "in_progress"

    sandbox.clock.advance(seconds(1))
    closed = sandbox.call("updateConversation", supplier, {"dscoConversationId": cid, "status": "closed"})
    assert closed["status"] == "closed"
    assert closed["closedDate"] == closed["lastUpdate"] == format_rfc3339(T0 + seconds(1))
    with pytest.raises(InvalidRequest) as caught:
        post(retailer)
    assert caught.value.code == "conversation_closed"

    reopened = sandbox.call(
        "updateConversation", retailer, {"dscoConversationId": cid, "status": "in_progress"}
    )
    assert reopened["status"] == "in_progress"
    assert "closedDate" not in reopened
    post(retailer)


def test_status_new_can_never_be_set(sandbox: Sandbox, retailer: Account) -> None:
    cid = create(sandbox, retailer)["id"]
    with pytest.raises(InvalidRequest) as caught:
        sandbox.call("updateConversation", retailer, {"dscoConversationId": cid, "status": "new"})
    assert caught.value.code == "status_new"
    assert caught.value.problems[0].field == "status"


def test_a_domain_error_carries_a_code_and_the_field_it_is_about(sandbox: Sandbox, retailer: Account) -> None:
    with pytest.raises(InvalidRequest) as caught:
        create(sandbox, retailer, otherPartyTradingPartnerId="no-such-partner")
    error = caught.value
    assert error.code == "unknown_partner"
    assert [p.field for p in error.problems] == ["otherPartyTradingPartnerId"]
    assert "no-such-partner" in str(error)
    assert sandbox.store.counts() == (0, 0)  # a refused call changes nothing


def test_until_less_than_five_seconds_ago_is_refused(sandbox: Sandbox, retailer: Account) -> None:
    with pytest.raises(InvalidRequest) as caught:
        sandbox.call("getConversations", retailer, {"until": format_rfc3339(T0 - seconds(4))})
    assert caught.value.code == "until_too_recent"
    assert caught.value.problems[0].field == "until"


def test_admit_enforces_the_rate_limit_only_when_it_is_on(sandbox: Sandbox, retailer: Account) -> None:
    for _ in range(10):
        sandbox.admit(retailer, "getConversations")
    sandbox.config.rate_limit = True
    for _ in range(5):
        sandbox.admit(retailer, "createConversation")
    with pytest.raises(RateLimited):
        sandbox.admit(retailer, "createConversation")


def test_reset_empties_the_store_but_keeps_the_clock(sandbox: Sandbox, retailer: Account) -> None:
    create(sandbox, retailer)
    sandbox.clock.advance(seconds(30))
    sandbox.reset()
    assert sandbox.store.counts() == (0, 0)
    assert sandbox.clock.now() == T0 + seconds(30)


def test_changing_a_returned_conversation_does_not_change_the_stored_one(
    sandbox: Sandbox, retailer: Account
) -> None:
    created = create(sandbox, retailer, context={"type": "order", "poNumber": "123-456-789"})
    created["context"]["poNumber"] = "changed by the caller"
    stored = sandbox.store.conversation(created["id"])
    assert stored is not None
    assert stored.context["poNumber"] == "123-456-789"


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_a_message_scroll_read_lazily_holds_exactly_what_was_stored_when_it_opened(
    sandbox: Sandbox, retailer: Account, supplier: Account, direction: str
) -> None:
    sandbox.config.page_size = 2
    cid = create(sandbox, retailer)["id"]
    for i in range(5):
        sandbox.clock.advance(seconds(1))
        sandbox.call("addConversationMessage", retailer, {"dscoConversationId": cid, "message": f"m{i}"})
    sandbox.clock.advance(seconds(10))
    body = {"sort": {"direction": direction}}
    expected = [m["message"] for m in _all_pages(sandbox, supplier, body, writes=None)]
    assert sorted(expected) == [f"m{i}" for i in range(5)]

    def write_in_the_past() -> None:  # lands before the scroll's position in the index
        sandbox.clock.set(T0 + seconds(2.5))
        sandbox.call("addConversationMessage", retailer, {"dscoConversationId": cid, "message": "late"})
        sandbox.clock.set(T0 + seconds(30))

    assert [m["message"] for m in _all_pages(sandbox, supplier, body, writes=write_in_the_past)] == expected


def _all_pages(sandbox: Sandbox, caller: Account, body: dict[str, Any], writes: Any) -> list[dict[str, Any]]:
    page = sandbox.call("getConversationMessages", caller, body)
    found = list(page["messages"])
    while "scrollId" in page:
        if writes is not None:
            writes()
        page = sandbox.call("getConversationMessages", caller, {"scrollId": page["scrollId"]})
        found += page["messages"]
    return found


def test_a_message_scroll_shows_each_conversations_current_reference_ids(
    sandbox: Sandbox, retailer: Account, supplier: Account
) -> None:
    """The one thing a scroll does not freeze: a message shows its conversation's reference ids as
    they are when its page is read (a scroll once showed them as they were at its first page, which
    took a history of every reference-id change). Which messages come, and in which order, stays
    fixed at the first page."""
    sandbox.config.page_size = 1
    cid = create(sandbox, retailer)["id"]
    texts = ["first", "second", "third"]  # the second and third are read only after the change
    for text in texts:
        sandbox.call("addConversationMessage", retailer, {"dscoConversationId": cid, "message": text})
    sandbox.clock.advance(seconds(10))
    first = sandbox.call("getConversationMessages", supplier, {})
    sandbox.call("updateConversation", retailer, {"dscoConversationId": cid, "retailerReferenceId": "R-1"})
    second = sandbox.call("getConversationMessages", supplier, {"scrollId": first["scrollId"]})
    third = sandbox.call("getConversationMessages", supplier, {"scrollId": second["scrollId"]})
    again = sandbox.call("getConversationMessages", supplier, {"scrollId": second["scrollId"]})
    assert [m["message"] for m in first["messages"] + second["messages"] + third["messages"]] == texts
    assert "retailerReferenceId" not in first["messages"][0]  # read before the change
    assert [m["retailerReferenceId"] for m in second["messages"] + third["messages"]] == ["R-1", "R-1"]
    assert again["messages"] == third["messages"]  # a retried scrollId: the same page again


def test_a_scroll_opened_by_reference_id_keeps_its_conversation_when_the_id_moves(
    sandbox: Sandbox, retailer: Account, supplier: Account
) -> None:
    sandbox.config.page_size = 1
    old = create(sandbox, retailer, referenceId="R-1")["id"]
    for text in ("one", "two"):
        sandbox.call("addConversationMessage", retailer, {"dscoConversationId": old, "message": text})
    sandbox.clock.advance(seconds(10))
    first = sandbox.call("getConversationMessages", supplier, {"retailerReferenceId": "R-1"})
    sandbox.call("updateConversation", retailer, {"dscoConversationId": old, "retailerReferenceId": "R-0"})
    new = create(sandbox, retailer, referenceId="R-1")["id"]
    sandbox.call("addConversationMessage", retailer, {"dscoConversationId": new, "message": "elsewhere"})
    sandbox.clock.advance(seconds(10))
    rest = _all_pages(sandbox, supplier, {"scrollId": first["scrollId"]}, writes=None)
    assert {m["dscoConversationId"] for m in first["messages"] + rest} == {old}
