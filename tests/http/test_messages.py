"""addConversationMessage and getConversationMessages: derived types, visibility, ``until`` and filters."""

from __future__ import annotations

from typing import Any

import pytest
from http_support import ACME, CONTOSO, GLOBEX, NORTHWIND, START_TEXT, Api, error_lines


# --- posting --------------------------------------------------------------------------------
def test_a_posted_message_is_answered_from_the_senders_point_of_view(api: Api) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    posted = api.message(ACME, cid, "Hi from Acme")
    assert posted["dscoConversationId"] == cid
    assert posted["message"] == "Hi from Acme"
    assert posted["accountType"] == "supplier"
    assert posted["dscoAccountId"] == "2000001"
    assert "dscoTradingPartnerId" not in posted  # the sender's own name for itself: never set
    assert posted["recipientDscoAccountId"] == "1000001"
    assert posted["recipientDscoTradingPartnerId"] == "NW-RETAIL"
    assert posted["recipientDscoTradingPartnerName"] == "Northwind Retail"
    assert posted["isTest"] is False
    assert posted["createDate"] == START_TEXT
    assert posted["lastUpdate"] == START_TEXT


def test_messages_of_a_standard_conversation_have_no_type(api: Api) -> None:
    cid = api.conversation(NORTHWIND, initialMessage={"message": "first"})["id"]
    assert "type" not in api.message(ACME, cid)
    api.settle()
    messages = api.messages(NORTHWIND)
    assert len(messages) == 2
    assert all("type" not in m for m in messages)


def test_a_customer_care_message_type_is_derived_from_the_sender(api: Api) -> None:
    cid = api.customer_care("C-9")["id"]
    from_retailer = api.message(NORTHWIND, cid, "The consumer adds something")
    from_supplier = api.message(ACME, cid, "Our answer")
    assert from_retailer["type"] == {
        "type": "customer_care",
        "customerCareType": "message_from_consumer",
        "consumerId": "C-9",
    }
    assert from_supplier["type"] == {
        "type": "customer_care",
        "customerCareType": "response_to_consumer",
        "consumerId": "C-9",
    }


def test_a_message_type_cannot_be_sent(api: Api) -> None:
    """The spec takes no type on addConversationMessage: it is ignored (and named in a warning)."""
    cid = api.customer_care()["id"]
    response = api.post_message(
        NORTHWIND,
        {
            "dscoConversationId": cid,
            "message": "x",
            "type": {"type": "customer_care", "customerCareType": "response_to_consumer"},
        },
    )
    assert response.status_code == 201
    assert response.json is not None
    assert response.json["type"]["customerCareType"] == "message_from_consumer"
    assert "type" in response.headers["X-Sandbox-Warning"]


def test_the_initial_message_is_a_message_of_the_conversation(api: Api) -> None:
    conversation = api.customer_care(initialMessage={"message": "Where is it?"})
    api.settle()
    [message] = api.messages(ACME)
    assert message["dscoConversationId"] == conversation["id"]
    assert message["message"] == "Where is it?"
    assert message["type"]["customerCareType"] == "message_from_consumer"
    assert message["createDate"] == conversation["createDate"]


def test_a_consumer_change_applies_to_later_messages(api: Api) -> None:
    cid = api.customer_care("111")["id"]
    api.changed(
        NORTHWIND, {"dscoConversationId": cid, "type": {"type": "customer_care", "consumerId": "222"}}
    )
    assert api.message(ACME, cid)["type"]["consumerId"] == "222"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": "no conversation"}, "dscoConversationId"),
        ({"dscoConversationId": "nope", "message": "x"}, "dscoConversationId"),
        ({"retailerReferenceId": "nope", "message": "x"}, "retailerReferenceId"),
        ({"supplierReferenceId": "nope", "message": "x"}, "supplierReferenceId"),
        ({"dscoConversationId": "CID"}, "message"),
        ({"dscoConversationId": "CID", "message": 5}, "message"),
    ],
)
def test_a_message_without_a_known_conversation_or_text_is_refused(
    api: Api, body: dict[str, Any], field: str
) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    body = {k: (cid if v == "CID" else v) for k, v in body.items()}
    before = api.snapshot()
    response = api.post_message(NORTHWIND, body)
    assert response.status_code == 400
    assert error_lines(response)[0].startswith(f"{field}: ")
    assert api.snapshot() == before


