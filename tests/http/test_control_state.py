"""Export and import of the whole sandbox through ``/_sandbox/state``.

An export, imported back (here after a reset, or into a fresh sandbox), answers every list call
exactly as before — page by page, scrollIds included — and exports the same document again. A
document that cannot be imported is refused with a line naming the problem and changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from http_support import (
    ACCOUNT_IDS,
    ACME,
    API,
    CONTOSO,
    GLOBEX,
    NORTHWIND,
    START_TEXT,
    Api,
    Control,
    error_lines,
    schema_problems,
)

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig, create_app

Document = dict[str, Any]

QUERIES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("getConversations", {}),
    ("getConversations", {"sort": {"field": "create_date", "direction": "desc"}}),
    ("getConversations", {"test": "all", "statuses": ["new", "in_progress", "closed"]}),
    ("getConversations", {"type": {"type": "customer_care"}}),
    ("getConversationMessages", {}),
    ("getConversationMessages", {"test": "all", "sort": {"field": "create_date", "direction": "desc"}}),
    ("getConversationMessages", {"createdSince": "2023-05-01T10:00:30.000Z"}),
)


@pytest.fixture
def busy(api: Api, control: Control) -> Api:
    """A sandbox with conversations of every kind between several accounts, settled.

    Every account has its token already, so that an export holds the tokens the queries use.
    """
    control.configure({"pageSize": 3})
    for who in ACCOUNT_IDS:
        api.token(who)
    cc = api.customer_care("C-42", referenceId="NW-CC-1", initialMessage={"message": "Where is my parcel?"})[
        "id"
    ]
    plain = api.conversation(NORTHWIND, title="Invoice question", initialMessage={"message": "Hi"})["id"]
    api.conversation(NORTHWIND, otherPartyTradingPartnerId="ddd-eee-fff", title="To Globex")
    contoso = api.conversation(CONTOSO, referenceId="CT-1")["id"]
    acme = api.conversation(ACME, title="From Acme", referenceId="ACME-9")["id"]
    api.conversation(NORTHWIND, title="A test", isTest=True, initialMessage={"message": "test"})
    for step in range(8):
        api.advance(4)
        api.message(ACME, cc, f"answer {step}")
        api.message(NORTHWIND, plain if step % 2 else acme, f"note {step}")
    api.message(ACME, contoso, "hello Contoso")
    api.changed(NORTHWIND, {"dscoConversationId": plain, "status": "closed"})
    api.changed(ACME, {"dscoConversationId": cc, "supplierReferenceId": "ACME-CC"})
    api.settle()
    return api


def every_page(api: Api) -> dict[str, list[dict[str, Any]]]:
    """Each account's answers to the queries, page by page, exactly as sent (scrollIds too)."""
    seen: dict[str, list[dict[str, Any]]] = {}
    for who in ACCOUNT_IDS:
        for operation, query in QUERIES:
            pages: list[dict[str, Any]] = []
            body = dict(query)
            while True:
                response = api.call(operation, who, body)
                assert response.status_code == 200, response.get_data(as_text=True)
                page = response.json
                assert isinstance(page, dict)
                pages.append(page)
                if "scrollId" not in page:
                    break
                body = {"scrollId": page["scrollId"]}
            seen[f"{who} {operation} {query}"] = pages
    return seen


def without_export_time(document: Document) -> Document:
    return {key: value for key, value in document.items() if key != "exportedAt"}


# --- export ----------------------------------------------------------------------------------------
def test_an_export_fits_the_state_schema(app: Flask, busy: Api, control: Control) -> None:
    document = control.export()
    assert schema_problems(app, "sandbox-state.json", document) == []
    assert document["format"] == "dsco-sandbox-state" and document["version"] == 1
    assert document["exportedAt"] == busy.now_iso()
    assert document["clock"] == control.clock()
    assert document["config"] == control.config()
    assert (len(document["conversations"]), len(document["messages"])) == busy.sandbox.store.counts()


