"""Browsing one account's conversations: the API's visibility, filters, search and pages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator.domain.browse import PAGE_SIZE, ConversationFilter, browse_conversations
from simulator.domain.clock import ControllableClock, seconds
from simulator.domain.config import SandboxConfig
from simulator.domain.models import Account
from simulator.domain.sandbox import Sandbox
from simulator.domain.world import load_world

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "default-world.json"
T0 = 1_682_933_395_000_000  # 2023-05-01T09:29:55Z


@pytest.fixture
def sandbox() -> Sandbox:
    world = load_world(json.loads(FIXTURE.read_text("utf-8")))
    return Sandbox(
        world, SandboxConfig(lag_min=1.0, lag_max=1.0, rate_limit=False), ControllableClock(frozen_at=T0)
    )


def party(sandbox: Sandbox, account_id: str) -> Account:
    found = sandbox.world.account(account_id)
    assert found is not None
    return found


def create(sandbox: Sandbox, **extra: Any) -> str:
    body = {"title": "Question", "otherPartyTradingPartnerId": "aaa-bbb-ccc", **extra}
    created: str = sandbox.call("createConversation", party(sandbox, "1000001"), body)["id"]
    return created


def ids(sandbox: Sandbox, account_id: str, wanted: ConversationFilter, page: int = 1) -> list[str]:
    found = browse_conversations(sandbox.store, account_id, sandbox.clock.now(), wanted, page)
    return [c.id for c in found.conversations]


def test_only_the_parties_see_a_conversation_and_only_after_its_lag(sandbox: Sandbox) -> None:
    cid = create(sandbox)
    assert ids(sandbox, "1000001", ConversationFilter()) == []
    assert ids(sandbox, "1000001", ConversationFilter(include_pending=True)) == [cid]
    sandbox.clock.advance(seconds(1))
    assert ids(sandbox, "1000001", ConversationFilter()) == [cid]
    assert ids(sandbox, "2000001", ConversationFilter()) == [cid]
    assert ids(sandbox, "1000002", ConversationFilter()) == []
    assert ids(sandbox, "2000002", ConversationFilter()) == []


def test_filters_and_search_by_reference_or_order_number(sandbox: Sandbox) -> None:
    order = create(
        sandbox,
        referenceId="CASE-77",
        type={"type": "customer_care", "consumerId": "c-1"},
        context={"type": "order", "poNumber": "123-456-789"},
    )
    plain = create(sandbox, isTest=True)
    sandbox.clock.advance(seconds(2))
    every = ConversationFilter()
    assert set(ids(sandbox, "1000001", every)) == {order, plain}
    assert ids(sandbox, "1000001", ConversationFilter(search="case-7")) == [order]
    assert ids(sandbox, "1000001", ConversationFilter(search="456-789")) == [order]
    assert ids(sandbox, "1000001", ConversationFilter(search=plain[:8])) == [plain]
    assert ids(sandbox, "1000001", ConversationFilter(kind="customer_care")) == [order]
    assert ids(sandbox, "1000001", ConversationFilter(context_type="account")) == [plain]
    assert ids(sandbox, "1000001", ConversationFilter(is_test=True)) == [plain]
    assert ids(sandbox, "1000001", ConversationFilter(is_test=False)) == [order]
    assert ids(sandbox, "1000001", ConversationFilter(status="closed")) == []


def test_pages_hold_the_latest_update_first_and_stay_in_range(sandbox: Sandbox) -> None:
    created = []
    for _ in range(PAGE_SIZE + 3):
        created.append(create(sandbox))
        sandbox.clock.advance(seconds(1))
    first = browse_conversations(sandbox.store, "1000001", sandbox.clock.now(), ConversationFilter(), 1)
    assert (first.total, first.pages, first.page) == (PAGE_SIZE + 3, 2, 1)
    assert [c.id for c in first.conversations] == created[::-1][:PAGE_SIZE]
    assert len(ids(sandbox, "1000001", ConversationFilter(), 2)) == 3
    assert (
        browse_conversations(sandbox.store, "1000001", sandbox.clock.now(), ConversationFilter(), 99).page
        == 2
    )
    assert (
        browse_conversations(sandbox.store, "1000001", sandbox.clock.now(), ConversationFilter(), 0).page == 1
    )