def test_messages_in_a_test_conversation_are_test_messages(api: Api) -> None:
    cid = api.conversation(NORTHWIND, isTest=True)["id"]
    posted = api.message(ACME, cid)
    assert posted["isTest"] is True
    assert posted["testType"] == "customer"


# --- visibility: lag and until --------------------------------------------------------------
def test_until_less_than_five_seconds_ago_is_refused_naming_until(api: Api) -> None:
    for operation in ("getConversations", "getConversationMessages"):
        response = api.call(operation, NORTHWIND, {"until": api.now_iso(-4.999)})
        assert response.status_code == 400
        [line] = error_lines(response)
        assert line.startswith(f"until: '{api.now_iso(-4.999)}' is less than 5 seconds before now")
        assert api.now_iso(-5) in line  # what to use instead
        response = api.call(operation, NORTHWIND, {"until": api.now_iso(+60)})
        assert response.status_code == 400
        response = api.call(operation, NORTHWIND, {"until": api.now_iso(-5)})
        assert response.status_code == 200


def test_an_absent_until_means_five_seconds_ago(api: Api) -> None:
    api.sandbox.config.lag_min = api.sandbox.config.lag_max = 0.0
    cid = api.conversation(NORTHWIND)["id"]
    mid = api.message(ACME, cid)["dscoMessageId"]
    api.advance(5)
    assert api.message_ids(NORTHWIND) == []  # created exactly at now - 5 s: until is exclusive
    assert api.conversation_ids(NORTHWIND) == []
    api.advance(0.001)
    assert api.message_ids(NORTHWIND) == [mid]
    assert api.conversation_ids(NORTHWIND) == [cid]


def test_an_explicit_until_excludes_later_messages(api: Api) -> None:
    cid = api.conversation(NORTHWIND)["id"]
    api.advance(10)
    first = api.message(ACME, cid)["dscoMessageId"]
    api.advance(10)
    api.message(ACME, cid)
    api.advance(10)
    assert api.message_ids(NORTHWIND, {"until": api.now_iso(-15)}) == [first]


def test_a_message_is_invisible_during_its_lag_and_visible_after(api: Api) -> None:
    api.sandbox.config.lag_min = api.sandbox.config.lag_max = 8.0
    cid = api.conversation(NORTHWIND)["id"]
    mid = api.message(ACME, cid)["dscoMessageId"]
    api.advance(7.999)
    assert api.message_ids(NORTHWIND) == []
    assert api.message_ids(NORTHWIND, {"dscoMessageId": mid}) == []
    assert api.message_ids(NORTHWIND, {"dscoConversationId": cid}) == []
    assert api.conversation_ids(NORTHWIND) == []
    api.advance(0.001)
    assert api.message_ids(NORTHWIND) == [mid]
    assert api.message_ids(NORTHWIND, {"dscoMessageId": mid}) == [mid]
    assert api.conversation_ids(NORTHWIND) == [cid]


def test_a_conversation_exists_at_once_even_before_it_is_listed(api: Api) -> None:
    """Writes are synchronous: the lag only hides the conversation from the list calls."""
    cid = api.conversation(NORTHWIND)["id"]
    assert api.message(ACME, cid)["dscoConversationId"] == cid
    assert api.changed(NORTHWIND, {"dscoConversationId": cid, "title": "renamed"})["title"] == "renamed"
    assert api.conversation_ids(NORTHWIND) == []


