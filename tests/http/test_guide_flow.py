"""The vendor guide's Customer Care flow, end to end, with the guide's own identifiers and times.

The guide's sample JSON has typos (missing and trailing commas), its timestamps are malformed, its
title is one character over the limit and it sends an ``originatesFromExternal`` field the spec does
not know; everything else is used exactly as written.
"""

from __future__ import annotations

from typing import Any

from http_support import ACME, GLOBEX, NORTHWIND, Api, error_lines

from simulator.domain.clock import parse_rfc3339

GUIDE_TITLE = "Late order complaint from end consumer on Order 123"  # 51 characters
SHORT_TITLE = "Late order complaint from consumer on Order 123"


def guide_create_body(title: str = SHORT_TITLE) -> dict[str, Any]:
    return {
        "otherPartyTradingPartnerId": "aaa-bbb-ccc",
        "title": title,
        "type": {"type": "customer_care", "consumerId": "12345"},
        "context": {"type": "order", "poNumber": "123-456-789"},
        "initialMessage": {"message": "Why is my order late?"},
    }


def at(text: str) -> int:
    instant = parse_rfc3339(text)
    assert instant is not None
    return instant


def test_the_guides_sample_title_is_one_character_too_long(api: Api) -> None:
    assert len(GUIDE_TITLE) == 51
    response = api.create(NORTHWIND, guide_create_body(GUIDE_TITLE))
    assert response.status_code == 400
    assert error_lines(response) == ["title: 51 characters, at most 50 allowed"]


def test_the_guides_originates_from_external_is_ignored_and_named_in_a_warning(api: Api) -> None:
    body = guide_create_body()
    body["initialMessage"]["originatesFromExternal"] = True
    response = api.create(NORTHWIND, body)
    assert response.status_code == 201
    assert "initialMessage.originatesFromExternal" in response.headers["X-Sandbox-Warning"]


def test_the_guides_malformed_timestamps_are_refused_naming_each_field(api: Api) -> None:
    response = api.list_messages(
        ACME,
        {
            "type": {"type": "customer_care"},
            "createdSince": "2023:05:01T9:29:55.0000Z",
            "until": "2023:05:01T09:59:55.0000Z",
        },
    )
    assert response.status_code == 400
    lines = error_lines(response)
    assert len(lines) == 2
    assert lines[0].startswith("createdSince: '2023:05:01T9:29:55.0000Z' is not an RFC 3339 date-time")
    assert lines[1].startswith("until: '2023:05:01T09:59:55.0000Z' is not an RFC 3339 date-time")


