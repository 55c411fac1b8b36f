"""createConversation and updateConversation: parties, context, type, status and reference ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from http_support import (
    ACCOUNT_IDS,
    ACME,
    CONTOSO,
    GLOBEX,
    NORTHWIND,
    START_TEXT,
    Api,
    CheckedClient,
    error_lines,
)

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.domain.sandbox import Sandbox
from simulator.http import ServerConfig, create_app
from simulator.loading.resources import default_world_path


def refused(api: Api, who: str, body: dict[str, Any], field: str) -> list[str]:
    """Create ``body`` as ``who``, expect a 400 whose first line names ``field``; return the lines."""
    response = api.create(who, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    lines = error_lines(response)
    assert lines[0].startswith(f"{field}: "), lines
    return lines


def update_refused(api: Api, who: str, body: dict[str, Any], field: str) -> list[str]:
    response = api.update(who, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    lines = error_lines(response)
    assert lines[0].startswith(f"{field}: "), lines
    return lines


# --- creation -------------------------------------------------------------------------------
def test_a_created_conversation_is_new_and_stamped_with_sandbox_time(api: Api) -> None:
    created = api.conversation(NORTHWIND, title="Shoes", dueDate="2023-05-03T10:00:00Z")
    assert created["status"] == "new"
    assert created["title"] == "Shoes"
    assert created["type"] == {"type": "standard"}
    assert created["isTest"] is False
    assert "testType" not in created
    assert "closedDate" not in created
    assert created["createDate"] == START_TEXT
    assert created["lastUpdate"] == START_TEXT
    assert created["dueDate"] == "2023-05-03T10:00:00.000Z"
    assert "initialMessage" not in created


def test_a_test_conversation_is_marked_with_test_type_customer(api: Api) -> None:
    created = api.conversation(NORTHWIND, isTest=True)
    assert created["isTest"] is True
    assert created["testType"] == "customer"


def test_a_missing_context_means_the_account_context(api: Api) -> None:
    assert api.conversation(NORTHWIND)["context"] == {"type": "account"}


def test_an_explicit_account_context_is_kept(api: Api) -> None:
    assert api.conversation(NORTHWIND, context={"type": "account"})["context"] == {"type": "account"}


def test_a_title_is_required(api: Api) -> None:
    refused(api, NORTHWIND, {"otherPartyTradingPartnerId": "aaa-bbb-ccc"}, "title")


# --- parties --------------------------------------------------------------------------------
def test_the_other_party_can_be_named_by_dsco_account_id(api: Api) -> None:
    created = api.conversation(NORTHWIND, otherPartyDscoAccountId="2000001")
    assert created["dscoSupplierId"] == "2000001"
    assert created["dscoSupplierTradingPartnerId"] == "aaa-bbb-ccc"


def test_both_party_fields_may_be_given_when_they_agree(api: Api) -> None:
    created = api.conversation(
        NORTHWIND, otherPartyTradingPartnerId="ddd-eee-fff", otherPartyDscoAccountId="2000002"
    )
    assert created["dscoSupplierId"] == "2000002"


def test_both_party_fields_disagreeing_are_refused(api: Api) -> None:
    body = {"title": "x", "otherPartyTradingPartnerId": "aaa-bbb-ccc", "otherPartyDscoAccountId": "2000002"}
    refused(api, NORTHWIND, body, "otherPartyDscoAccountId")


def test_neither_party_field_is_refused(api: Api) -> None:
    refused(api, NORTHWIND, {"title": "x"}, "otherPartyTradingPartnerId")


@pytest.mark.parametrize("ref", ["zzz", "NW-RETAIL", "acme-for-contoso", ""])
def test_an_unknown_trading_partner_id_is_refused(api: Api, ref: str) -> None:
    lines = refused(
        api, NORTHWIND, {"title": "x", "otherPartyTradingPartnerId": ref}, "otherPartyTradingPartnerId"
    )
    assert repr(ref) in lines[0]


@pytest.mark.parametrize("account_id", ["9999999", "1000001", "1000002", ""])
def test_an_account_id_that_is_not_a_trading_partner_is_refused(api: Api, account_id: str) -> None:
    """Unknown accounts, the caller itself and another retailer are all not partners of a retailer."""
    refused(api, NORTHWIND, {"title": "x", "otherPartyDscoAccountId": account_id}, "otherPartyDscoAccountId")


def test_accounts_without_a_trading_relationship_cannot_talk(api: Api) -> None:
    refused(api, CONTOSO, {"title": "x", "otherPartyDscoAccountId": "2000002"}, "otherPartyDscoAccountId")
    refused(api, GLOBEX, {"title": "x", "otherPartyDscoAccountId": "1000002"}, "otherPartyDscoAccountId")


def test_a_supplier_may_open_a_standard_conversation(api: Api) -> None:
    created = api.conversation(ACME)
    assert created["initiatedBy"] == "supplier"
    assert created["dscoRetailerId"] == "1000001"
    assert created["dscoRetailerTradingPartnerId"] == "NW-RETAIL"
    assert created["dscoRetailerTradingPartnerName"] == "Northwind Retail"
    assert "dscoSupplierTradingPartnerId" not in created


# --- trading-partner fields from the caller's point of view ----------------------------------
def test_trading_partner_fields_are_the_callers_names_for_the_other_party(api: Api) -> None:
    created = api.conversation(NORTHWIND)
    assert created["dscoSupplierTradingPartnerId"] == "aaa-bbb-ccc"
    assert created["dscoSupplierTradingPartnerName"] == "Acme Supply Co"
    assert "dscoRetailerTradingPartnerId" not in created
    assert "dscoRetailerTradingPartnerName" not in created
    api.settle()
    [as_retailer] = api.conversations(NORTHWIND)
    [as_supplier] = api.conversations(ACME)
    assert as_retailer["dscoSupplierTradingPartnerId"] == "aaa-bbb-ccc"
    assert "dscoRetailerTradingPartnerId" not in as_retailer
    assert as_supplier["dscoRetailerTradingPartnerId"] == "NW-RETAIL"
    assert as_supplier["dscoRetailerTradingPartnerName"] == "Northwind Retail"
    assert "dscoSupplierTradingPartnerId" not in as_supplier
    assert "dscoSupplierTradingPartnerName" not in as_supplier


def test_each_retailer_sees_its_own_name_for_the_same_supplier(api: Api) -> None:
    contoso = api.conversation(CONTOSO)
    assert contoso["dscoSupplierTradingPartnerId"] == "acme-for-contoso"
    api.settle()
    [seen] = api.conversations(ACME)
    assert seen["dscoRetailerTradingPartnerId"] == "CONTOSO"
    assert seen["dscoRetailerTradingPartnerName"] == "Contoso Market"


# --- order context --------------------------------------------------------------------------
ORDER_IDS = {
    "dscoOrderId": "9000001",
    "poNumber": "123-456-789",
    "supplierOrderNumber": "ACME-5001",
    "consumerOrderNumber": "C-123",
}


@pytest.mark.parametrize("field", sorted(ORDER_IDS))
def test_an_order_context_resolves_by_any_one_order_number(api: Api, field: str) -> None:
    context = {"type": "order", field: ORDER_IDS[field]}
    if field == "supplierOrderNumber":  # a retailer must then name the supplier too (vendor's prose)
        context["dscoAccountId"] = ACCOUNT_IDS[ACME]
    created = api.conversation(NORTHWIND, context=context)
    assert created["context"] == {"type": "order", **ORDER_IDS}


def test_an_order_context_with_agreeing_numbers_resolves(api: Api) -> None:
    created = api.conversation(
        NORTHWIND, context={"type": "order", "poNumber": "123-456-789", "dscoOrderId": "9000001"}
    )
    assert created["context"]["supplierOrderNumber"] == "ACME-5001"


def test_an_order_context_with_disagreeing_numbers_is_refused(api: Api) -> None:
    body: dict[str, Any] = {"title": "x", "otherPartyTradingPartnerId": "aaa-bbb-ccc"}
    body["context"] = {"type": "order", "poNumber": "123-456-789", "dscoOrderId": "9000002"}
    lines = refused(api, NORTHWIND, body, "context.dscoOrderId")
    assert "'9000002'" in lines[0] and "'123-456-789'" in lines[0]


def test_an_unknown_order_is_refused_naming_the_field(api: Api) -> None:
    body = {
        "title": "x",
        "otherPartyTradingPartnerId": "aaa-bbb-ccc",
        "context": {"type": "order", "poNumber": "nope"},
    }
    lines = refused(api, NORTHWIND, body, "context.poNumber")
    assert "'nope'" in lines[0]


def test_an_order_context_needs_an_order_number(api: Api) -> None:
    body = {"title": "x", "otherPartyTradingPartnerId": "aaa-bbb-ccc", "context": {"type": "order"}}
    refused(api, NORTHWIND, body, "context")


def test_an_order_conversation_must_be_with_the_orders_supplier(api: Api) -> None:
    body = {
        "title": "x",
        "otherPartyTradingPartnerId": "ddd-eee-fff",
        "context": {"type": "order", "poNumber": "123-456-789"},
    }
    refused(api, NORTHWIND, body, "context")


def test_an_order_conversation_must_be_about_the_callers_own_order(api: Api) -> None:
    """Contoso trades with Acme, but order 123-456-789 is Northwind's."""
    body = {
        "title": "x",
        "otherPartyTradingPartnerId": "acme-for-contoso",
        "context": {"type": "order", "poNumber": "123-456-789"},
    }
    refused(api, CONTOSO, body, "context")