def test_export_reset_import_gives_back_identical_list_results_and_export(
    busy: Api, control: Control
) -> None:
    exported = control.export()
    before = every_page(busy)
    assert any(len(pages) >= 3 for pages in before.values()), "the queries should reach page 3"
    next_id = busy.conversation(NORTHWIND, title="after the export")["id"]
    control.reset()
    busy.settle()
    assert busy.conversations(NORTHWIND) == [] and busy.messages(ACME) == []
    answer = control.import_state(exported)
    assert answer == {
        "status": "ok",
        "conversations": len(exported["conversations"]),
        "messages": len(exported["messages"]),
    }
    assert without_export_time(control.export()) == without_export_time(exported)
    assert every_page(busy) == before
    # It resumes where the export was: the next conversation gets the same id as it did then.
    assert busy.conversation(NORTHWIND, title="after the export")["id"] == next_id


def test_an_export_imported_into_a_fresh_sandbox_answers_the_same(
    contract: Contract, busy: Api, control: Control
) -> None:
    exported = control.export()
    before = every_page(busy)
    other = create_app(ServerConfig(sandbox=SandboxConfig(seed=99)), contract=contract)
    other_control = Control(other.test_client())
    other_control.import_state(exported)
    assert without_export_time(other_control.export()) == without_export_time(exported)
    # Tokens survived too: the fixtures' client keeps its tokens on the other sandbox.
    moved = Api(other.test_client(), other.extensions["dsco_sandbox"])
    tokens = busy.tokens()
    assert tokens
    moved.adopt_tokens(tokens)  # the same client, pointed elsewhere
    assert every_page(moved) == before


def test_tokens_survive_an_export_and_import(contract: Contract, api: Api, control: Control) -> None:
    token = api.token(ACME)
    exported = control.export()
    assert [t["accessToken"] for t in exported["tokens"]] == [token]
    other = create_app(ServerConfig(), contract=contract)
    Control(other.test_client()).import_state(exported)
    headers = {"Authorization": f"bearer {token}"}
    response = other.test_client().post(f"{API}/conversation/list", json={}, headers=headers)
    assert response.status_code == 200
    # ... and keep their expiry: an hour after they were issued they are refused.
    Control(other.test_client()).advance(3600)
    response = other.test_client().post(f"{API}/conversation/list", json={}, headers=headers)
    assert response.status_code == 401


def test_the_clock_is_restored_by_an_import(api: Api, control: Control) -> None:
    exported = control.export()
    control.clock_command({"set": "2030-01-01T00:00:00Z"})
    control.clock_command({"freeze": False})
    control.import_state(exported)
    assert control.clock() == {"now": START_TEXT, "frozen": True}
    running = {**exported, "clock": {"now": "2024-06-01T08:00:00Z", "frozen": False}}
    control.import_state(running)
    state = control.clock()
    assert state["frozen"] is False
    assert "2024-06-01T08:00:00.000Z" <= state["now"] < "2024-06-01T08:00:10.000Z"


def test_settings_and_fault_rules_are_restored_by_an_import(control: Control) -> None:
    control.configure({"pageSize": 4, "strict": True, "faults": {"*": {"latency": 0.001}}})
    exported = control.export()
    control.configure({"pageSize": 9, "strict": False, "faults": None})
    control.import_state(exported)
    config = control.config()
    assert (config["pageSize"], config["strict"]) == (4, True)
    assert config["faults"] == {"*": {"latency": {"min": 0.001, "max": 0.001}}}


def test_new_ids_and_tokens_after_an_import_never_repeat_imported_ones(
    contract: Contract, busy: Api, control: Control
) -> None:
    """A fresh sandbox with the same seed would hand out the same ids again; an import must not."""
    exported = control.export()
    held_ids = {c["id"] for c in exported["conversations"]} | {m["id"] for m in exported["messages"]}
    held_tokens = {t["accessToken"] for t in exported["tokens"]}
    for document in (exported, {k: v for k, v in exported.items() if k != "random"}):
        app = create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False)), contract=contract)
        Control(app.test_client()).import_state(document)
        fresh = Api(app.test_client(), app.extensions["dsco_sandbox"])
        for who in (NORTHWIND, CONTOSO, ACME, GLOBEX):
            assert fresh.token(who) not in held_tokens
        conversation = fresh.conversation(NORTHWIND, initialMessage={"message": "new"})
        reply = fresh.message(ACME, conversation["id"], "reply")
        assert conversation["id"] not in held_ids
        assert reply["dscoMessageId"] not in held_ids
        conversations, messages = fresh.sandbox.store.counts()
        assert conversations == len(exported["conversations"]) + 1
        assert messages == len(exported["messages"]) + 2