def test_customer_care_flow_from_consumer_message_to_closed_conversation(api: Api) -> None:
    # 09:45 the retailer forwards the consumer's message.
    api.sandbox.clock.set(at("2023-05-01T09:45:00Z"))
    token = api.fetch_token(NORTHWIND, "retailer-demo-secret")
    assert token.status_code == 200
    assert token.json is not None
    headers = {"Authorization": f"Bearer {token.json['access_token']}"}
    created = api.client.post("/api/v3/conversation", json=guide_create_body(), headers=headers)
    assert created.status_code == 201
    conversation = created.json
    assert conversation is not None
    assert conversation["status"] == "new"
    assert conversation["initiatedBy"] == "retailer"
    assert conversation["type"] == {"type": "customer_care", "consumerId": "12345"}
    assert conversation["dscoRetailerId"] == "1000001"
    assert conversation["dscoSupplierId"] == "2000001"
    assert conversation["dscoSupplierTradingPartnerId"] == "aaa-bbb-ccc"
    assert "dscoRetailerTradingPartnerId" not in conversation
    assert conversation["context"] == {
        "type": "order",
        "dscoOrderId": "9000001",
        "poNumber": "123-456-789",
        "supplierOrderNumber": "ACME-5001",
        "consumerOrderNumber": "C-123",
    }
    assert conversation["initialMessage"] == {"message": "Why is my order late?"}

    # 10:00 the supplier polls for what arrived since its last check at 09:29:55.
    api.sandbox.clock.set(at("2023-05-01T10:00:00Z"))
    poll = {
        "type": {"type": "customer_care"},
        "createdSince": "2023-05-01T09:29:55.0000Z",
        "until": "2023-05-01T09:59:55.0000Z",
    }
    found = api.list_messages(ACME, poll)
    assert found.status_code == 200
    assert found.json is not None
    assert "scrollId" not in found.json
    [message] = found.json["messages"]
    assert message["dscoConversationId"] == conversation["id"]
    assert message["message"] == "Why is my order late?"
    assert message["type"] == {
        "type": "customer_care",
        "customerCareType": "message_from_consumer",
        "consumerId": "12345",
    }
    assert message["accountType"] == "retailer"
    assert message["dscoAccountId"] == "1000001"
    assert message["dscoTradingPartnerId"] == "NW-RETAIL"
    assert message["dscoTradingPartnerName"] == "Northwind Retail"
    assert message["recipientDscoAccountId"] == "2000001"
    assert "recipientDscoTradingPartnerId" not in message

    # The supplier sees the conversation under its own name for the retailer.
    [seen] = api.conversations(ACME, {"dscoConversationId": conversation["id"], "until": poll["until"]})
    assert seen["dscoRetailerTradingPartnerId"] == "NW-RETAIL"
    assert "dscoSupplierTradingPartnerId" not in seen

    # Another supplier (Globex) sees nothing of it.
    assert api.messages(GLOBEX, poll) == []

    # 10:01 the supplier answers, addressing the conversation by the id it found in the message.
    api.sandbox.clock.set(at("2023-05-01T10:01:00Z"))
    answer = api.post_message(
        ACME,
        {
            "dscoConversationId": message["dscoConversationId"],
            "message": "We're sorry that your order is late. Your options are...",
        },
    )
    assert answer.status_code == 201
    assert answer.json is not None
    assert answer.json["type"] == {
        "type": "customer_care",
        "customerCareType": "response_to_consumer",
        "consumerId": "12345",
    }
    assert answer.json["accountType"] == "supplier"
    assert answer.json["recipientDscoTradingPartnerId"] == "NW-RETAIL"
    [in_progress] = api.conversations(ACME, {"dscoConversationId": conversation["id"]})
    assert in_progress["status"] == "in_progress"

    # 10:02 the supplier closes the conversation.
    api.sandbox.clock.set(at("2023-05-01T10:02:00Z"))
    closed = api.changed(ACME, {"dscoConversationId": conversation["id"], "status": "closed"})
    assert closed["status"] == "closed"
    assert closed["closedDate"] == "2023-05-01T10:02:00.000Z"
    assert closed["lastUpdate"] == "2023-05-01T10:02:00.000Z"

    # 10:30 the retailer polls for customer care messages and finds the response.
    api.sandbox.clock.set(at("2023-05-01T10:30:00Z"))
    replies = api.messages(
        NORTHWIND,
        {
            "type": {"type": "customer_care", "customerCareType": "response_to_consumer"},
            "createdSince": "2023-05-01T09:59:55Z",
            "until": "2023-05-01T10:29:55Z",
        },
    )
    assert [r["dscoMessageId"] for r in replies] == [answer.json["dscoMessageId"]]
    reply = replies[0]
    assert reply["message"] == "We're sorry that your order is late. Your options are..."
    assert reply["dscoTradingPartnerId"] == "aaa-bbb-ccc"
    assert reply["dscoTradingPartnerName"] == "Acme Supply Co"
    assert reply["recipientDscoAccountId"] == "1000001"
    assert "recipientDscoTradingPartnerId" not in reply
    [final] = api.conversations(NORTHWIND, {"dscoConversationId": conversation["id"]})
    assert final["status"] == "closed"
    assert final["closedDate"] == "2023-05-01T10:02:00.000Z"


def test_polling_before_the_five_second_margin_has_passed_is_refused(api: Api) -> None:
    api.sandbox.clock.set(at("2023-05-01T10:00:00Z"))
    response = api.list_messages(ACME, {"type": {"type": "customer_care"}, "until": "2023-05-01T09:59:57Z"})
    assert response.status_code == 400
    [line] = error_lines(response)
    assert line.startswith("until: '2023-05-01T09:59:57Z' is less than 5 seconds before now")


def test_a_supplier_that_does_not_fulfil_the_order_cannot_be_sent_the_complaint(api: Api) -> None:
    body = guide_create_body()
    body["otherPartyTradingPartnerId"] = "ddd-eee-fff"  # Globex, not the order's supplier
    response = api.create(NORTHWIND, body)
    assert response.status_code == 400
    [line] = error_lines(response)
    assert line.startswith("context: ")
    assert "123-456-789" in line
