"""How a conversation or message looks to one caller.

Several fields depend on who is asking: the trading-partner id and name fields are the *caller's*
names for the other party, and are left out where the vendor says they are not populated (a
retailer never sees ``dscoRetailerTradingPartnerId``; the sender of a message never sees
``dscoTradingPartnerId``). Rendering here, next to the rules, keeps that point of view in one place.
"""

from __future__ import annotations

from typing import Any

from .clock import format_rfc3339
from .models import Conversation, Message
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


def message_view(
    world: World, message: Message, conversation: Conversation, viewer_id: str
) -> dict[str, Any]:
    m = message
    view: dict[str, Any] = {}
    if m.customer_care_type is not None:
        view["type"] = {
            "type": "customer_care",
            "customerCareType": m.customer_care_type,
            "consumerId": m.consumer_id,
        }
    view["dscoConversationId"] = m.conversation_id
    if conversation.retailer_reference_id is not None:
        view["retailerReferenceId"] = conversation.retailer_reference_id
    if conversation.supplier_reference_id is not None:
        view["supplierReferenceId"] = conversation.supplier_reference_id
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