def test_a_random_lag_stays_within_the_configured_range(api: Api) -> None:
    """A lag under the 5 s margin cannot be seen through the API, so this peeks at the store."""
    api.sandbox.config.lag_min, api.sandbox.config.lag_max = 0.2, 3.0
    cid = api.conversation(NORTHWIND)["id"]
    mids = [api.message(ACME, cid, str(i))["dscoMessageId"] for i in range(50)]
    lags = set()
    for mid in mids:
        stored = api.sandbox.store.message(mid)
        assert stored is not None
        lags.add(stored.visible_at - stored.create_time)
    assert min(lags) >= 200_000
    assert max(lags) <= 3_000_000
    assert len(lags) > 10
    api.settle()
    assert api.message_ids(NORTHWIND, {"dscoConversationId": cid}) == mids


def test_polling_with_created_since_equal_to_the_previous_until_sees_each_message_once(api: Api) -> None:
    """The guide's recipe, run every 7 s while messages arrive every 0.5 s with a 0.2-3 s lag."""
    api.sandbox.config.lag_min, api.sandbox.config.lag_max = 0.2, 3.0
    cid = api.conversation(NORTHWIND)["id"]
    posted: list[str] = []
    seen: list[str] = []
    previous_until = START_TEXT
    for step in range(120):
        posted.append(api.message(NORTHWIND, cid, f"m{step}")["dscoMessageId"])
        api.advance(0.5)
        if step % 14 == 13:
            until = api.now_iso(-5)
            seen += api.message_ids(ACME, {"createdSince": previous_until, "until": until})
            previous_until = until
    api.advance(10)
    seen += api.message_ids(ACME, {"createdSince": previous_until, "until": api.now_iso(-5)})
    assert seen == posted


# --- filters of ConversationMessageQuery ----------------------------------------------------
@pytest.fixture
def talk(api: Api) -> dict[str, Any]:
    """Messages in three conversations, each at its own second, then settled.

    care1 (Northwind-Acme, customer care, consumer 111): m1 from Northwind (initial), m2 from Acme
    plain (Northwind-Globex, standard): m3 from Northwind (initial), m4 from Globex
    care2 (Contoso-Acme, customer care, consumer 111): m5 from Contoso (initial), m6 from Acme
    testconv (Northwind-Acme, a test conversation): m7 from Acme
    """
    ids: dict[str, Any] = {}
    care1 = api.customer_care("111", referenceId="NW-1", initialMessage={"message": "m1"})
    ids["care1"] = care1["id"]
    api.advance(1)
    ids["m2_at"] = api.now_iso()
    ids["m2"] = api.message(ACME, care1["id"], "m2")["dscoMessageId"]
    api.advance(1)
    plain = api.conversation(
        NORTHWIND, otherPartyTradingPartnerId="ddd-eee-fff", initialMessage={"message": "m3"}
    )
    ids["plain"] = plain["id"]
    api.advance(1)
    ids["m4"] = api.message(GLOBEX, plain["id"], "m4")["dscoMessageId"]
    api.advance(1)
    care2 = api.conversation(
        CONTOSO, type={"type": "customer_care", "consumerId": "111"}, initialMessage={"message": "m5"}
    )
    ids["care2"] = care2["id"]
    api.advance(1)
    ids["m6"] = api.message(ACME, care2["id"], "m6")["dscoMessageId"]
    api.advance(1)
    test = api.conversation(ACME, isTest=True)
    ids["testconv"] = test["id"]
    ids["m7"] = api.message(ACME, test["id"], "m7")["dscoMessageId"]
    api.settle()
    return ids


def texts(api: Api, who: str, body: dict[str, Any] | None = None) -> list[str]:
    return [m["message"] for m in api.messages(who, body)]


def test_each_party_sees_the_messages_of_its_own_conversations(api: Api, talk: dict[str, Any]) -> None:
    assert texts(api, NORTHWIND) == ["m1", "m2", "m3", "m4"]
    assert texts(api, ACME) == ["m1", "m2", "m5", "m6"]
    assert texts(api, GLOBEX) == ["m3", "m4"]
    assert texts(api, CONTOSO) == ["m5", "m6"]