def test_the_orders_supplier_may_open_a_conversation_about_it(api: Api) -> None:
    created = api.conversation(ACME, context={"type": "order", "supplierOrderNumber": "ACME-5001"})
    assert created["context"]["poNumber"] == "123-456-789"


def test_a_line_item_names_a_line_of_the_order(api: Api) -> None:
    created = api.conversation(
        NORTHWIND, context={"type": "order", "poNumber": "123-456-789", "lineItem": {"sku": "SKU-RED-SHOE-9"}}
    )
    line = created["context"]["lineItem"]
    assert line["sku"] == "SKU-RED-SHOE-9"
    assert line["lineNumber"] == 1
    assert line["dscoItemId"] == "5000001"


def test_a_line_item_resolves_by_another_identifier_and_line_number(api: Api) -> None:
    created = api.conversation(
        NORTHWIND,
        context={
            "type": "order",
            "poNumber": "123-456-789",
            "lineItem": {"partnerSku": "NW-SOCK-BLUE-M", "lineNumber": 2},
        },
    )
    assert created["context"]["lineItem"]["sku"] == "SKU-BLUE-SOCK-M"


@pytest.mark.parametrize(
    "line_item",
    [{"sku": "SKU-NOPE"}, {"sku": "SKU-RED-SHOE-9", "lineNumber": 2}, {"lineNumber": 1}, {}],
    ids=["unknown-sku", "sku-on-another-line", "no-item-id", "empty"],
)
def test_a_line_item_not_on_the_order_is_refused_naming_context_line_item(
    api: Api, line_item: dict[str, Any]
) -> None:
    body = {
        "title": "x",
        "otherPartyTradingPartnerId": "aaa-bbb-ccc",
        "context": {"type": "order", "poNumber": "123-456-789", "lineItem": line_item},
    }
    refused(api, NORTHWIND, body, "context.lineItem")


