"""How a conversation or message looks to one caller.

Several fields depend on who is asking: the trading-partner id and name fields are the *caller's*
names for the other party, and are left out where the vendor says they are not populated (a
retailer never sees ``dscoRetailerTradingPartnerId``; the sender of a message never sees
``dscoTradingPartnerId``). Rendering here, next to the rules, keeps that point of view in one place.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

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
    """``references``: the conversation's reference ids as the caller should see them (a scroll
    shows them as they were when it opened)."""
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


class EncodedViews:
    """Views already encoded as JSON text, per record version and viewer, for list pages.

    A page of 100 items costs far more to build and encode than anything else a call does, and
    the same items are listed again and again (every poll, every page of every scroll). Records are
    immutable — an update replaces the record — so the text of a (record, viewer) pair never goes
    stale; it is keyed by the record objects' identities and holds them, so an identity cannot be
    reused while its entry lives. The cache is bounded, oldest entry out first.
    """

    def __init__(self, world: World, size: int = 4096) -> None:
        self._world = world
        self._size = size
        # An OrderedDict, not a dict: evicting a plain dict's first key scans past every slot
        # deleted before it, several microseconds per insert once the cache is full.
        self._texts: OrderedDict[tuple[int, str], tuple[object, object, str]] = OrderedDict()

    def conversation(self, conversation: Conversation, viewer_id: str) -> str:
        key = (id(conversation), viewer_id)
        hit = self._texts.get(key)
        if hit is not None and hit[0] is conversation:
            return hit[2]
        text = encode_json(conversation_view(self._world, conversation, viewer_id))
        self._keep(key, (conversation, None, text))
        return text

    def message(self, message: Message, references: References, viewer_id: str) -> str:
        # A message shows its conversation's reference ids and nothing else of it, so those are
        # what an entry is checked against (a new conversation record must not make it miss).
        key = (id(message), viewer_id)
        hit = self._texts.get(key)
        if hit is not None and hit[0] is message and hit[1] == references:
            return hit[2]
        text = encode_json(message_view(self._world, message, references, viewer_id))
        self._keep(key, (message, references, text))
        return text

    def _keep(self, key: tuple[int, str], entry: tuple[object, object, str]) -> None:
        texts = self._texts
        texts[key] = entry
        if len(texts) > self._size:
            texts.popitem(last=False)


def encode_page(name: str, texts: list[str], scroll_id: str | None) -> str:
    """A list answer from encoded items: ``{"scrollId": ..., name: [...]}`` as the vendor orders it."""
    items = f'"{name}":[{",".join(texts)}]'
    return f'{{"scrollId":{encode_json(scroll_id)},{items}}}' if scroll_id is not None else f"{{{items}}}"


def encode_json(value: Any) -> str:
    """Compact JSON text, UTF-8 characters left as they are: what every answer is made of."""
    return _ENCODER.encode(value)


# ``json.dumps`` with options builds a new encoder on every call; this one is built once (it holds
# no state between calls).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
