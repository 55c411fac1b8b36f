"""Open scrolls are plain data: exported from one sandbox and restored in another holding the same
state (a restart, or another process over a shared store), they continue exactly as they would
have where they were opened."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator.domain.clock import ControllableClock, seconds
from simulator.domain.config import SandboxConfig
from simulator.domain.models import Account
from simulator.domain.sandbox import Sandbox
from simulator.domain.world import load_world

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "default-world.json"
T0 = 1_682_933_395_000_000  # 2023-05-01T09:29:55Z


def fresh_sandbox() -> Sandbox:
    world = load_world(json.loads(FIXTURE.read_text("utf-8")))
    config = SandboxConfig(lag_min=1.0, lag_max=1.0, rate_limit=False, page_size=2)
    return Sandbox(world, config, ControllableClock(frozen_at=T0))


def who(sandbox: Sandbox, account_id: str) -> Account:
    found = sandbox.world.account(account_id)
    assert found is not None
    return found


def pages(sandbox: Sandbox, operation: str, scroll_id: str) -> list[dict[str, Any]]:
    found = [sandbox.call(operation, who(sandbox, "2000001"), {"scrollId": scroll_id})]
    while "scrollId" in found[-1]:
        found.append(sandbox.call(operation, who(sandbox, "2000001"), {"scrollId": found[-1]["scrollId"]}))
    return [{k: v for k, v in page.items() if k != "scrollId"} for page in found]


@pytest.mark.parametrize(
    ("operation", "query"),
    [
        ("getConversationMessages", {}),
        ("getConversationMessages", {"sort": {"direction": "desc"}}),
        ("getConversations", {}),
        ("getConversations", {"sort": {"direction": "desc"}}),
    ],
)
def test_an_exported_scroll_continues_identically_in_another_sandbox(
    operation: str, query: dict[str, Any]
) -> None:
    here = fresh_sandbox()
    retailer, supplier = who(here, "1000001"), who(here, "2000001")
    for i in range(5):
        body = {"title": f"Parcel {i}", "otherPartyTradingPartnerId": "aaa-bbb-ccc"}
        created = here.call("createConversation", retailer, {**body, "initialMessage": {"message": f"m{i}"}})
        here.call(
            "addConversationMessage", retailer, {"dscoConversationId": created["id"], "message": f"r{i}"}
        )
        here.clock.advance(seconds(1))
    here.clock.advance(seconds(10))
    first = here.call(operation, supplier, query)
    second = here.call(operation, supplier, {"scrollId": first["scrollId"]})
    there = fresh_sandbox()
    there.import_state(there.world, json.loads(json.dumps(here.export_state())))
    exported = json.loads(json.dumps(here.conversations.scrolls.export()))  # plain JSON data
    there.conversations.scrolls.restore(exported, there.store.conversation)
    # Writes made after the first page show on neither side.
    for sandbox in (here, there):
        late = sandbox.call(
            "createConversation", retailer, {"title": "late", "otherPartyDscoAccountId": "2000001"}
        )
        sandbox.call(
            "addConversationMessage", retailer, {"dscoConversationId": late["id"], "message": "late"}
        )
        sandbox.clock.advance(seconds(10))
    for scroll_id in (first["scrollId"], second["scrollId"]):
        assert pages(there, operation, scroll_id) == pages(here, operation, scroll_id)
    assert "late" not in json.dumps(pages(there, operation, first["scrollId"]))