# --- the other contexts resolve against the default world ------------------------------------
@pytest.mark.parametrize(
    ("who", "partner", "context", "filled"),
    [
        (NORTHWIND, "aaa-bbb-ccc", {"type": "catalog", "sku": "SKU-RED-SHOE-9"}, {"dscoItemId": "5000001"}),
        (NORTHWIND, "ddd-eee-fff", {"type": "catalog", "upc": "610174694020"}, {"dscoItemId": "5100009"}),
        (NORTHWIND, "aaa-bbb-ccc", {"type": "inventory", "dscoItemId": "5000002"}, {}),
        (ACME, "CONTOSO", {"type": "inventory", "mpn": "ACM-CS-RED-09"}, {"dscoItemId": "5000001"}),
        (
            NORTHWIND,
            "aaa-bbb-ccc",
            {"type": "invoice", "invoiceId": "ACME-INV-807064"},
            {"dscoInvoiceId": "6100001"},
        ),
        (
            GLOBEX,
            "NORTHWIND",
            {"type": "invoice", "invoiceId": "GLX-INV-898184"},
            {"dscoInvoiceId": "6100004"},
        ),
        (
            NORTHWIND,
            "ddd-eee-fff",
            {"type": "return", "dscoReturnId": "8100001"},
            {"poNumber": "935-403-636"},
        ),
        (
            CONTOSO,
            "acme-for-contoso",
            {"type": "return", "retailerReturnNumber": "CM-R911741"},
            {"dscoReturnId": "8100003"},
        ),
        (NORTHWIND, "aaa-bbb-ccc", {"type": "contract", "dscoContractId": "4100001"}, {}),
        (ACME, "CONTOSO", {"type": "contract", "dscoContractId": "4100003"}, {}),
    ],
    ids=lambda v: v["type"] if isinstance(v, dict) and "type" in v else None,
)
def test_a_context_resolves_against_the_world(
    api: Api, who: str, partner: str, context: dict[str, str], filled: dict[str, str]
) -> None:
    created = api.conversation(who, otherPartyTradingPartnerId=partner, context=context)
    assert created["context"]["type"] == context["type"]
    for name, value in {**context, **filled}.items():
        assert created["context"][name] == value


