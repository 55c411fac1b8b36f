"""Acting as a party from the console: the API's rules, notifications and journal, without its rate
limit; and the clock, settings and reset forms, which go through the control plane's functions."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
from console_support import post_form, shown
from http_support import ACCOUNT_IDS, ACME, NORTHWIND, Api, Control

from simulator.domain.sandbox import Sandbox
from simulator.http import ServerConfig, create_app

RETAILER, SUPPLIER = ACCOUNT_IDS[NORTHWIND], ACCOUNT_IDS[ACME]
CREATE = {
    "as": RETAILER,
    "title": "Where is my parcel?",
    "partner": "aaa-bbb-ccc",
    "kind": "customer_care",
    "consumerId": "consumer-42",
    "poNumber": "123-456-789",
    "referenceId": "CASE-1",
    "message": "The consumer asks where the parcel is.",
}


def create(api: Api, **changes: str) -> str:
    response = post_form(api.client, "/console/act/create", {**CREATE, **changes})
    assert response.status_code == 303
    location: str = response.headers["Location"]
    assert location.startswith("/console/conversations/"), location
    return location.rsplit("/", 1)[1]


def act(api: Api, action: str, conversation_id: str, **fields: str) -> tuple[str, list[str], str]:
    page = f"/console/conversations/{conversation_id}"
    response = post_form(
        api.client, f"/console/act/{action}", {"conversation": conversation_id, "next": page, **fields}
    )
    assert response.status_code == 303 and response.headers["Location"] == page
    return shown(api.client, page)


def console_entries(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [e.to_json() for e in sandbox.journal.entries(kind="request") if e.details.get("via") == "console"]


def test_creating_as_the_retailer_is_the_api_call_with_its_rules_and_notification(api: Api) -> None:
    conversation_id = create(api)
    state, lines, curl = shown(api.client, f"/console/conversations/{conversation_id}")
    assert state == "ok" and lines == ["createConversation answered 201 as Northwind Retail"]
    conversation = api.sandbox.store.conversation(conversation_id)
    assert conversation is not None
    assert (conversation.kind, conversation.consumer_id, conversation.retailer_reference_id) == (
        "customer_care",
        "consumer-42",
        "CASE-1",
    )
    assert conversation.context["dscoOrderId"]  # resolved from the poNumber, as the API does
    assert [n.account_id for n in api.sandbox.notifications.all()] == [SUPPLIER]
    [entry] = console_entries(api.sandbox)
    assert entry["operation"] == "createConversation" and entry["status"] == 201
    assert (entry["method"], entry["path"], entry["account"]) == ("POST", "/api/v3/conversation", RETAILER)
    assert entry["request"]["type"] == {"type": "customer_care", "consumerId": "consumer-42"}
    assert entry["response"]["id"] == conversation_id
    assert curl.startswith("curl -s -X POST http://localhost/api/v3/conversation ")


@pytest.mark.e2e
def test_the_offered_curl_command_makes_the_same_call(api: Api) -> None:
    conversation_id = create(api)
    _, _, curl = shown(api.client, f"/console/conversations/{conversation_id}")
    words = shlex.split(curl)
    body = json.loads(words[words.index("-d") + 1])
    assert body["referenceId"] == "CASE-1" and body["initialMessage"]["message"].startswith("The consumer")
    token = words[words.index("-H") + 1].removeprefix("Authorization: bearer ")
    path = words[words.index("-X") + 2].removeprefix("http://localhost")
    again = api.client.post(
        path, json={**body, "referenceId": "CASE-2"}, headers={"Authorization": f"bearer {token}"}
    )
    assert again.status_code == 201 and again.json is not None
    assert again.json["retailerReferenceId"] == "CASE-2"
    assert subprocess.run(["bash", "-n", "-c", curl], check=False).returncode == 0  # valid shell


def test_reply_close_refusal_and_reopen_follow_the_apis_rules(api: Api) -> None:
    conversation_id = create(api)
    state, lines, _ = act(api, "reply", conversation_id, **{"as": SUPPLIER, "message": "Ships today."})
    assert state == "ok"
    messages = api.sandbox.store.messages_in(conversation_id)
    assert [m.customer_care_type for m in messages] == ["message_from_consumer", "response_to_consumer"]
    assert api.sandbox.store.conversation(conversation_id).status == "in_progress"  # type: ignore[union-attr]
    assert act(api, "status", conversation_id, **{"as": SUPPLIER, "status": "closed"})[0] == "ok"
    state, lines, curl = act(api, "reply", conversation_id, **{"as": SUPPLIER, "message": "One more."})
    assert state == "refused"
    assert lines == [
        f"dscoConversationId: conversation '{conversation_id}' is closed and takes no messages; reopen it "
        "first (updateConversation with status 'in_progress')"
    ]
    assert "/api/v3/conversation/message" in curl
    assert len(api.sandbox.store.messages_in(conversation_id)) == 2
    refused = console_entries(api.sandbox)[-1]
    assert refused["status"] == 400 and "is closed" in refused["response"]
    assert act(api, "status", conversation_id, **{"as": RETAILER, "status": "in_progress"})[0] == "ok"
    assert api.sandbox.store.conversation(conversation_id).status == "in_progress"  # type: ignore[union-attr]


def test_setting_a_reference_id_sets_the_callers_own(api: Api) -> None:
    conversation_id = create(api)
    assert act(api, "reference", conversation_id, **{"as": SUPPLIER, "referenceId": "ACME-9"})[0] == "ok"
    conversation = api.sandbox.store.conversation(conversation_id)
    assert conversation is not None and conversation.supplier_reference_id == "ACME-9"
    assert conversation.retailer_reference_id == "CASE-1"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"consumerId": ""}, "type.consumerId"),
        ({"title": "x" * 51}, "title"),
        (
            {"partner": "nobody"},
            "otherPartyTradingPartnerId: 'nobody' is not one of your trading partner ids",
        ),
        ({"poNumber": "no-such-order"}, "context"),
    ],
)
def test_a_refused_create_shows_the_explanation_and_changes_nothing(
    api: Api, changes: dict[str, str], expected: str
) -> None:
    response = post_form(api.client, "/console/act/create", {**CREATE, **changes})
    assert response.status_code == 303
    state, lines, _ = shown(api.client, response.headers["Location"])
    assert state == "refused"
    assert any(line.startswith(expected) for line in lines), lines
    assert api.sandbox.store.counts() == (0, 0)


def test_console_actions_are_not_counted_against_the_rate_limit(api: Api) -> None:
    Control(api.client).configure({"rateLimit": {"enabled": True, "perSecond": 1}})
    ids = [create(api, referenceId=f"CASE-{n}") for n in range(4)]
    assert len(set(ids)) == 4
    assert api.list_conversations(NORTHWIND).status_code == 200  # the party's own budget is intact


def test_the_clock_form_uses_the_control_planes_clock(api: Api) -> None:
    client = api.client
    assert (
        post_form(client, "/console/settings/clock", {"command": "advance", "seconds": "90"}).status_code
        == 303
    )
    assert shown(client, "/console/settings")[1] == ["sandbox time 2023-05-01T10:01:30.000Z, frozen"]
    post_form(client, "/console/settings/clock", {"command": "set", "instant": "2024-01-01T00:00:00Z"})
    assert api.sandbox.clock_state()["now"] == "2024-01-01T00:00:00.000Z"
    post_form(client, "/console/settings/clock", {"command": "unfreeze"})
    assert api.sandbox.clock.frozen is False
    post_form(client, "/console/settings/clock", {"command": "resume"})
    assert api.sandbox.clock_state()["now"] > "2026"
    post_form(client, "/console/settings/clock", {"command": "advance", "seconds": "soon"})
    state, lines, _ = shown(client, "/console/settings")
    assert state == "refused" and lines[0].startswith("advance:"), lines


def test_the_settings_fault_and_reset_forms_change_what_the_json_routes_change(api: Api) -> None:
    client, control = api.client, Control(api.client)
    started = control.config()
    fields = {"pageSize": "7", "lagMin": "0", "lagMax": "2", "perSecond": "3", "rateLimit": "on"}
    post_form(client, "/console/settings/config", fields)
    config = control.config()
    assert (config["pageSize"], config["lag"], config["rateLimit"]) == (
        7,
        {"min": 0, "max": 2},
        {"enabled": True, "perSecond": 3},
    )
    post_form(client, "/console/settings/config", {**fields, "pageSize": "0"})
    assert shown(client, "/console/settings")[1][0].startswith("pageSize")
    assert control.config()["pageSize"] == 7  # refused as a whole
    post_form(
        client,
        "/console/settings/fault",
        {"operation": "getConversations", "forceStatus": "503", "forceCount": "1"},
    )
    assert control.config()["faults"]["getConversations"]["forceStatus"] == 503
    create(api)
    post_form(client, "/console/settings/reset", {"restoreSettings": "on"})
    assert control.config() == started
    assert api.sandbox.store.counts() == (0, 0)


def test_an_unknown_party_or_action_is_404_and_changes_nothing(api: Api) -> None:
    assert post_form(api.client, "/console/act/create", {**CREATE, "as": "999"}).status_code == 404
    assert post_form(api.client, "/console/act/delete", CREATE).status_code == 404
    assert api.sandbox.store.counts() == (0, 0)


def test_a_console_action_is_saved_to_the_state_file_like_an_api_call(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    app = create_app(ServerConfig(state_file=state_file))
    app.extensions["dsco_sandbox"].clock.freeze()
    client = app.test_client()
    response = post_form(client, "/console/act/create", {**CREATE})
    assert response.status_code == 303
    saved = json.loads(state_file.read_text("utf-8"))
    assert [c["retailerReferenceId"] for c in saved["conversations"]] == ["CASE-1"]
    post_form(client, "/console/settings/clock", {"command": "advance", "seconds": "60"})
    assert json.loads(state_file.read_text("utf-8"))["clock"] == app.extensions["dsco_sandbox"].clock_state()
