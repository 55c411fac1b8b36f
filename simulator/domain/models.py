"""The things the sandbox knows about: the world (accounts, partners, orders and other business
objects) and what integrators create in it (conversations and messages).

World objects never change after loading. Conversations and messages are immutable too: an update
replaces the record, which is what lets a scroll keep a consistent snapshot for free — it simply
holds on to the records it saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["retailer", "supplier"]
Status = Literal["new", "in_progress", "closed"]
ConversationKind = Literal["standard", "customer_care"]
CustomerCareType = Literal["message_from_consumer", "response_to_consumer"]

References = tuple[str | None, str | None]
"""A conversation's (retailer, supplier) reference ids: all of it that its messages show."""

ITEM_ID_FIELDS = ("dscoItemId", "sku", "upc", "ean", "mpn", "isbn", "gtin", "partnerSku")


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    role: Role
    name: str
    client_id: str
    client_secret: str
    legacy_token: str
    webhook: Webhook | None = None


@dataclass(frozen=True, slots=True)
class TradingPartner:
    """How one account (``owner_id``) names another (``partner_id``)."""

    owner_id: str
    partner_id: str
    trading_partner_id: str
    name: str


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_number: int
    sku: str
    ids: dict[str, str] = field(default_factory=dict)
    """Every item identifier of the line (sku, dscoItemId, upc, ...), keyed by its API name."""
    consumer_line_number: int | None = None
    quantity: int | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    dsco_order_id: str
    po_number: str
    retailer_id: str
    supplier_id: str
    lines: tuple[OrderLine, ...]
    consumer_order_number: str | None = None
    supplier_order_number: str | None = None


@dataclass(frozen=True, slots=True)
class BusinessObject:
    """An item, invoice, return or contract: a bag of identifiers owned by a retailer/supplier pair.

    These only matter to the sandbox as things a conversation context can point at, so one shape
    serves all four; ``retailer_id`` is ``None`` for catalog items, which belong to a supplier alone.
    """

    kind: Literal["item", "invoice", "return", "contract"]
    ids: dict[str, str]
    supplier_id: str
    retailer_id: str | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    seq: int
    title: str
    kind: ConversationKind
    initiated_by: Role
    retailer_id: str
    supplier_id: str
    context: dict[str, Any]
    create_time: int
    last_update: int
    visible_at: int
    status: Status = "new"
    consumer_id: str | None = None
    retailer_reference_id: str | None = None
    supplier_reference_id: str | None = None
    initial_message: str | None = None
    due_date: int | None = None
    is_test: bool = False
    closed_date: int | None = None

    def party_role(self, account_id: str) -> Role | None:
        if account_id == self.retailer_id:
            return "retailer"
        if account_id == self.supplier_id:
            return "supplier"
        return None

    def other_party(self, account_id: str) -> str:
        return self.supplier_id if account_id == self.retailer_id else self.retailer_id

    @property
    def references(self) -> References:
        return (self.retailer_reference_id, self.supplier_reference_id)

    def reference_id(self, role: Role) -> str | None:
        return self.retailer_reference_id if role == "retailer" else self.supplier_reference_id


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    seq: int
    conversation_id: str
    text: str
    sender_id: str
    sender_role: Role
    recipient_id: str
    create_time: int
    visible_at: int
    is_test: bool = False
    customer_care_type: CustomerCareType | None = None
    consumer_id: str | None = None


_VERSION_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)


def uuid4_text(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))`` in less than half the time.

    Ids come from seeded generators (so a run repeats exactly), and a create makes three of them.
    """
    text = f"{(bits & _VERSION_MASK) | _VERSION_4:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
