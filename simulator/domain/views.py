"""How a conversation or message looks to one caller.

Several fields depend on who is asking: the trading-partner id and name fields are the *caller's*
names for the other party, and are left out where the vendor says they are not populated (a
retailer never sees ``dscoRetailerTradingPartnerId``; the sender of a message never sees
``dscoTradingPartnerId``). Rendering here, next to the rules, keeps that point of view in one place.
"""

from __future__ import annotations

import json
from typing import Any

from .answers import Answer, ConversationPage, MessagePage, ShownMessage
from .clock import format_rfc3339
from .models import Conversation, Message, References
from .world import World


def conversation_view(world: World, conversation: Conversation, viewer_id: str) -> dict[str, Any]:
    c = conversation
    view: dict[str, Any] = {"id": c.id, "title": c.title, "type": _type(c)}
    if c.retailer_reference_id is not None:
        view["retailerReferenceId"] = c.retailer_reference_id
    if c.supplier_reference_id is not None:
        view["supplierReferenceId"] = c.supplier_reference_id
    view["initiatedBy"] = c.initiated_by
    view["dscoRetailerId"] = c.retailer_id
    if viewer_id == c.supplier_id and (p := world.partner(viewer_id, c.retailer_id)):
        view["dscoRetailerTradingPartnerId"] = p.trading_partner_id
        view["dscoRetailerTradingPartnerName"] = p.name
    view["dscoSupplierId"] = c.supplier_id
    if viewer_id == c.retailer_id and (p := world.partner(viewer_id, c.supplier_id)):
        view["dscoSupplierTradingPartnerId"] = p.trading_partner_id
        view["dscoSupplierTradingPartnerName"] = p.name
    view["status"] = c.status
    view["context"] = _copy(c.context)  # a caller mutating its answer must not touch the store
    if c.initial_message is not None:
        view["initialMessage"] = {"message": c.initial_message}
    if c.due_date is not None:
        view["dueDate"] = format_rfc3339(c.due_date)
    view["isTest"] = c.is_test
    if c.is_test:
        view["testType"] = "customer"
    if c.closed_date is not None:
        view["closedDate"] = format_rfc3339(c.closed_date)
    view["createDate"] = format_rfc3339(c.create_time)
    view["lastUpdate"] = format_rfc3339(c.last_update)
    return view


def message_view(world: World, message: Message, references: References, viewer_id: str) -> dict[str, Any]:
    """``references``: the conversation's reference ids (as they are when the message is shown)."""
    m = message
    view: dict[str, Any] = {}
    if m.customer_care_type is not None:
        view["type"] = {
            "type": "customer_care",
            "customerCareType": m.customer_care_type,
            "consumerId": m.consumer_id,
        }
    view["dscoConversationId"] = m.conversation_id
    retailer_reference_id, supplier_reference_id = references
    if retailer_reference_id is not None:
        view["retailerReferenceId"] = retailer_reference_id
    if supplier_reference_id is not None:
        view["supplierReferenceId"] = supplier_reference_id
    view["dscoMessageId"] = m.id
    view["message"] = m.text
    view["accountType"] = m.sender_role
    view["dscoAccountId"] = m.sender_id
    if viewer_id != m.sender_id and (p := world.partner(viewer_id, m.sender_id)):
        view["dscoTradingPartnerId"] = p.trading_partner_id
        view["dscoTradingPartnerName"] = p.name
    view["recipientDscoAccountId"] = m.recipient_id
    if viewer_id != m.recipient_id and (p := world.partner(viewer_id, m.recipient_id)):
        view["recipientDscoTradingPartnerId"] = p.trading_partner_id
        view["recipientDscoTradingPartnerName"] = p.name
    view["isTest"] = m.is_test
    if m.is_test:
        view["testType"] = "customer"
    view["createDate"] = format_rfc3339(m.create_time)
    view["lastUpdate"] = format_rfc3339(m.create_time)
    return view


def _type(c: Conversation) -> dict[str, Any]:
    if c.kind == "customer_care":
        return {"type": "customer_care", "consumerId": c.consumer_id}
    return {"type": "standard"}


def _copy(value: Any) -> Any:
    """A deep copy of JSON data (several times faster than ``copy.deepcopy`` for this shape)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def answer_view(world: World, answer: Answer, viewer_id: str) -> dict[str, Any]:
    """An operation's answer as the JSON value the API sends, for callers that want dicts (tests,
    tools, the console, the personas). HTTP sends the same thing as text, built from each record's
    cached encoding (``http/presenter.py``)."""
    match answer:
        case Conversation():
            return conversation_view(world, answer, viewer_id)
        case ShownMessage(message, conversation):
            return message_view(world, message, conversation.references, viewer_id)
        case ConversationPage(conversations, scroll_id):
            views = [conversation_view(world, c, viewer_id) for c in conversations]
            return page_body("conversations", views, scroll_id)
        case MessagePage(messages, conversations, scroll_id):
            views = [
                message_view(world, m, conversations[m.conversation_id].references, viewer_id)
                for m in messages
            ]
            return page_body("messages", views, scroll_id)


def page_body(name: str, views: list[dict[str, Any]], scroll_id: str | None) -> dict[str, Any]:
    """A list answer: ``{"scrollId": ..., name: [...]}``, the scrollId only while there is one."""
    return {"scrollId": scroll_id, name: views} if scroll_id is not None else {name: views}


def encode_json(value: Any) -> str:
    """Compact JSON text, UTF-8 characters left as they are: what every answer is made of."""
    return _ENCODER.encode(value)


# ``json.dumps`` with options builds a new encoder on every call; this one is built once (it holds
# no state between calls).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
