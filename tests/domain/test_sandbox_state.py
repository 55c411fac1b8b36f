"""Export and import at the domain level: what comes back is what went out."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from simulator.domain.clock import ControllableClock, parse_rfc3339
from simulator.domain.config import SandboxConfig
from simulator.domain.errors import InvalidRequest
from simulator.domain.models import Conversation, Message
from simulator.domain.sandbox import Sandbox
from simulator.domain.state import build_store
from simulator.domain.world import load_world

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "default-world.json"
T0 = parse_rfc3339("2023-05-01T10:00:38Z") or 0


class TickingSource:
    """A wall clock that moves one millisecond every time it is read, as on a busy machine."""

    def __init__(self) -> None:
        self.time = 10**15

    def now(self) -> int:
        self.time += 1000
        return self.time


def test_importing_a_frozen_state_into_a_running_sandbox_freezes_it_at_the_exported_instant() -> None:
    world = load_world(json.loads(FIXTURE.read_text("utf-8")))
    exported = Sandbox(world, SandboxConfig(), ControllableClock(frozen_at=T0)).export_state()
    running = Sandbox(world, SandboxConfig(), ControllableClock(TickingSource()))
    running.import_state(world, exported)
    assert running.clock_state() == {"now": "2023-05-01T10:00:38.000Z", "frozen": True}


def test_a_document_with_the_older_generator_form_resumes_the_same_streams() -> None:
    """Generators were once saved as one string of 625 words (the position last); still read."""
    world = load_world(json.loads(FIXTURE.read_text("utf-8")))
    first = Sandbox(world, SandboxConfig(), ControllableClock(frozen_at=T0))
    for name in ("ids", "lags"):
        first._generators[name].getrandbits(96)  # somewhere in the middle of each stream
    exported = first.export_state()
    older = {
        name: {
            "version": saved["version"],
            "state": saved["words"] + f"{saved['position']:08x}",
            "gauss": None,
        }
        for name, saved in exported["random"].items()
    }
    resumed = Sandbox(world, SandboxConfig(), ControllableClock(frozen_at=T0))
    resumed.import_state(world, {**exported, "random": older})
    assert resumed.export_state()["random"] == exported["random"]
    assert resumed._generators["ids"].getrandbits(128) == first._generators["ids"].getrandbits(128)


def test_a_duplicate_message_is_named_by_its_place_among_all_messages() -> None:
    """The bulk check names a repeated id by its position in the document, counting the messages
    refused for other reasons before it."""
    world = load_world(json.loads(FIXTURE.read_text("utf-8")))
    talk = Conversation(
        "c1", 1, "late", "standard", "retailer", "1000001", "2000001", {"type": "account"}, T0, T0, T0
    )
    good = Message("m1", 2, "c1", "hi", "1000001", "retailer", "2000001", T0, T0)
    stray = replace(good, id="stray", conversation_id="nowhere")
    with pytest.raises(InvalidRequest) as refused:
        build_store(world, [talk], [stray, good, good])
    fields = [problem.field for problem in refused.value.problems]
    assert fields == ["messages[0].conversationId", "messages[2].id"]


def test_a_clock_command_answers_the_instant_it_took_effect_not_after_saving() -> None:
    """A running clock moves on while the command's after-effects happen (extensions acting, the
    change being saved): the answer is the clock as the command left it, read before them."""
    world = load_world(json.loads(FIXTURE.read_text("utf-8")))
    source = TickingSource()
    sandbox = Sandbox(world, SandboxConfig(), ControllableClock(source, frozen_at=T0))

    def slow_save() -> None:
        source.time += 5_000_000  # saving the change took five seconds

    sandbox.after_change = slow_save
    answer = sandbox.control_clock({"freeze": False})
    assert answer["frozen"] is False
    assert answer["now"] < "2023-05-01T10:00:39.000Z", answer  # not the instant after the save