def test_message_trading_partner_fields_are_from_the_callers_point_of_view(
    api: Api, talk: dict[str, Any]
) -> None:
    by_text = {m["message"]: m for m in api.messages(ACME)}
    assert by_text["m1"]["dscoTradingPartnerId"] == "NW-RETAIL"
    assert "recipientDscoTradingPartnerId" not in by_text["m1"]
    assert by_text["m5"]["dscoTradingPartnerId"] == "CONTOSO"
    assert by_text["m5"]["dscoTradingPartnerName"] == "Contoso Market"
    assert "dscoTradingPartnerId" not in by_text["m2"]
    assert by_text["m2"]["recipientDscoTradingPartnerId"] == "NW-RETAIL"
    by_text = {m["message"]: m for m in api.messages(NORTHWIND)}
    assert by_text["m2"]["dscoTradingPartnerId"] == "aaa-bbb-ccc"
    assert by_text["m4"]["dscoTradingPartnerId"] == "ddd-eee-fff"
    assert by_text["m4"]["dscoTradingPartnerName"] == "Globex Goods"
    assert by_text["m3"]["recipientDscoTradingPartnerId"] == "ddd-eee-fff"
    assert by_text["m1"]["retailerReferenceId"] == "NW-1"
    by_text = {m["message"]: m for m in api.messages(GLOBEX)}
    assert by_text["m3"]["dscoTradingPartnerId"] == "NORTHWIND"


@pytest.mark.parametrize(
    ("who", "body", "expected"),
    [
        (ACME, {"type": {"type": "customer_care"}}, ["m1", "m2", "m5", "m6"]),
        (
            ACME,
            {"type": {"type": "customer_care", "customerCareType": "message_from_consumer"}},
            ["m1", "m5"],
        ),
        (ACME, {"type": {"type": "customer_care", "customerCareType": "response_to_consumer"}}, ["m2", "m6"]),
        (NORTHWIND, {"type": {"type": "customer_care", "consumerId": "111"}}, ["m1", "m2"]),
        (NORTHWIND, {"type": {"type": "customer_care", "consumerId": "999"}}, []),
        (NORTHWIND, {"dscoConversationId": "plain"}, ["m3", "m4"]),
        (NORTHWIND, {"retailerReferenceId": "NW-1"}, ["m1", "m2"]),
        (ACME, {"retailerReferenceId": "NW-1"}, ["m1", "m2"]),
        (NORTHWIND, {"dscoAccountIds": ["2000002"]}, ["m3", "m4"]),
        (ACME, {"dscoAccountIds": ["1000001", "1000002"]}, ["m1", "m2", "m5", "m6"]),
        (ACME, {"dscoAccountIds": ["1000002"]}, ["m5", "m6"]),
        (NORTHWIND, {"dscoTradingPartnerIds": ["aaa-bbb-ccc"]}, ["m1", "m2"]),
        (ACME, {"dscoTradingPartnerIds": ["CONTOSO"]}, ["m5", "m6"]),
        (NORTHWIND, {"dscoSupplierId": "2000002"}, ["m3", "m4"]),
        (NORTHWIND, {"dscoRetailerId": "1000001"}, ["m1", "m2", "m3", "m4"]),
        (ACME, {"dscoRetailerId": "1000002"}, ["m5", "m6"]),
        (ACME, {"dscoSupplierId": "2000001"}, ["m1", "m2", "m5", "m6"]),
        (NORTHWIND, {"dscoSupplierTradingPartnerId": "aaa-bbb-ccc"}, ["m1", "m2"]),
        (ACME, {"dscoRetailerTradingPartnerId": "CONTOSO"}, ["m5", "m6"]),
        (ACME, {"createdSince": "m2_at"}, ["m2", "m5", "m6"]),
        (ACME, {"test": "test"}, ["m7"]),
        (ACME, {"test": "all"}, ["m1", "m2", "m5", "m6", "m7"]),
        (ACME, {"test": "legit"}, ["m1", "m2", "m5", "m6"]),
        (ACME, {"sort": {"field": "create_date", "direction": "desc"}}, ["m6", "m5", "m2", "m1"]),
        (ACME, {"sort": {"field": "create_date", "direction": "asc"}}, ["m1", "m2", "m5", "m6"]),
        # Filters are ANDed.
        (
            ACME,
            {
                "type": {"type": "customer_care", "customerCareType": "response_to_consumer"},
                "dscoRetailerId": "1000002",
            },
            ["m6"],
        ),
        (
            ACME,
            {
                "createdSince": "m2_at",
                "dscoAccountIds": ["1000001"],
                "sort": {"field": "create_date", "direction": "desc"},
            },
            ["m2"],
        ),
        (NORTHWIND, {"dscoConversationId": "plain", "dscoSupplierId": "2000001"}, []),
        (
            ACME,
            {"test": "all", "type": {"type": "customer_care"}, "dscoTradingPartnerIds": ["NW-RETAIL"]},
            ["m1", "m2"],
        ),
    ],
)
def test_message_filters(
    api: Api, talk: dict[str, Any], who: str, body: dict[str, Any], expected: list[str]
) -> None:
    body = {k: (talk[v] if isinstance(v, str) and v in talk else v) for k, v in body.items()}
    assert texts(api, who, body) == expected


