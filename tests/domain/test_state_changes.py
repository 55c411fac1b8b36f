"""The change tracker: what a store that saves change by change is told after each change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.domain import state_changes
from simulator.domain.clock import ControllableClock, parse_rfc3339
from simulator.domain.config import SandboxConfig
from simulator.domain.sandbox import Sandbox
from simulator.domain.state_changes import ChangeTracker
from simulator.domain.world import World, load_world

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "default-world.json"
T0 = parse_rfc3339("2023-05-01T10:00:38Z") or 0


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(json.loads(FIXTURE.read_text("utf-8")))


@pytest.fixture
def sandbox(world: World) -> Sandbox:
    config = SandboxConfig(lag_min=0.0, lag_max=0.0, rate_limit=False)
    return Sandbox(world, config, ControllableClock(frozen_at=T0))


def create(sandbox: Sandbox) -> str:
    retailer = sandbox.world.account("1000001")
    assert retailer is not None
    body = {
        "title": "Parcel",
        "otherPartyTradingPartnerId": "aaa-bbb-ccc",
        "initialMessage": {"message": "Hi"},
    }
    created: str = sandbox.call("createConversation", retailer, body)["id"]
    return created


def test_the_first_take_is_everything_and_later_ones_only_what_changed(sandbox: Sandbox) -> None:
    create(sandbox)
    tracker = ChangeTracker(sandbox)
    first = tracker.take()
    assert first.everything
    assert all(changes.cleared for changes in first.collections.values())
    assert len(first.collections["conversations"].written) == 1
    assert "world" in first.sections and "exportedAt" not in first.sections

    nothing = tracker.take()
    assert not nothing.everything and not any(nothing.collections.values())

    conversation_id = create(sandbox)
    retailer = sandbox.world.account("1000001")
    assert retailer is not None
    sandbox.issue_token(
        {
            "grant_type": "client_credentials",
            "client_id": retailer.client_id,
            "client_secret": retailer.client_secret,
        }
    )
    changed = tracker.take()
    assert list(changed.collections["conversations"].written) == [conversation_id]
    assert len(changed.collections["messages"].written) == 1
    assert len(changed.collections["notifications"].written) == 1
    assert len(changed.collections["tokens"].written) == 1
    assert not any(c.cleared for c in changed.collections.values())


def test_a_reset_clears_the_collections_it_empties_and_keeps_the_tokens(sandbox: Sandbox) -> None:
    create(sandbox)
    tracker = ChangeTracker(sandbox)
    tracker.take()
    sandbox.reset()
    changed = tracker.take()
    cleared = {name for name, changes in changed.collections.items() if changes.cleared}
    assert cleared == {"conversations", "messages", "notifications"}


def test_an_import_is_everything_again(sandbox: Sandbox, world: World) -> None:
    create(sandbox)
    tracker = ChangeTracker(sandbox)
    tracker.take()
    sandbox.import_state(world, sandbox.export_state())
    changed = tracker.take()
    assert changed.everything and len(changed.collections["messages"].written) == 1


def test_a_collection_the_tracker_does_not_follow_is_refused(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_changes, "FOLLOWED", ("conversations", "messages", "tokens"))
    with pytest.raises(TypeError, match="not those followed"):
        ChangeTracker(sandbox)