@pytest.mark.parametrize(
    ("partner", "context"),
    [
        ("aaa-bbb-ccc", {"type": "catalog", "sku": "NO-SUCH-SKU"}),
        ("aaa-bbb-ccc", {"type": "catalog", "dscoItemId": "5100009"}),  # a Globex item
        ("aaa-bbb-ccc", {"type": "catalog"}),
        ("aaa-bbb-ccc", {"type": "inventory", "upc": "000000000000"}),
        ("aaa-bbb-ccc", {"type": "invoice", "invoiceId": "NO-SUCH-INVOICE"}),
        ("aaa-bbb-ccc", {"type": "invoice", "invoiceId": "GLX-INV-898184"}),  # a Globex invoice
        ("aaa-bbb-ccc", {"type": "return", "dscoReturnId": "0000000"}),
        ("aaa-bbb-ccc", {"type": "return", "dscoReturnId": "8100001"}),  # a Globex return
        ("aaa-bbb-ccc", {"type": "return"}),
        ("aaa-bbb-ccc", {"type": "contract", "dscoContractId": "0000000"}),
        ("aaa-bbb-ccc", {"type": "contract", "dscoContractId": "4100002"}),  # Northwind-Globex
    ],
    ids=lambda v: "-".join(v.values()) if isinstance(v, dict) else None,
)
def test_a_context_naming_nothing_of_these_two_parties_is_refused(
    api: Api, partner: str, context: dict[str, str]
) -> None:
    before = api.snapshot()
    body = {"title": "x", "otherPartyTradingPartnerId": partner, "context": context}
    refused(api, NORTHWIND, body, "context")
    assert api.snapshot() == before


def test_an_unknown_context_type_is_refused_naming_context_type(api: Api) -> None:
    body = {"title": "x", "otherPartyTradingPartnerId": "aaa-bbb-ccc", "context": {"type": "shipment"}}
    lines = refused(api, NORTHWIND, body, "context.type")
    assert "'shipment'" in lines[0]


# --- customer care --------------------------------------------------------------------------
def test_a_retailer_opens_a_customer_care_conversation(api: Api) -> None:
    created = api.customer_care("777")
    assert created["type"] == {"type": "customer_care", "consumerId": "777"}