def test_a_message_is_found_by_its_dsco_message_id(api: Api, talk: dict[str, Any]) -> None:
    assert texts(api, NORTHWIND, {"dscoMessageId": talk["m4"]}) == ["m4"]
    assert texts(api, GLOBEX, {"dscoMessageId": talk["m4"], "dscoConversationId": talk["plain"]}) == ["m4"]


@pytest.mark.parametrize(
    ("who", "body", "field"),
    [
        (CONTOSO, {"dscoMessageId": "m2"}, "dscoMessageId"),
        (NORTHWIND, {"dscoMessageId": "no-such-message"}, "dscoMessageId"),
        (GLOBEX, {"dscoConversationId": "care1"}, "dscoConversationId"),
        (CONTOSO, {"retailerReferenceId": "NW-1"}, "retailerReferenceId"),
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
        (NORTHWIND, {"dscoSupplierTradingPartnerId": "nope"}, "dscoSupplierTradingPartnerId"),
        (NORTHWIND, {"dscoSupplierId": "2999999"}, "dscoSupplierId"),
        (CONTOSO, {"dscoSupplierId": "2000002"}, "dscoSupplierId"),
        (NORTHWIND, {"dscoTradingPartnerIds": ["aaa-bbb-ccc", "nope"]}, "dscoTradingPartnerIds[1]"),
        (NORTHWIND, {"type": {"type": "standard"}}, "type.type"),
        (NORTHWIND, {"sort": {"field": "create_date", "direction": "up"}}, "sort.direction"),
        (NORTHWIND, {"sort": {"field": "title", "direction": "asc"}}, "sort.field"),
        (NORTHWIND, {"test": "none"}, "test"),
        (NORTHWIND, {"createdSince": "yesterday"}, "createdSince"),
    ],
)
def test_bad_message_queries_are_refused_naming_the_field(
    api: Api, talk: dict[str, Any], who: str, body: dict[str, Any], field: str
) -> None:
    body = {k: (talk[v] if isinstance(v, str) and v in talk else v) for k, v in body.items()}
    response = api.list_messages(who, body)
    assert response.status_code == 400
    assert error_lines(response)[0].startswith(f"{field}: "), error_lines(response)


def test_a_retailer_filtering_by_its_own_retailer_id_sees_everything(api: Api, talk: dict[str, Any]) -> None:
    assert texts(api, CONTOSO, {"dscoRetailerId": "1000002"}) == ["m5", "m6"]
