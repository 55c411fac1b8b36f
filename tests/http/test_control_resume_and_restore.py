"""Getting a used sandbox back to how it started: the clock on wall time, the settings of start-up.

``POST /_sandbox/clock {"resume": true}`` drops whatever ``set`` and ``advance`` left and unfreezes
the clock; ``POST /_sandbox/reset {"restoreSettings": true}`` also puts back the settings the server
started with. A reset without a body keeps its original meaning.
"""

from __future__ import annotations

import time

import pytest
from flask import Flask
from http_support import NORTHWIND, Api, Control, error_lines, schema_problems

from simulator.domain.clock import SystemClock, format_rfc3339, seconds


def test_resume_puts_a_frozen_advanced_clock_back_on_wall_time(app: Flask, control: Control) -> None:
    control.advance(70 * 60)
    before = format_rfc3339(SystemClock().now() - seconds(1))
    response = control.clock_command({"resume": True})
    assert response.status_code == 200
    state = response.json
    assert state is not None and schema_problems(app, "sandbox-clock-state.json", state) == []
    after = format_rfc3339(SystemClock().now() + seconds(1))
    assert state["frozen"] is False
    assert before <= state["now"] <= after  # wall time, not 2023 nor 70 minutes ahead
    time.sleep(0.02)
    assert control.clock()["now"] > state["now"]  # and it runs


def test_resume_also_brings_a_clock_set_into_the_future_back(control: Control) -> None:
    control.clock_command({"set": "2999-01-01T00:00:00Z"})
    control.clock_command({"freeze": False})
    state = control.clock_command({"resume": True}).json
    assert state is not None and state["now"] < "2999"
    assert state["now"] <= format_rfc3339(SystemClock().now() + seconds(1))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"resume": False}, "resume"),
        ({"resume": True, "advance": 5}, "one change per call"),
        ({"resumed": True}, "resumed: unknown field; send one of freeze, set, advance or resume"),
    ],
)
def test_a_wrong_resume_is_refused_and_changes_nothing(
    control: Control, body: dict[str, object], expected: str
) -> None:
    before = control.clock()
    response = control.clock_command(body)
    assert response.status_code == 400
    assert any(expected in line for line in error_lines(response)), error_lines(response)
    assert control.clock() == before


def test_reset_with_restore_settings_puts_back_the_settings_of_start_up(api: Api, control: Control) -> None:
    started = control.config()
    control.configure({"pageSize": 3, "strict": True, "rateLimit": {"enabled": True, "perSecond": 2}})
    control.configure({"journalSize": 50, "faults": {"getConversations": {"forceStatus": 503}}})
    api.conversation(NORTHWIND)
    response = api.client.post("/_sandbox/reset", json={"restoreSettings": True})
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert control.config() == started
    assert api.sandbox.store.counts() == (0, 0)
    assert api.sandbox.journal.size == started["journalSize"]


def test_reset_with_restore_settings_false_or_no_body_keeps_the_settings(api: Api, control: Control) -> None:
    control.configure({"pageSize": 3})
    assert api.client.post("/_sandbox/reset", json={"restoreSettings": False}).status_code == 200
    assert control.config()["pageSize"] == 3
    assert api.client.post("/_sandbox/reset", json={}).status_code == 200
    assert api.client.post("/_sandbox/reset").status_code == 200
    assert control.config()["pageSize"] == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"restoreSettings": "yes"}, "restoreSettings"),
        ({"restore": True}, "restore"),
        ([True], "body"),
    ],
)
def test_a_wrong_reset_body_is_refused_and_resets_nothing(
    api: Api, control: Control, body: object, field: str
) -> None:
    control.configure({"pageSize": 3})
    api.conversation(NORTHWIND)
    response = api.client.post("/_sandbox/reset", json=body)
    assert response.status_code == 400
    assert any(line.startswith(field) for line in error_lines(response)), error_lines(response)
    assert api.sandbox.store.counts()[0] == 1
    assert control.config()["pageSize"] == 3


def test_a_reset_body_that_is_not_json_is_refused(api: Api) -> None:
    """A text/plain body is what a foreign web page can send without asking: refused as cross-site
    (403), and the reset does not happen."""
    api.conversation(NORTHWIND)
    response = api.client.post("/_sandbox/reset", data="restoreSettings", content_type="text/plain")
    assert response.status_code == 403
    assert response.get_data(as_text=True).startswith("Content-Type: text/plain is refused")
    assert api.sandbox.store.counts()[0] == 1
    response = api.client.post("/_sandbox/reset", data="restoreSettings", content_type="application/xml")
    assert response.status_code == 415
    assert api.sandbox.store.counts()[0] == 1
