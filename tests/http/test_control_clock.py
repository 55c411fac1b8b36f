"""The sandbox clock through the control plane: reading, freezing, setting and advancing it, and
what advancing it does to tokens, post-processing lag, scrolls and the rate limit.

The fixtures' clock stands still at the guide's date (``START``), so every instant below is exact.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from http_support import (
    ACME,
    NORTHWIND,
    START_TEXT,
    Api,
    Control,
    error_lines,
    schema_problems,
)


# --- reading and changing the clock -------------------------------------------------------------
def test_get_clock_shows_now_and_that_it_is_frozen(app: Flask, control: Control) -> None:
    state = control.clock()
    assert state == {"now": START_TEXT, "frozen": True}
    assert schema_problems(app, "sandbox-clock-state.json", state) == []


def test_unfreezing_lets_the_clock_run_and_freezing_stops_it(control: Control) -> None:
    running = control.clock_command({"freeze": False})
    assert running.status_code == 200
    assert running.json == {"now": START_TEXT, "frozen": False}
    time.sleep(0.02)
    later = control.clock()
    assert later["frozen"] is False
    assert later["now"] > START_TEXT  # RFC 3339 UTC strings of one width sort like instants
    stopped = control.clock_command({"freeze": True}).json
    assert stopped is not None and stopped["frozen"] is True
    time.sleep(0.02)
    assert control.clock() == stopped


def test_set_jumps_to_the_guides_date_and_keeps_the_clock_frozen(api: Api, control: Control) -> None:
    assert control.clock_command({"set": "2024-02-29T23:59:59Z"}).json == {
        "now": "2024-02-29T23:59:59.000Z",
        "frozen": True,
    }
    response = control.clock_command({"set": "2023-05-01T10:00:00Z"})
    assert response.status_code == 200
    assert response.json == {"now": "2023-05-01T10:00:00.000Z", "frozen": True}
    # An offset names the same instant in UTC, and the API's timestamps follow the clock.
    control.clock_command({"set": "2023-05-01T12:30:00+02:00"})
    assert control.clock()["now"] == "2023-05-01T10:30:00.000Z"
    assert api.conversation(NORTHWIND)["createDate"] == "2023-05-01T10:30:00.000Z"


def test_set_keeps_a_running_clock_running(control: Control) -> None:
    control.clock_command({"freeze": False})
    state = control.clock_command({"set": "2023-05-01T10:00:00Z"}).json
    assert state is not None and state["frozen"] is False
    assert "2023-05-01T10:00:00.000Z" <= control.clock()["now"] < "2023-05-01T10:00:10.000Z"


def test_advance_moves_the_clock_forward_by_whole_and_fractional_seconds(control: Control) -> None:
    assert control.advance(90) == {"now": "2023-05-01T10:01:30.000Z", "frozen": True}
    assert control.advance(0.25)["now"] == "2023-05-01T10:01:30.250Z"
    assert control.advance(0)["now"] == "2023-05-01T10:01:30.250Z"
    assert control.advance(86_400)["now"] == "2023-05-02T10:01:30.250Z"


@pytest.mark.parametrize(
    ("command", "field"),  # field: every field the answer must name, comma-separated
    [
        pytest.param({}, "body", id="empty"),
        pytest.param({"freeze": True, "advance": 3}, "freeze,advance", id="two-changes"),
        pytest.param({"set": "2023-05-01T10:00:00Z", "advance": 3}, "set,advance", id="set-and-advance"),
        pytest.param({"advance": -1}, "advance", id="negative-advance"),
        pytest.param({"advance": "10"}, "advance", id="advance-as-text"),
        pytest.param({"set": "2023:05:01T9:29:55Z"}, "set", id="the-guides-malformed-date"),
        pytest.param({"set": "2023-02-30T10:00:00Z"}, "set", id="no-such-day"),
        pytest.param({"set": 1682935200}, "set", id="epoch-number"),
        pytest.param({"freeze": "yes"}, "freeze", id="freeze-not-boolean"),
        pytest.param({"rewind": 10}, "rewind", id="unknown-key"),
        pytest.param([{"advance": 1}], "body", id="not-an-object"),
    ],
)
def test_an_invalid_clock_command_is_400_naming_the_field_and_leaves_the_clock_alone(
    control: Control, command: Any, field: str
) -> None:
    before = control.clock()
    response = control.clock_command(command)
    assert response.status_code == 400
    lines = error_lines(response)
    assert lines, "a 400 must say what is wrong"
    for name in field.split(","):
        assert any(line.startswith(f"{name}: ") for line in lines), lines
    assert control.clock() == before


def test_a_clock_command_that_is_not_json_is_400(control: Control) -> None:
    before = control.clock()
    response = control.client.post("/_sandbox/clock", data="advance=10", content_type="application/json")
    assert response.status_code == 400
    assert error_lines(response)[0].startswith("body: malformed JSON")
    assert control.clock() == before


# --- what advancing the clock does --------------------------------------------------------------
def test_a_token_expires_after_advancing_3601_seconds_and_not_after_3599(api: Api, control: Control) -> None:
    token = api.token(ACME)
    control.advance(3599)
    assert api.list_conversations(ACME).status_code == 200
    control.advance(2)  # 3601 s after it was issued
    response = api.list_conversations(ACME)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "expired" in response.get_data(as_text=True)
    # A new token works again; the expired one stays refused.
    fresh = api.fetch_token(ACME).json
    assert fresh is not None and fresh["access_token"] != token
    headers = {"Authorization": f"bearer {fresh['access_token']}"}
    assert api.client.post("/api/v3/conversation/list", json={}, headers=headers).status_code == 200


def test_advancing_makes_lagged_items_visible(api: Api, control: Control) -> None:
    control.configure({"lag": {"min": 8, "max": 8}})
    conversation = api.conversation(NORTHWIND, initialMessage={"message": "Where is my order?"})
    control.advance(7.999)
    assert api.conversation_ids(ACME) == []
    assert api.messages(ACME) == []
    control.advance(0.001)  # 8 s: post-processing is over, and 8 s is past the 5 s until margin
    assert api.conversation_ids(ACME) == [conversation["id"]]
    assert [m["message"] for m in api.messages(ACME)] == ["Where is my order?"]


def test_advancing_past_the_scroll_ttl_expires_a_scroll(api: Api, control: Control) -> None:
    control.configure({"pageSize": 1})
    for _ in range(3):
        api.conversation(NORTHWIND)
    api.settle()
    first = api.list_conversations(NORTHWIND).json
    assert first is not None and len(first["conversations"]) == 1
    scroll_id = first["scrollId"]
    control.advance(299.999)  # 5 minutes of sandbox time, less a millisecond
    assert api.list_conversations(NORTHWIND, {"scrollId": scroll_id}).status_code == 200
    control.advance(0.002)
    response = api.list_conversations(NORTHWIND, {"scrollId": scroll_id})
    assert response.status_code == 404
    assert error_lines(response)[0].startswith("scrollId: ")


def test_advancing_one_second_resets_the_rate_limit_window(api: Api, control: Control) -> None:
    api.token(NORTHWIND)
    control.configure({"rateLimit": {"enabled": True, "perSecond": 2}})
    assert [api.list_conversations(NORTHWIND).status_code for _ in range(3)] == [200, 200, 429]
    control.advance(1)
    assert api.list_conversations(NORTHWIND).status_code == 200


# --- the guide's polling recipe against the post-processing lag ---------------------------------
def poll_as_the_guide_says(api: Api, control: Control, rounds: int) -> tuple[list[str], list[str]]:
    """Acme polls every 10 s the way the guide describes while Northwind keeps writing.

    Every poll asks for ``createdSince`` = the previous poll's ``until`` and ``until`` = now - 5 s,
    following scrollIds; between polls the clock advances by the interval and Northwind adds
    messages 1 s, 4 s and 7 s into it. Returns the ids sent and the ids the poller received.
    """
    conversation = api.conversation(NORTHWIND)["id"]
    sent: list[str] = []
    received: list[str] = []
    previous_until = api.now_iso(-5)

    def poll() -> None:
        nonlocal previous_until
        until = api.now_iso(-5)
        received.extend(api.message_ids(ACME, {"createdSince": previous_until, "until": until}))
        previous_until = until

    for round_ in range(rounds):
        for offset, step in enumerate((1, 3, 3)):
            control.advance(step)
            sent.append(
                api.message(NORTHWIND, conversation, f"round {round_} message {offset}")["dscoMessageId"]
            )
        control.advance(3)  # the rest of the 10 s interval
        poll()
    control.advance(10)  # one more interval with nothing new, so every window has been asked for
    poll()
    return sent, received


def test_with_an_8_second_lag_the_guides_poller_misses_messages(api: Api, control: Control) -> None:
    control.configure({"lag": {"min": 8, "max": 8}})
    sent, received = poll_as_the_guide_says(api, control, rounds=5)
    assert len(set(received)) == len(received), "the recipe never repeats a message"
    assert set(received) < set(sent)
    # The message written 4 s into each interval falls before the next poll's until, but its
    # post-processing ends after that poll: no later window covers it again.
    assert len(sent) - len(received) == 5
    api.settle()
    assert set(api.message_ids(ACME)) == set(sent), "the messages exist; only the poller missed them"


def test_with_the_default_lag_the_guides_poller_receives_every_message_once(
    api: Api, control: Control
) -> None:
    control.configure({"lag": {"min": 0.2, "max": 3}})
    sent, received = poll_as_the_guide_says(api, control, rounds=5)
    assert received == sent