def test_a_supplier_cannot_open_a_customer_care_conversation(api: Api) -> None:
    body = {
        "title": "x",
        "otherPartyTradingPartnerId": "NW-RETAIL",
        "type": {"type": "customer_care", "consumerId": "1"},
    }
    refused(api, ACME, body, "type.type")


def test_a_customer_care_conversation_needs_a_consumer(api: Api) -> None:
    body = {"title": "x", "otherPartyTradingPartnerId": "aaa-bbb-ccc", "type": {"type": "customer_care"}}
    refused(api, NORTHWIND, body, "type.consumerId")


# --- isolation ------------------------------------------------------------------------------
def test_another_supplier_can_neither_see_nor_touch_a_conversation(api: Api) -> None:
    conversation = api.customer_care(context={"type": "order", "poNumber": "123-456-789"})
    api.settle()
    cid = conversation["id"]
    before = api.snapshot()
    assert api.conversations(GLOBEX) == []
    assert api.messages(GLOBEX) == []
    for response in (
        api.list_conversations(GLOBEX, {"dscoConversationId": cid}),
        api.list_messages(GLOBEX, {"dscoConversationId": cid}),
        api.post_message(GLOBEX, {"dscoConversationId": cid, "message": "hi"}),
        api.update(GLOBEX, {"dscoConversationId": cid, "status": "closed"}),
        api.update(GLOBEX, {"dscoConversationId": cid, "title": "mine now"}),
    ):
        assert response.status_code == 400
        assert error_lines(response)[0].startswith(f"dscoConversationId: {cid!r}")
    assert api.snapshot() == before


def test_another_retailer_cannot_address_a_conversation_by_reference_id(api: Api) -> None:
    api.conversation(NORTHWIND, referenceId="NW-1")
    api.settle()
    for response in (
        api.list_conversations(CONTOSO, {"retailerReferenceId": "NW-1"}),
        api.post_message(CONTOSO, {"retailerReferenceId": "NW-1", "message": "hi"}),
        api.update(CONTOSO, {"findByRetailerReferenceId": "NW-1", "title": "x"}),
    ):
        assert response.status_code == 400


def test_an_unknown_conversation_id_is_refused(api: Api) -> None:
    update_refused(api, NORTHWIND, {"dscoConversationId": "no-such-id", "title": "x"}, "dscoConversationId")


# --- status ---------------------------------------------------------------------------------
def test_status_becomes_in_progress_when_the_other_party_first_posts(api: Api) -> None:
    conversation = api.conversation(NORTHWIND)
    cid = conversation["id"]
    api.advance(1)
    api.message(NORTHWIND, cid, "Anyone there?")
    api.settle()
    [still_new] = api.conversations(NORTHWIND, {"dscoConversationId": cid})
    assert still_new["status"] == "new"
    api.message(ACME, cid, "Yes")
    api.settle()
    [answered] = api.conversations(NORTHWIND, {"dscoConversationId": cid})
    assert answered["status"] == "in_progress"


def test_a_supplier_initiated_conversation_goes_in_progress_on_the_retailers_reply(api: Api) -> None:
    cid = api.conversation(ACME)["id"]
    api.message(ACME, cid)
    api.settle()
    assert api.conversations(ACME, {"dscoConversationId": cid})[0]["status"] == "new"
    api.message(NORTHWIND, cid)
    assert api.conversations(ACME, {"dscoConversationId": cid})[0]["status"] == "in_progress"


def test_closing_sets_closed_date_and_blocks_messages_reopening_clears_it(api: Api) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    api.advance(60)
    closed = api.changed(ACME, {"dscoConversationId": cid, "status": "closed"})
    assert closed["status"] == "closed"
    assert closed["closedDate"] == api.now_iso()
    assert closed["lastUpdate"] == api.now_iso()
    for who in (NORTHWIND, ACME):
        response = api.post_message(who, {"dscoConversationId": cid, "message": "still there?"})
        assert response.status_code == 400
        assert "closed" in error_lines(response)[0]
    api.advance(60)
    reopened = api.changed(NORTHWIND, {"dscoConversationId": cid, "status": "in_progress"})
    assert reopened["status"] == "in_progress"
    assert "closedDate" not in reopened
    assert reopened["lastUpdate"] == api.now_iso()
    api.message(NORTHWIND, cid, "Back again")