# --- refused imports --------------------------------------------------------------------------------
def _first(kind: str) -> Callable[[Document], dict[str, Any]]:
    return lambda document: document[kind][0]


BROKEN: tuple[tuple[str, Callable[[Document], Any], str], ...] = (
    ("wrong-format", lambda d: d.update(format="dsco-sandbox-world"), "format: "),
    ("wrong-version", lambda d: d.update(version=2), "version: "),
    ("missing-conversations", lambda d: d.pop("conversations"), "conversations: required field is missing"),
    ("missing-clock", lambda d: d.pop("clock"), "clock: required field is missing"),
    ("missing-message-text", lambda d: _first("messages")(d).pop("text"), "messages[0].text: required"),
    (
        "message-in-an-unknown-conversation",
        lambda d: _first("messages")(d).update(conversationId="no-such-conversation"),
        "messages[0].conversationId: no conversation 'no-such-conversation'",
    ),
    (
        "retailer-not-in-the-world",
        lambda d: _first("conversations")(d).update(retailerId="1999999"),
        "conversations[0].retailerId: '1999999' is not a retailer of the world",
    ),
    (
        "supplier-is-a-retailer",
        lambda d: _first("conversations")(d).update(supplierId="1000002"),
        "conversations[0].supplierId: '1000002' is not a supplier of the world",
    ),
    (
        "duplicate-conversation-ids",
        lambda d: d["conversations"][1].update(id=d["conversations"][0]["id"]),
        "conversations[1].id: ",
    ),
    (
        "duplicate-message-ids",
        lambda d: d["messages"][1].update(id=d["messages"][0]["id"]),
        "messages[1].id: ",
    ),
    (
        "world-with-a-broken-reference",
        lambda d: d["world"]["tradingPartners"][0].update(partnerDscoAccountId="7777777"),
        "world: tradingPartners[0].partnerDscoAccountId: no account '7777777'",
    ),
    (
        "world-not-a-world",
        lambda d: d["world"].update(format="something-else"),
        "world.format: ",
    ),
    ("bad-lag", lambda d: d["config"].update(lag={"min": 3, "max": 1}), "config.lag.max: "),
    (
        "bad-fault-rule",
        lambda d: d["config"]["faults"].update({"*": {"latency": {"min": 2, "max": 1}}}),
        "config.faults.*.latency: max 1 is below min 2",
    ),
    ("bad-clock", lambda d: d["clock"].update(now="tomorrow"), "clock.now: "),
    ("bad-generator-state", lambda d: d["random"].update(ids={"state": "xyz"}), "random.ids: "),
    ("unknown-key", lambda d: d.update(extra=1), "extra: unknown field"),
)


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in BROKEN], ids=[n for n, _, _ in BROKEN]
)
def test_an_invalid_state_is_400_naming_the_problem_and_changes_nothing(
    busy: Api, control: Control, change: Callable[[Document], Any], expected: str
) -> None:
    document = copy.deepcopy(control.export())
    change(document)
    # Make the running sandbox differ from the document, so that a partial import would show.
    busy.conversation(GLOBEX, title="only in the running sandbox")
    control.configure({"pageSize": 7, "faults": {"getConversations": {"latency": 0.001}}})
    control.advance(42)
    before = control.export()
    response = control.put_state(document)
    assert response.status_code == 400
    lines = error_lines(response)
    assert any(line.startswith(expected) for line in lines), lines
    assert control.export() == before


def test_a_state_that_is_not_json_is_400_and_changes_nothing(control: Control) -> None:
    before = control.export()
    response = control.client.put("/_sandbox/state", data="{", content_type="application/json")
    assert response.status_code == 400
    assert error_lines(response)[0].startswith("body: malformed JSON")
    assert control.export() == before
