"""The loaded world: who exists, who trades with whom, and the objects conversations talk about.

The world file's shape is checked against ``contracts/world.schema.json`` before it gets here; this
module turns the document into lookups and checks what a schema cannot (that ids are unique and that
every reference points at an account that exists).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from .errors import InvalidRequest, Problem
from .models import (
    ITEM_ID_FIELDS,
    Account,
    BusinessObject,
    Order,
    OrderLine,
    Role,
    TradingPartner,
    Webhook,
)

_ORDER_IDS = ("dscoOrderId", "poNumber", "supplierOrderNumber", "consumerOrderNumber")


@dataclass
class World:
    """Read-only lookups over one world document."""

    accounts: dict[str, Account]
    partners: dict[tuple[str, str], TradingPartner]
    orders: list[Order]
    objects: dict[str, list[BusinessObject]] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)
    """The document the world was loaded from, kept for state export."""

    def __post_init__(self) -> None:
        self._by_client = {a.client_id: a for a in self.accounts.values()}
        self._by_legacy = {a.legacy_token: a for a in self.accounts.values()}
        self._by_partner_ref = {(p.owner_id, p.trading_partner_id): p for p in self.partners.values()}
        self._orders_by = {name: _index_orders(self.orders, name) for name in _ORDER_IDS}

    # --- accounts and partners -------------------------------------------------------------
    def account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    def account_by_client_id(self, client_id: str) -> Account | None:
        return self._by_client.get(client_id)

    def account_by_legacy_token(self, token: str) -> Account | None:
        return self._by_legacy.get(token)

    def partner(self, owner_id: str, partner_id: str) -> TradingPartner | None:
        """How ``owner_id`` names ``partner_id``, if they trade with each other."""
        return self.partners.get((owner_id, partner_id))

    def partner_by_ref(self, owner_id: str, trading_partner_id: str) -> TradingPartner | None:
        """Resolve the owner's own trading-partner id for someone."""
        return self._by_partner_ref.get((owner_id, trading_partner_id))

    def trade(self, a: str, b: str) -> bool:
        """Whether two accounts have a trading relationship (seen from either side)."""
        return (a, b) in self.partners or (b, a) in self.partners

    # --- business objects ------------------------------------------------------------------
    def orders_matching(self, key: str, value: str) -> list[Order]:
        return self._orders_by[key].get(value, [])

    def has_objects(self, kind: str) -> bool:
        return bool(self.objects.get(kind))

    def objects_matching(self, kind: str, criteria: Mapping[str, str]) -> list[BusinessObject]:
        """Objects of one kind whose identifiers agree with every given criterion."""
        return [
            obj
            for obj in self.objects.get(kind, [])
            if all(obj.ids.get(name) == value for name, value in criteria.items())
        ]


def _index_orders(orders: Iterable[Order], key: str) -> dict[str, list[Order]]:
    index: dict[str, list[Order]] = {}
    for order in orders:
        value = {
            "dscoOrderId": order.dsco_order_id,
            "poNumber": order.po_number,
            "supplierOrderNumber": order.supplier_order_number,
            "consumerOrderNumber": order.consumer_order_number,
        }[key]
        if value is not None:
            index.setdefault(value, []).append(order)
    return index