def test_closing_a_closed_conversation_keeps_its_closed_date(api: Api) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    first = api.changed(NORTHWIND, {"dscoConversationId": cid, "status": "closed"})
    api.advance(30)
    again = api.changed(ACME, {"dscoConversationId": cid, "status": "closed"})
    assert again["closedDate"] == first["closedDate"]


def test_status_new_cannot_be_set(api: Api) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    api.changed(NORTHWIND, {"dscoConversationId": cid, "status": "closed"})
    lines = update_refused(api, NORTHWIND, {"dscoConversationId": cid, "status": "new"}, "status")
    assert "'new'" in lines[0]


def test_in_progress_cannot_be_set_on_a_new_conversation(api: Api) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    update_refused(api, NORTHWIND, {"dscoConversationId": cid, "status": "in_progress"}, "status")
    update_refused(api, ACME, {"dscoConversationId": cid, "status": "in_progress"}, "status")


def test_an_unknown_status_is_refused_listing_the_allowed_ones(api: Api) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    lines = update_refused(api, NORTHWIND, {"dscoConversationId": cid, "status": "done"}, "status")
    assert lines == ["status: 'done' is not one of new, in_progress, closed"]


# --- other updates --------------------------------------------------------------------------
def test_title_and_due_date_can_be_changed_and_last_update_moves(api: Api) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    api.advance(5)
    changed = api.changed(
        ACME, {"dscoConversationId": cid, "title": "New title", "dueDate": "2023-06-01T00:00:00Z"}
    )
    assert changed["title"] == "New title"
    assert changed["dueDate"] == "2023-06-01T00:00:00.000Z"
    assert changed["lastUpdate"] == api.now_iso()
    assert changed["createDate"] == START_TEXT


def test_a_message_moves_last_update(api: Api) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    api.advance(42)
    posted_at = api.now_iso()
    api.message(ACME, cid)
    api.settle()
    [seen] = api.conversations(NORTHWIND, {"dscoConversationId": cid})
    assert seen["lastUpdate"] == posted_at
    assert seen["createDate"] == START_TEXT


@pytest.mark.parametrize(
    "body",
    [{}, {"dscoConversationId": "ID"}, {"dscoConversationId": "ID", "findByRetailerReferenceId": "NW-1"}],
    ids=["empty", "locator-only", "two-locators"],
)
def test_an_update_with_nothing_to_update_is_refused(api: Api, body: dict[str, Any]) -> None:
    cid = api.conversation(NORTHWIND, referenceId="NW-1")["id"]
    body = {k: (cid if v == "ID" else v) for k, v in body.items()}
    response = api.update(NORTHWIND, body)
    assert response.status_code == 400
    assert len(error_lines(response)) == 1


def test_the_type_of_a_conversation_cannot_change(api: Api) -> None:
    care = api.customer_care()["id"]
    standard = api.conversation(NORTHWIND)["id"]
    update_refused(api, NORTHWIND, {"dscoConversationId": care, "type": {"type": "standard"}}, "type.type")
    update_refused(
        api,
        NORTHWIND,
        {"dscoConversationId": standard, "type": {"type": "customer_care", "consumerId": "1"}},
        "type.type",
    )


def test_only_the_retailer_may_change_the_consumer(api: Api) -> None:
    cid = api.customer_care("111")["id"]
    update_refused(
        api,
        ACME,
        {"dscoConversationId": cid, "type": {"type": "customer_care", "consumerId": "222"}},
        "type.consumerId",
    )
    changed = api.changed(
        NORTHWIND, {"dscoConversationId": cid, "type": {"type": "customer_care", "consumerId": "222"}}
    )
    assert changed["type"] == {"type": "customer_care", "consumerId": "222"}


