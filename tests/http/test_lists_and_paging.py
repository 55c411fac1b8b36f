"""getConversations filters, sorting, and scrolling through pages of both list operations.

Marked ``shared_store``: every test here also runs against two workers on one Redis, each request
going to the other worker than the last (tests/http/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest
from http_support import ACME, CONTOSO, GLOBEX, NORTHWIND, Api, error_lines

pytestmark = pytest.mark.shared_store


# --- the conversations used by the filter tests ---------------------------------------------
@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    """Six conversations of Northwind's, one second apart, then settled:

    c1  Northwind -> Acme    customer care 111, order context, replied (in_progress)
    c2  Northwind -> Globex  standard, account context, due yesterday (past due)
    c3  Acme -> Northwind    standard, catalog context, due tomorrow
    c4  Northwind -> Acme    customer care 222, closed, due yesterday
    c5  Northwind -> Acme    a test conversation
    c6  Contoso -> Acme      standard (not Northwind's)
    """
    ids: dict[str, Any] = {}
    ids["c1"] = api.customer_care(
        "111", referenceId="NW-1", context={"type": "order", "poNumber": "123-456-789"}
    )["id"]
    api.advance(1)
    ids["c2"] = api.conversation(
        NORTHWIND, otherPartyTradingPartnerId="ddd-eee-fff", dueDate=api.now_iso(-86400)
    )["id"]
    api.advance(1)
    ids["c3_at"] = api.now_iso()
    ids["c3"] = api.conversation(
        ACME,
        referenceId="ACME-3",
        context={"type": "catalog", "sku": "SKU-RED-SHOE-9"},
        dueDate=api.now_iso(86400),
    )["id"]
    api.advance(1)
    ids["c4"] = api.customer_care("222", dueDate=api.now_iso(-86400))["id"]
    api.changed(NORTHWIND, {"dscoConversationId": ids["c4"], "status": "closed"})
    api.advance(1)
    ids["c5"] = api.conversation(NORTHWIND, isTest=True)["id"]
    api.advance(1)
    ids["c6"] = api.conversation(CONTOSO)["id"]
    api.advance(1)
    ids["updated_at"] = api.now_iso()
    api.message(ACME, ids["c1"], "reply")
    api.settle()
    names = {ids[k]: k for k in ("c1", "c2", "c3", "c4", "c5", "c6")}
    ids["names"] = names
    return ids


def found(api: Api, world: dict[str, Any], who: str, body: dict[str, Any] | None = None) -> list[str]:
    return [world["names"][cid] for cid in api.conversation_ids(who, body)]


def test_each_party_lists_the_conversations_it_takes_part_in(api: Api, world: dict[str, Any]) -> None:
    assert found(api, world, NORTHWIND) == ["c1", "c2", "c3", "c4"]
    assert found(api, world, ACME) == ["c1", "c3", "c4", "c6"]
    assert found(api, world, GLOBEX) == ["c2"]
    assert found(api, world, CONTOSO) == ["c6"]


@pytest.mark.parametrize(
    ("who", "body", "expected"),
    [
        (NORTHWIND, {"statuses": ["new"]}, ["c2", "c3"]),
        (NORTHWIND, {"statuses": ["in_progress"]}, ["c1"]),
        (NORTHWIND, {"statuses": ["closed"]}, ["c4"]),
        (NORTHWIND, {"statuses": ["new", "closed"]}, ["c2", "c3", "c4"]),
        (NORTHWIND, {"statuses": []}, []),
        (NORTHWIND, {"contextTypes": ["order"]}, ["c1"]),
        (NORTHWIND, {"contextTypes": ["account", "catalog"]}, ["c2", "c3", "c4"]),
        (NORTHWIND, {"contextTypes": ["invoice"]}, []),
        (NORTHWIND, {"initiatedBy": "supplier"}, ["c3"]),
        (NORTHWIND, {"initiatedBy": "retailer"}, ["c1", "c2", "c4"]),
        (NORTHWIND, {"type": {"type": "customer_care"}}, ["c1", "c4"]),
        (NORTHWIND, {"type": {"type": "customer_care", "consumerId": "222"}}, ["c4"]),
        (NORTHWIND, {"type": {"type": "standard"}}, ["c2", "c3"]),
        (NORTHWIND, {"pastDue": True}, ["c2"]),
        (NORTHWIND, {"pastDue": False}, ["c3"]),
        # dueInNextMs (named by the vendor's pastDue description): c3 is due in a little under a day.
        (NORTHWIND, {"dueInNextMs": 86_400_000}, ["c3"]),
        (NORTHWIND, {"dueInNextMs": 3_600_000}, []),
        (NORTHWIND, {"pastDue": True, "dueInNextMs": 86_400_000}, ["c2", "c3"]),
        (NORTHWIND, {"pastDue": True, "dueInNextMs": 3_600_000}, ["c2"]),
        (NORTHWIND, {"pastDue": False, "dueInNextMs": 86_400_000}, ["c3"]),
        (NORTHWIND, {"conversationsUpdatedSince": "updated_at"}, ["c1"]),
        (NORTHWIND, {"conversationsUpdatedSince": "updated_at", "updatedSince": "updated_at"}, ["c1"]),
        (NORTHWIND, {"createdSince": "c3_at"}, ["c3", "c4"]),
        (NORTHWIND, {"updatedSince": "updated_at"}, ["c1"]),
        (ACME, {"updatedSince": "updated_at"}, ["c1"]),
        (NORTHWIND, {"updatedSince": "updated_at", "dscoConversationId": "c1"}, ["c1"]),
        (NORTHWIND, {"updatedSince": "updated_at", "dscoConversationId": "c2"}, []),
        (NORTHWIND, {"updatedSince": "updated_at", "retailerReferenceId": "NW-1"}, ["c1"]),
        (NORTHWIND, {"dscoAccountIds": ["2000002"]}, ["c2"]),
        (NORTHWIND, {"dscoAccountIds": ["2000001", "2000002"]}, ["c1", "c2", "c3", "c4"]),
        (ACME, {"dscoAccountIds": ["1000002"]}, ["c6"]),
        (NORTHWIND, {"dscoTradingPartnerIds": ["ddd-eee-fff"]}, ["c2"]),
        (NORTHWIND, {"dscoTradingPartnerIds": ["aaa-bbb-ccc"]}, ["c1", "c3", "c4"]),
        (ACME, {"dscoTradingPartnerIds": ["CONTOSO", "NW-RETAIL"]}, ["c1", "c3", "c4", "c6"]),
        (NORTHWIND, {"dscoSupplierId": "2000002"}, ["c2"]),
        (NORTHWIND, {"dscoSupplierTradingPartnerId": "aaa-bbb-ccc"}, ["c1", "c3", "c4"]),
        (NORTHWIND, {"dscoRetailerId": "1000001"}, ["c1", "c2", "c3", "c4"]),
        (ACME, {"dscoRetailerId": "1000002"}, ["c6"]),
        (ACME, {"dscoRetailerTradingPartnerId": "NW-RETAIL"}, ["c1", "c3", "c4"]),
        (ACME, {"dscoSupplierId": "2000001"}, ["c1", "c3", "c4", "c6"]),
        (NORTHWIND, {"dscoConversationId": "c3"}, ["c3"]),
        (NORTHWIND, {"supplierReferenceId": "ACME-3"}, ["c3"]),
        (ACME, {"retailerReferenceId": "NW-1"}, ["c1"]),
        (NORTHWIND, {"test": "test"}, ["c5"]),
        (NORTHWIND, {"test": "all"}, ["c1", "c2", "c3", "c4", "c5"]),
        (NORTHWIND, {"test": "legit"}, ["c1", "c2", "c3", "c4"]),
        (NORTHWIND, {"dscoConversationId": "c5"}, []),
        (NORTHWIND, {"dscoConversationId": "c5", "test": "test"}, ["c5"]),
        (NORTHWIND, {"sort": {"field": "create_date", "direction": "desc"}}, ["c4", "c3", "c2", "c1"]),
        (NORTHWIND, {"sort": {"field": "create_date", "direction": "asc"}}, ["c1", "c2", "c3", "c4"]),
        # Filters are ANDed.
        (NORTHWIND, {"statuses": ["new", "in_progress"], "initiatedBy": "retailer"}, ["c1", "c2"]),
        (NORTHWIND, {"type": {"type": "customer_care"}, "statuses": ["closed"]}, ["c4"]),
        (NORTHWIND, {"contextTypes": ["account"], "dscoSupplierId": "2000001"}, ["c4"]),
        (
            NORTHWIND,
            {"test": "all", "dscoTradingPartnerIds": ["aaa-bbb-ccc"], "createdSince": "c3_at"},
            ["c3", "c4", "c5"],
        ),
        (
            NORTHWIND,
            {"pastDue": True, "statuses": ["new"], "sort": {"field": "create_date", "direction": "desc"}},
            ["c2"],
        ),
        (NORTHWIND, {"dscoConversationId": "c1", "statuses": ["closed"]}, []),
    ],
)
def test_conversation_filters(
    api: Api, world: dict[str, Any], who: str, body: dict[str, Any], expected: list[str]
) -> None:
    body = {k: (world[v] if isinstance(v, str) and v in world else v) for k, v in body.items()}
    assert found(api, world, who, body) == expected


def test_created_since_and_until_bound_the_creation_time(api: Api, world: dict[str, Any]) -> None:
    c3 = api.conversations(NORTHWIND, {"dscoConversationId": world["c3"]})[0]
    assert found(api, world, NORTHWIND, {"createdSince": c3["createDate"], "until": c3["createDate"]}) == []
    assert found(api, world, NORTHWIND, {"until": c3["createDate"]}) == ["c1", "c2"]


@pytest.mark.parametrize(
    ("who", "body", "field"),
    [
        (
            NORTHWIND,
            {"dscoSupplierId": "2000001", "dscoSupplierTradingPartnerId": "aaa-bbb-ccc"},
            "dscoSupplierTradingPartnerId",
        ),
        (
            ACME,
            {"dscoRetailerId": "1000001", "dscoRetailerTradingPartnerId": "NW-RETAIL"},
            "dscoRetailerTradingPartnerId",
        ),
        (NORTHWIND, {"dscoRetailerTradingPartnerId": "NW-RETAIL"}, "dscoRetailerTradingPartnerId"),
        (ACME, {"dscoSupplierTradingPartnerId": "aaa-bbb-ccc"}, "dscoSupplierTradingPartnerId"),
        (NORTHWIND, {"dscoSupplierTradingPartnerId": "acme-for-contoso"}, "dscoSupplierTradingPartnerId"),
        (ACME, {"dscoRetailerId": "1000009"}, "dscoRetailerId"),
        (GLOBEX, {"dscoRetailerId": "1000002"}, "dscoRetailerId"),
        (NORTHWIND, {"dscoTradingPartnerIds": ["nope"]}, "dscoTradingPartnerIds[0]"),
        (GLOBEX, {"dscoConversationId": "c1"}, "dscoConversationId"),
        (NORTHWIND, {"dscoConversationId": "nope"}, "dscoConversationId"),
        (NORTHWIND, {"retailerReferenceId": "nope"}, "retailerReferenceId"),
        (NORTHWIND, {"dscoConversationId": "c1", "retailerReferenceId": "ACME-3"}, "retailerReferenceId"),
        (NORTHWIND, {"statuses": ["open"]}, "statuses[0]"),
        (NORTHWIND, {"contextTypes": "order"}, "contextTypes"),
        (NORTHWIND, {"initiatedBy": "consumer"}, "initiatedBy"),
        (NORTHWIND, {"pastDue": "yes"}, "pastDue"),
        (NORTHWIND, {"updatedSince": "2023-05-01"}, "updatedSince"),
        (NORTHWIND, {"dueInNextMs": -1}, "dueInNextMs"),
        (NORTHWIND, {"dueInNextMs": "soon"}, "dueInNextMs"),
        (
            NORTHWIND,
            {"conversationsUpdatedSince": "c3_at", "updatedSince": "updated_at"},
            "conversationsUpdatedSince",
        ),
        (NORTHWIND, {"sort": {"direction": "desc"}}, "sort.field"),
        (NORTHWIND, {"type": {"type": "urgent"}}, "type.type"),
    ],
)
def test_bad_conversation_queries_are_refused_naming_the_field(
    api: Api, world: dict[str, Any], who: str, body: dict[str, Any], field: str
) -> None:
    body = {k: (world[v] if isinstance(v, str) and v in world else v) for k, v in body.items()}
    response = api.list_conversations(who, body)
    assert response.status_code == 400
    assert error_lines(response)[0].startswith(f"{field}: "), error_lines(response)


def test_past_due_follows_the_clock(api: Api) -> None:
    cid = api.conversation(NORTHWIND, dueDate=api.now_iso(60))["id"]
    api.settle()
    assert api.conversation_ids(NORTHWIND, {"pastDue": True}) == []
    assert api.conversation_ids(NORTHWIND, {"pastDue": False}) == [cid]
    api.advance(60)
    assert api.conversation_ids(NORTHWIND, {"pastDue": True}) == [cid]
    assert api.conversation_ids(NORTHWIND, {"pastDue": False}) == []


def test_a_conversations_listed_state_is_its_latest(api: Api) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    api.settle()
    api.changed(ACME, {"dscoConversationId": cid, "title": "Renamed"})
    [seen] = api.conversations(NORTHWIND)
    assert seen["title"] == "Renamed"


# --- paging ---------------------------------------------------------------------------------
def page(api: Api, operation: str, who: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.call(operation, who, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert isinstance(response.json, dict)
    return response.json


def make_messages(api: Api, count: int) -> list[str]:
    cid = api.conversation(NORTHWIND)["id"]
    mids = []
    for i in range(count):
        mids.append(api.message(ACME if i % 2 else NORTHWIND, cid, f"m{i}")["dscoMessageId"])
        api.advance(0.01)
    api.settle()
    return mids


def make_conversations(api: Api, count: int) -> list[str]:
    cids = []
    for i in range(count):
        cids.append(api.conversation(NORTHWIND, title=f"c{i}")["id"])
        api.advance(0.01)
    api.settle()
    return cids


def test_seven_messages_come_as_pages_of_three_three_and_one(api: Api) -> None:
    api.sandbox.config.page_size = 3
    mids = make_messages(api, 7)
    first = page(api, "getConversationMessages", NORTHWIND, {})
    second = page(api, "getConversationMessages", NORTHWIND, {"scrollId": first["scrollId"]})
    third = page(api, "getConversationMessages", NORTHWIND, {"scrollId": second["scrollId"]})
    sizes = [len(p["messages"]) for p in (first, second, third)]
    assert sizes == [3, 3, 1]
    assert "scrollId" not in third
    ids = [m["dscoMessageId"] for p in (first, second, third) for m in p["messages"]]
    assert ids == mids
    assert len(set(ids)) == 7


def test_six_conversations_come_as_pages_of_three_three_then_an_empty_page(api: Api) -> None:
    api.sandbox.config.page_size = 3
    cids = make_conversations(api, 6)
    first = page(api, "getConversations", NORTHWIND, {})
    second = page(api, "getConversations", NORTHWIND, {"scrollId": first["scrollId"]})
    third = page(api, "getConversations", NORTHWIND, {"scrollId": second["scrollId"]})
    assert [len(p["conversations"]) for p in (first, second, third)] == [3, 3, 0]
    assert "scrollId" in first and "scrollId" in second and "scrollId" not in third
    assert [c["id"] for p in (first, second) for c in p["conversations"]] == cids


def test_a_descending_scroll_pages_newest_first(api: Api) -> None:
    api.sandbox.config.page_size = 3
    mids = make_messages(api, 7)
    assert api.message_ids(ACME, {"sort": {"field": "create_date", "direction": "desc"}}) == mids[::-1]


def test_an_empty_result_is_one_empty_page_without_scroll_id(api: Api) -> None:
    assert page(api, "getConversations", NORTHWIND, {}) == {"conversations": []}
    assert page(api, "getConversationMessages", NORTHWIND, {}) == {"messages": []}


def test_writes_between_pages_do_not_change_a_scroll(api: Api) -> None:
    api.sandbox.config.page_size = 3
    cids = make_conversations(api, 6)
    first = page(api, "getConversations", NORTHWIND, {})
    # A new conversation that would sort first, a change to one on the next page, a closed one.
    api.sandbox.clock.set(api.now() - 60_000_000)
    api.conversation(NORTHWIND, title="earlier")
    api.sandbox.clock.set(api.now() + 120_000_000)
    api.changed(NORTHWIND, {"dscoConversationId": cids[3], "title": "changed", "status": "closed"})
    api.conversation(NORTHWIND, title="later")
    api.settle()
    second = page(api, "getConversations", NORTHWIND, {"scrollId": first["scrollId"]})
    third = page(api, "getConversations", NORTHWIND, {"scrollId": second["scrollId"]})
    listed = [c for p in (first, second, third) for c in p["conversations"]]
    assert [c["id"] for c in listed] == cids
    assert listed[3]["title"] == "c3"
    assert listed[3]["status"] == "new"
    # A new query sees the changes.
    assert len(api.conversations(NORTHWIND)) == 8


def test_a_new_message_between_pages_does_not_change_a_message_scroll(api: Api) -> None:
    api.sandbox.config.page_size = 3
    mids = make_messages(api, 7)
    first = page(api, "getConversationMessages", ACME, {})
    cid = first["messages"][0]["dscoConversationId"]
    api.message(ACME, cid, "late")
    api.settle()
    rest = api.messages(ACME, {"scrollId": first["scrollId"]})
    assert [m["dscoMessageId"] for m in first["messages"] + rest] == mids


def test_a_scroll_id_can_be_replayed_for_the_same_page(api: Api) -> None:
    api.sandbox.config.page_size = 3
    make_messages(api, 7)
    first = page(api, "getConversationMessages", NORTHWIND, {})
    again = page(api, "getConversationMessages", NORTHWIND, {"scrollId": first["scrollId"]})
    once_more = page(api, "getConversationMessages", NORTHWIND, {"scrollId": first["scrollId"]})
    assert again["messages"] == once_more["messages"]


def test_a_scroll_id_ignores_every_other_field(api: Api) -> None:
    api.sandbox.config.page_size = 3
    cids = make_conversations(api, 6)
    first = page(api, "getConversations", NORTHWIND, {"statuses": ["new"]})
    other_fields = {
        "scrollId": first["scrollId"],
        "statuses": ["closed"],
        "until": api.now_iso(),  # too recent on its own
        "dscoConversationId": "nope",
        "dscoSupplierTradingPartnerId": "unknown",
        "dscoRetailerTradingPartnerId": "not-for-retailers",
        "sort": {"field": "create_date", "direction": "desc"},
        "test": "test",
    }
    second = page(api, "getConversations", NORTHWIND, other_fields)
    assert [c["id"] for c in second["conversations"]] == cids[3:]


def test_a_scroll_expires_five_minutes_after_its_first_page(api: Api) -> None:
    api.sandbox.config.page_size = 3
    make_conversations(api, 7)
    first = page(api, "getConversations", NORTHWIND, {})
    api.advance(299)
    second = page(api, "getConversations", NORTHWIND, {"scrollId": first["scrollId"]})
    api.advance(1.001)
    response = api.list_conversations(NORTHWIND, {"scrollId": second["scrollId"]})
    assert response.status_code == 404
    assert error_lines(response)[0].startswith(f"scrollId: {second['scrollId']!r}")
    assert api.list_conversations(NORTHWIND, {"scrollId": first["scrollId"]}).status_code == 404


def test_the_scroll_lifetime_follows_the_config(api: Api) -> None:
    api.sandbox.config.page_size = 3
    api.sandbox.config.scroll_ttl = 10
    make_messages(api, 4)
    first = page(api, "getConversationMessages", NORTHWIND, {})
    api.advance(10)
    assert api.list_messages(NORTHWIND, {"scrollId": first["scrollId"]}).status_code == 404


@pytest.mark.parametrize("operation", ["getConversations", "getConversationMessages"])
def test_an_unknown_scroll_id_is_404(api: Api, operation: str) -> None:
    response = api.call(operation, NORTHWIND, {"scrollId": "no-such-scroll"})
    assert response.status_code == 404
    assert error_lines(response)[0].startswith("scrollId: 'no-such-scroll'")


def test_another_accounts_scroll_id_is_404(api: Api) -> None:
    api.sandbox.config.page_size = 3
    make_messages(api, 7)
    first = page(api, "getConversationMessages", NORTHWIND, {})
    assert api.list_messages(ACME, {"scrollId": first["scrollId"]}).status_code == 404
    assert api.list_messages(CONTOSO, {"scrollId": first["scrollId"]}).status_code == 404
    # ... and the owner can still use it.
    assert page(api, "getConversationMessages", NORTHWIND, {"scrollId": first["scrollId"]})["messages"]


def test_a_message_scroll_id_is_not_a_conversation_scroll_id(api: Api) -> None:
    api.sandbox.config.page_size = 3
    make_messages(api, 7)
    first = page(api, "getConversationMessages", NORTHWIND, {})
    assert api.list_conversations(NORTHWIND, {"scrollId": first["scrollId"]}).status_code == 404


def test_the_default_page_size_is_100(api: Api) -> None:
    make_messages(api, 101)
    first = page(api, "getConversationMessages", NORTHWIND, {})
    assert len(first["messages"]) == 100
    second = page(api, "getConversationMessages", NORTHWIND, {"scrollId": first["scrollId"]})
    assert len(second["messages"]) == 1
    assert "scrollId" not in second
