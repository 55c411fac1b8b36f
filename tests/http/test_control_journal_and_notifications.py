"""The journal (``/_sandbox/events``) and the notifications (``/_sandbox/notifications``).

The journal lists every API call, oldest first, with what was sent and answered; notifications are
the guide's "Dsco notifies the other party" step: one per new message, for its recipient only.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from http_support import (
    ACCOUNT_IDS,
    ACME,
    CONTOSO,
    NORTHWIND,
    START_TEXT,
    Api,
    Control,
    error_lines,
    schema_problems,
)


# --- the journal -------------------------------------------------------------------------------------
def test_every_api_call_is_journaled_newest_last_with_what_was_sent_and_answered(
    app: Flask, api: Api, control: Control
) -> None:
    api.token(NORTHWIND)
    created = api.create(NORTHWIND, {"title": "Parcel", "otherPartyTradingPartnerId": "aaa-bbb-ccc"})
    listed = api.list_conversations(NORTHWIND, {"statuses": ["new"]})
    refused = api.create(NORTHWIND, {"title": "x" * 51, "otherPartyTradingPartnerId": "aaa-bbb-ccc"})
    events = control.events(kind="request")
    assert [(e["operation"], e["status"]) for e in events] == [
        ("getAccessToken", 200),
        ("createConversation", 201),
        ("getConversations", 200),
        ("createConversation", 400),
    ]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    for event in events:
        assert schema_problems(app, "sandbox-journal-entry.json", event) == []
        assert event["account"] == ACCOUNT_IDS[NORTHWIND]
        assert event["time"] == START_TEXT
        assert event["durationMs"] >= 0
        assert event["method"] == "POST" and event["path"].startswith("/api/v3/")
    _token, create, lists, bad = events
    assert create["request"] == {"title": "Parcel", "otherPartyTradingPartnerId": "aaa-bbb-ccc"}
    assert create["response"] == created.json
    assert create["violations"] == []
    assert lists["request"] == {"statuses": ["new"]} and lists["response"] == listed.json
    # A contract violation's lines are in the entry, and the answer as sent.
    assert bad["violations"] == error_lines(refused) == ["title: 51 characters, at most 50 allowed"]
    assert bad["response"] == refused.get_data(as_text=True)
    assert bad["request"]["title"] == "x" * 51


def test_the_client_secret_is_redacted_in_the_journal(api: Api, control: Control) -> None:
    api.token(ACME)
    api.fetch_token(ACME, secret="a-wrong-secret")
    api.client.post("/api/v3/oauth2/token", data="client_secret=plain-text-secret", content_type="text/plain")
    events = control.events(operation="getAccessToken")
    assert [e["status"] for e in events] == [200, 401, 400]
    assert events[0]["request"] == {
        "grant_type": "client_credentials",
        "client_id": "supplier-demo",
        "client_secret": "***",
    }
    assert events[1]["request"]["client_secret"] == "***"
    dumped = json.dumps(control.events())
    for secret in ("supplier-demo-secret", "a-wrong-secret", "plain-text-secret"):
        assert secret not in dumped


def test_a_call_refused_before_its_body_is_read_still_shows_the_body(api: Api, control: Control) -> None:
    response = api.client.post("/api/v3/conversation/list", json={"statuses": ["new"]})
    assert response.status_code == 401
    [event] = control.events()
    assert (event["account"], event["status"]) == (None, 401)
    assert event["request"] == {"statuses": ["new"]}


@pytest.mark.parametrize(
    "sent",
    [
        '{"title": "Parcel", "otherPartyTradingPartnerId": ',  # not JSON
        '{"title": "\\ud800", "otherPartyTradingPartnerId": "aaa-bbb-ccc"}',  # a lone surrogate
    ],
    ids=["malformed", "lone-surrogate"],
)
def test_a_refused_body_is_journaled_as_the_text_that_was_sent(api: Api, control: Control, sent: str) -> None:
    response = api.client.post(
        "/api/v3/conversation", data=sent, content_type="application/json", headers=api.auth(NORTHWIND)
    )
    assert response.status_code == 400
    [event] = control.events(operation="createConversation")  # and the journal still renders
    assert event["request"] == sent
    assert event["response"] == response.get_data(as_text=True)


def test_a_body_over_64_kb_is_journaled_as_a_note_not_kept(api: Api, control: Control) -> None:
    body = {"title": "Parcel", "otherPartyTradingPartnerId": "aaa-bbb-ccc", "notes": "x" * 70_000}
    created = api.client.post("/api/v3/conversation", json=body, headers=api.auth(NORTHWIND))
    assert created.status_code == 201  # an unknown field is ignored, with a warning
    [event] = control.events(operation="createConversation")
    assert isinstance(event["request"], str) and event["request"].endswith("characters, not kept)")
    assert event["response"] == created.json


@pytest.fixture
def history(api: Api, control: Control) -> list[dict[str, Any]]:
    """Calls by three accounts, one second apart, and the notifications they raise."""
    for who in (NORTHWIND, ACME, CONTOSO):
        api.token(who)
    api.advance(1)
    cid = api.conversation(NORTHWIND, initialMessage={"message": "first"})["id"]
    api.advance(1)
    api.message(ACME, cid, "second")
    api.advance(1)
    api.conversation(CONTOSO)
    api.list_conversations(ACME)
    return control.events()


def test_journal_filters_by_account_operation_and_kind(
    history: list[dict[str, Any]], control: Control
) -> None:
    acme = ACCOUNT_IDS[ACME]
    assert control.events(account=acme) == [e for e in history if e["account"] == acme]
    assert {e["kind"] for e in control.events(account=acme)} == {"request", "notification"}
    creates = control.events(operation="createConversation")
    assert [(e["kind"], e["account"]) for e in creates] == [
        ("notification", acme),  # raised by Northwind's call, recorded as the call ran
        ("request", ACCOUNT_IDS[NORTHWIND]),
        ("request", ACCOUNT_IDS[CONTOSO]),
    ]
    notifications = control.events(kind="notification")
    assert [e["account"] for e in notifications] == [acme, ACCOUNT_IDS[NORTHWIND]]
    both = control.events(account=acme, kind="request", operation="getConversations")
    assert [e["operation"] for e in both] == ["getConversations"]
    assert control.events(account="no-such-account") == []


def test_journal_filters_by_time_sequence_and_count(history: list[dict[str, Any]], control: Control) -> None:
    since = "2023-05-01T10:00:02.000Z"
    assert control.events(since=since) == [e for e in history if e["time"] >= since]
    assert control.events(since="2023-05-01T12:00:02+02:00") == control.events(since=since)
    middle = history[len(history) // 2]["seq"]
    assert control.events(after=middle) == [e for e in history if e["seq"] > middle]
    assert control.events(limit=2) == history[-2:]  # the newest ones
    assert control.events(kind="request", limit=1) == [e for e in history if e["kind"] == "request"][-1:]
    assert control.events(after=history[-1]["seq"]) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"kind": "requests"}, "kind"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2023:05:01T9:29:55Z"}, "since"),
        ({"after": "-1"}, "after"),
        ({"after": "ten"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1.5"}, "limit"),
    ],
)
def test_a_bad_journal_filter_is_400_naming_it(control: Control, query: dict[str, str], field: str) -> None:
    response = control.get("events", **query)
    assert response.status_code == 400
    assert error_lines(response)[0].startswith(f"{field}: ")


def test_a_bad_notification_filter_is_400_naming_it(control: Control) -> None:
    response = control.get("notifications", after="x")
    assert response.status_code == 400
    assert error_lines(response)[0].startswith("after: ")


def test_the_journal_is_a_ring_buffer_whose_numbers_keep_increasing(api: Api, control: Control) -> None:
    api.token(NORTHWIND)
    control.configure({"journalSize": 5})
    for _ in range(8):
        api.list_conversations(NORTHWIND)
    events = control.events()
    assert len(events) == 5
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    assert seqs[-1] == 9  # the token call and eight lists: numbering went on past the dropped ones
    api.list_conversations(NORTHWIND)
    assert [e["seq"] for e in control.events()] == [*seqs[1:], 10]
    control.configure({"journalSize": 2})
    assert [e["seq"] for e in control.events()] == [9, 10]


def test_a_reset_clears_the_journal(api: Api, control: Control) -> None:
    api.conversation(NORTHWIND, initialMessage={"message": "hello"})
    assert control.events()
    control.reset()
    assert control.events() == []
    assert control.notifications() == []
    api.list_conversations(NORTHWIND)
    assert [e["operation"] for e in control.events()] == ["getConversations"]


# --- notifications -------------------------------------------------------------------------------------
def test_an_initial_message_notifies_the_recipient_only_with_the_message_as_it_sees_it(
    app: Flask, api: Api, control: Control
) -> None:
    conversation = api.customer_care("C-7", initialMessage={"message": "Where is my order?"})
    assert control.notifications(account=ACCOUNT_IDS[NORTHWIND]) == []
    [notification] = control.notifications(account=ACCOUNT_IDS[ACME])
    assert schema_problems(app, "sandbox-notification.json", notification) == []
    api.settle()
    [as_seen] = api.messages(ACME)
    assert notification["message"] == as_seen
    assert notification["event"] == "conversation.message.created"
    assert notification["dscoAccountId"] == ACCOUNT_IDS[ACME]
    assert notification["dscoConversationId"] == conversation["id"]
    assert notification["dscoMessageId"] == as_seen["dscoMessageId"]
    assert notification["createDate"] == START_TEXT
    assert as_seen["type"]["customerCareType"] == "message_from_consumer"


def test_each_added_message_notifies_the_other_party(api: Api, control: Control) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    assert control.notifications() == []  # no initial message, nothing to tell
    api.message(ACME, cid, "from Acme")
    api.message(NORTHWIND, cid, "from Northwind")
    api.message(ACME, cid, "Acme again")
    notified = [(n["dscoAccountId"], n["message"]["message"]) for n in control.notifications()]
    assert notified == [
        (ACCOUNT_IDS[NORTHWIND], "from Acme"),
        (ACCOUNT_IDS[ACME], "from Northwind"),
        (ACCOUNT_IDS[NORTHWIND], "Acme again"),
    ]
    api.settle()
    for notification in control.notifications(account=ACCOUNT_IDS[NORTHWIND]):
        [as_seen] = api.messages(NORTHWIND, {"dscoMessageId": notification["dscoMessageId"]})
        assert notification["message"] == as_seen


def test_test_conversations_notify_nobody(api: Api, control: Control) -> None:
    cid = api.conversation(NORTHWIND, isTest=True, initialMessage={"message": "a test"})["id"]
    api.message(ACME, cid, "a test reply")
    assert control.notifications() == []
    assert control.events(kind="notification") == []


def test_notifications_filter_by_account_and_after(api: Api, control: Control) -> None:
    first = api.conversation(NORTHWIND, initialMessage={"message": "one"})["id"]
    api.conversation(CONTOSO, initialMessage={"message": "two"})
    api.message(ACME, first, "three")
    api.message(NORTHWIND, first, "four")
    everything = control.notifications()
    assert [n["seq"] for n in everything] == [1, 2, 3, 4]
    acme = control.notifications(account=ACCOUNT_IDS[ACME])
    assert [n["message"]["message"] for n in acme] == ["one", "two", "four"]
    assert [n["message"]["message"] for n in control.notifications(account=ACCOUNT_IDS[ACME], after=2)] == [
        "four"
    ]
    assert control.notifications(after=3) == everything[3:]
    assert control.notifications(account=ACCOUNT_IDS[CONTOSO]) == []


def test_notifications_also_appear_in_the_journal(api: Api, control: Control) -> None:
    cid = api.conversation(NORTHWIND, initialMessage={"message": "one"})["id"]
    api.message(ACME, cid, "two")
    journaled = control.events(kind="notification")
    assert [e["notification"] for e in journaled] == control.notifications()
    assert [(e["account"], e["operation"]) for e in journaled] == [
        (ACCOUNT_IDS[ACME], "createConversation"),
        (ACCOUNT_IDS[NORTHWIND], "addConversationMessage"),
    ]