# --- reference ids --------------------------------------------------------------------------
def test_a_reference_id_on_create_becomes_the_callers_reference_id(api: Api) -> None:
    assert api.conversation(NORTHWIND, referenceId="NW-1")["retailerReferenceId"] == "NW-1"
    created = api.conversation(ACME, referenceId="ACME-1")
    assert created["supplierReferenceId"] == "ACME-1"
    assert "retailerReferenceId" not in created


def test_reference_ids_are_unique_per_caller(api: Api) -> None:
    api.conversation(NORTHWIND, referenceId="REF-1")
    before = api.snapshot()
    lines = refused(
        api,
        NORTHWIND,
        {"title": "x", "otherPartyTradingPartnerId": "ddd-eee-fff", "referenceId": "REF-1"},
        "referenceId",
    )
    assert "'REF-1'" in lines[0]
    assert api.snapshot() == before
    # ... but only per caller: another retailer and a supplier may use the same text.
    api.conversation(CONTOSO, referenceId="REF-1")
    api.conversation(ACME, referenceId="REF-1")


def test_each_party_sets_only_its_own_reference_id(api: Api) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    update_refused(api, ACME, {"dscoConversationId": cid, "retailerReferenceId": "X"}, "retailerReferenceId")
    update_refused(
        api, NORTHWIND, {"dscoConversationId": cid, "supplierReferenceId": "X"}, "supplierReferenceId"
    )
    changed = api.changed(ACME, {"dscoConversationId": cid, "supplierReferenceId": "ACME-9"})
    assert changed["supplierReferenceId"] == "ACME-9"
    changed = api.changed(NORTHWIND, {"dscoConversationId": cid, "retailerReferenceId": "NW-9"})
    assert changed["retailerReferenceId"] == "NW-9"
    assert changed["supplierReferenceId"] == "ACME-9"


def test_a_duplicate_reference_id_on_update_is_refused(api: Api) -> None:
    api.conversation(ACME, referenceId="ACME-1")
    other = api.conversation(NORTHWIND)["id"]
    update_refused(
        api, ACME, {"dscoConversationId": other, "supplierReferenceId": "ACME-1"}, "supplierReferenceId"
    )


def test_reference_ids_address_a_conversation_for_update_message_and_lists(api: Api) -> None:
    cid = api.conversation(NORTHWIND, referenceId="NW-1")["id"]
    api.changed(ACME, {"findByRetailerReferenceId": "NW-1", "supplierReferenceId": "ACME-1"})
    by_supplier_ref = api.changed(ACME, {"findBySupplierReferenceId": "ACME-1", "title": "Found by ref"})
    assert by_supplier_ref["id"] == cid
    by_retailer_ref = api.changed(
        NORTHWIND, {"findByRetailerReferenceId": "NW-1", "dueDate": "2023-05-02T00:00:00Z"}
    )
    assert by_retailer_ref["id"] == cid
    posted = api.post_message(NORTHWIND, {"retailerReferenceId": "NW-1", "message": "via my ref"})
    assert posted.status_code == 201
    assert posted.json is not None and posted.json["dscoConversationId"] == cid
    posted = api.post_message(ACME, {"supplierReferenceId": "ACME-1", "message": "via mine"})
    assert posted.status_code == 201
    assert posted.json is not None and posted.json["retailerReferenceId"] == "NW-1"
    assert posted.json["supplierReferenceId"] == "ACME-1"
    api.conversation(NORTHWIND, referenceId="NW-2")
    api.settle()
    assert api.conversation_ids(NORTHWIND, {"retailerReferenceId": "NW-1"}) == [cid]
    assert api.conversation_ids(ACME, {"supplierReferenceId": "ACME-1"}) == [cid]
    assert len(api.messages(NORTHWIND, {"retailerReferenceId": "NW-1"})) == 2
    assert len(api.messages(ACME, {"supplierReferenceId": "ACME-1"})) == 2