def load_world(document: Mapping[str, Any]) -> World:
    """Build a :class:`World` from a schema-valid world document.

    Raises :class:`InvalidRequest` naming every reference that does not resolve, so that a broken
    world file is refused as a whole rather than failing later in the middle of a conversation.
    """
    problems: list[Problem] = []
    accounts: dict[str, Account] = {}
    account_list: list[Account] = []
    for raw in document.get("accounts", []):
        hook = raw.get("webhook")
        account = Account(
            id=raw["dscoAccountId"],
            role=cast(Role, raw["role"]),
            name=raw["name"],
            client_id=raw["clientId"],
            client_secret=raw["clientSecret"],
            legacy_token=raw["legacyToken"],
            webhook=Webhook(hook["url"], hook["secret"]) if hook else None,
        )
        account_list.append(account)
        accounts.setdefault(account.id, account)
    _require_unique(problems, "accounts[{}].dscoAccountId", [a.id for a in account_list])
    _require_unique(problems, "accounts[{}].clientId", [a.client_id for a in account_list])
    _require_unique(problems, "accounts[{}].legacyToken", [a.legacy_token for a in account_list])

    def check_account(path: str, account_id: str | None, role: Role | None = None) -> None:
        if account_id is None:
            return
        account = accounts.get(account_id)
        if account is None:
            problems.append(Problem(path, f"no account {account_id!r} in this world"))
        elif role is not None and account.role != role:
            problems.append(Problem(path, f"account {account_id!r} is a {account.role}, expected a {role}"))

    partners: dict[tuple[str, str], TradingPartner] = {}
    partner_list: list[TradingPartner] = []
    for i, raw in enumerate(document.get("tradingPartners", [])):
        partner = TradingPartner(
            raw["dscoAccountId"], raw["partnerDscoAccountId"], raw["tradingPartnerId"], raw["name"]
        )
        check_account(f"tradingPartners[{i}].dscoAccountId", partner.owner_id)
        check_account(f"tradingPartners[{i}].partnerDscoAccountId", partner.partner_id)
        owner, other = accounts.get(partner.owner_id), accounts.get(partner.partner_id)
        if owner and other and owner.role == other.role:
            problems.append(
                Problem(
                    f"tradingPartners[{i}]",
                    f"a trading partnership joins a retailer and a supplier, but {owner.id!r} and "
                    f"{other.id!r} are both {owner.role}s",
                )
            )
        partner_list.append(partner)
        partners.setdefault((partner.owner_id, partner.partner_id), partner)
    # One name per partner, and one partner per name: otherwise a trading-partner id is ambiguous.
    _require_unique(
        problems,
        "tradingPartners[{}].partnerDscoAccountId",
        [(p.owner_id, p.partner_id) for p in partner_list],
        lambda pair: f"account {pair[0]!r} already names a partner {pair[1]!r}",
    )
    _require_unique(
        problems,
        "tradingPartners[{}].tradingPartnerId",
        [(p.owner_id, p.trading_partner_id) for p in partner_list],
        lambda pair: f"account {pair[0]!r} already uses the trading partner id {pair[1]!r}",
    )

    orders: list[Order] = []
    for i, raw in enumerate(document.get("orders", [])):
        check_account(f"orders[{i}].dscoRetailerId", raw["dscoRetailerId"], "retailer")
        check_account(f"orders[{i}].dscoSupplierId", raw["dscoSupplierId"], "supplier")
        lines = tuple(
            OrderLine(
                line_number=line["lineNumber"],
                sku=line["sku"],
                ids={k: line[k] for k in ITEM_ID_FIELDS if k in line},
                consumer_line_number=line.get("consumerLineNumber"),
                quantity=line.get("quantity"),
                title=line.get("title"),
            )
            for line in raw["lines"]
        )
        _require_unique(problems, f"orders[{i}].lines[{{}}].lineNumber", [line.line_number for line in lines])
        orders.append(
            Order(
                dsco_order_id=raw["dscoOrderId"],
                po_number=raw["poNumber"],
                retailer_id=raw["dscoRetailerId"],
                supplier_id=raw["dscoSupplierId"],
                lines=lines,
                consumer_order_number=raw.get("consumerOrderNumber"),
                supplier_order_number=raw.get("supplierOrderNumber"),
            )
        )
    _require_unique(problems, "orders[{}].dscoOrderId", [o.dsco_order_id for o in orders])

    objects: dict[str, list[BusinessObject]] = {}
    for kind, collection, key in (
        ("item", "items", "dscoItemId"),
        ("invoice", "invoices", "dscoInvoiceId"),
        ("return", "returns", "dscoReturnId"),
        ("contract", "contracts", "dscoContractId"),
    ):
        found: list[BusinessObject] = []
        for i, raw in enumerate(document.get(collection, [])):
            check_account(f"{collection}[{i}].dscoSupplierId", raw["dscoSupplierId"], "supplier")
            check_account(f"{collection}[{i}].dscoRetailerId", raw.get("dscoRetailerId"), "retailer")
            ids = {
                k: str(v)
                for k, v in raw.items()
                if k not in ("dscoSupplierId", "dscoRetailerId", "title") and isinstance(v, str)
            }
            found.append(BusinessObject(kind, ids, raw["dscoSupplierId"], raw.get("dscoRetailerId")))  # type: ignore[arg-type]
        _require_unique(problems, f"{collection}[{{}}].{key}", [o.ids.get(key) for o in found])
        objects[kind] = found

    if problems:
        raise InvalidRequest(*problems, code="invalid_world")
    return World(accounts, partners, orders, objects, dict(document))


def _require_unique(
    problems: list[Problem],
    path: str,
    values: Iterable[Any],
    describe: Callable[[Any], str] | None = None,
) -> None:
    """Add a problem at ``path.format(index)`` for every value that repeats an earlier one."""
    seen: set[Any] = set()
    for i, value in enumerate(values):
        if value is None:
            continue
        if value in seen:
            message = describe(value) if describe else f"{value!r} appears more than once"
            problems.append(Problem(path.format(i), message))
        seen.add(value)