def test_a_changed_reference_id_frees_the_old_one(api: Api) -> None:
    first = api.conversation(NORTHWIND, referenceId="NW-1")["id"]
    api.changed(NORTHWIND, {"findByRetailerReferenceId": "NW-1", "retailerReferenceId": "NW-1b"})
    update_refused(
        api, NORTHWIND, {"findByRetailerReferenceId": "NW-1", "title": "x"}, "findByRetailerReferenceId"
    )
    second = api.conversation(NORTHWIND, referenceId="NW-1")["id"]
    assert api.changed(NORTHWIND, {"findByRetailerReferenceId": "NW-1", "title": "y"})["id"] == second
    assert api.changed(NORTHWIND, {"findByRetailerReferenceId": "NW-1b", "title": "z"})["id"] == first


def test_locators_naming_different_conversations_are_refused(api: Api) -> None:
    first = api.conversation(NORTHWIND, referenceId="NW-1")["id"]
    api.conversation(NORTHWIND, referenceId="NW-2")
    update_refused(
        api,
        NORTHWIND,
        {"dscoConversationId": first, "findByRetailerReferenceId": "NW-2", "title": "x"},
        "findByRetailerReferenceId",
    )


# --- a world without business objects checks contexts by shape only ---------------------------
@pytest.fixture
def bare_api(tmp_path: Path, contract: Contract) -> Api:
    """The default world's accounts and partners, with no items, invoices, returns or contracts."""
    document = json.loads(Path(default_world_path()).read_text("utf-8"))
    for kind in ("items", "invoices", "returns", "contracts"):
        document.pop(kind, None)
    path = tmp_path / "bare-world.json"
    path.write_text(json.dumps(document), "utf-8")
    app = create_app(
        ServerConfig(sandbox=SandboxConfig(rate_limit=False), world_path=path), contract=contract
    )
    app.test_client_class = CheckedClient
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    sandbox.clock.freeze()
    return Api(app.test_client(), sandbox)


@pytest.mark.parametrize(
    "context",
    [
        {"type": "catalog", "sku": "ANYTHING"},
        {"type": "inventory", "upc": "123456789012"},
        {"type": "invoice", "invoiceId": "ANY-INVOICE"},
        {"type": "return", "dscoReturnId": "ANY-RETURN"},
        {"type": "contract", "dscoContractId": "ANY-CONTRACT"},
    ],
    ids=lambda c: c["type"],
)
def test_a_world_without_such_objects_checks_the_context_by_shape_only(
    bare_api: Api, context: dict[str, str]
) -> None:
    created = bare_api.conversation(NORTHWIND, context=context)
    assert created["context"] == context


def test_a_world_without_such_objects_still_wants_an_identifier(bare_api: Api) -> None:
    for context in ({"type": "catalog"}, {"type": "return"}, {"type": "invoice"}):
        response = bare_api.create(
            NORTHWIND, {"title": "x", "otherPartyTradingPartnerId": "aaa-bbb-ccc", "context": context}
        )
        assert response.status_code == 400
        assert error_lines(response)[0].startswith("context")


def test_a_world_without_such_objects_still_resolves_orders(bare_api: Api) -> None:
    body = {
        "title": "x",
        "otherPartyTradingPartnerId": "aaa-bbb-ccc",
        "context": {"type": "order", "poNumber": "nope"},
    }
    assert bare_api.create(NORTHWIND, body).status_code == 400


def test_another_partys_reference_id_used_by_two_partners_is_refused_as_ambiguous(api: Api) -> None:
    """Reference ids are unique per owner only: Northwind and Contoso may both say "R-1" to Acme."""
    for retailer, partner in ((NORTHWIND, "aaa-bbb-ccc"), (CONTOSO, "acme-for-contoso")):
        body = {"title": "t", "otherPartyTradingPartnerId": partner, "referenceId": "R-1"}
        assert api.create(retailer, body).status_code == 201
    response = api.post_message(ACME, {"retailerReferenceId": "R-1", "message": "hi"})
    assert response.status_code == 400
    assert error_lines(response) == [
        "retailerReferenceId: 'R-1' is the reference id of conversations with 2 of your partners; "
        "use dscoConversationId"
    ]
