"""Resolving what a conversation is about.

An order context must name an order of this retailer that this supplier fulfils (the guide insists
the supplier who receives the feedback is the order's supplier), and an optional line item must be
one of that order's lines. Other contexts resolve against the world when it holds objects of that
kind, and are checked for shape only when it holds none, so a small custom world still works.

The stored context is what the caller sent, completed with the identifiers of the object it
resolved to, so that the other party sees the order under its own numbers too. Fields a context
shape does not define are dropped: they are never stored or echoed.

The vendor's prose names the supplier fields ``dscoAccountId`` and ``dscoTradingPartnerId`` in the
order, catalog and inventory contexts (its schema omits them): a retailer that names an order by
``supplierOrderNumber`` must give one of them, since supplier order numbers are unique per supplier
only. They only help find the object: one that names anyone but the conversation's supplier is
refused, and neither is stored, as the conversation names its supplier already.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .errors import InvalidRequest
from .models import ITEM_ID_FIELDS, BusinessObject, Order, OrderLine
from .world import World

ORDER_ID_FIELDS = ("dscoOrderId", "poNumber", "supplierOrderNumber", "consumerOrderNumber")
_ORDER_ATTRS: Mapping[str, str] = MappingProxyType(
    {
        "dscoOrderId": "dsco_order_id",
        "poNumber": "po_number",
        "supplierOrderNumber": "supplier_order_number",
        "consumerOrderNumber": "consumer_order_number",
    }
)
_RETURN_ID_FIELDS = ("dscoReturnId", "supplierReturnNumber", "retailerReturnNumber")
_INVOICE_ID_FIELDS = ("dscoInvoiceId", "invoiceId")
_INVOICE_FIELDS = (*_INVOICE_ID_FIELDS, "poNumber", "supplierOrderNumber", "consumerOrderNumber")
# The fields each context shape defines (besides ``type``), as the contract's context schemas do.
_CONTEXT_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "account": (),
        "order": (*ORDER_ID_FIELDS, "lineItem", "dscoAccountId", "dscoTradingPartnerId"),
        "catalog": (*ITEM_ID_FIELDS, "dscoAccountId", "dscoTradingPartnerId"),
        "inventory": (*ITEM_ID_FIELDS, "dscoAccountId", "dscoTradingPartnerId"),
        "contract": ("dscoContractId",),
        "invoice": _INVOICE_FIELDS,
        "return": (*_RETURN_ID_FIELDS, "dscoOrderId", "poNumber"),
    }
)
_LINE_ITEM_FIELDS = (*ITEM_ID_FIELDS, "lineNumber", "consumerLineNumber")
SUPPLIER_FIELDS = ("dscoAccountId", "dscoTradingPartnerId")
"""The fields naming the supplier in the contexts whose objects belong to one (order, catalog, inventory)."""
_RETURN_PROSE_NAMES = ("returnNumber", "partnerReturnNumber")
"""Names the vendor's return-context description uses for fields its schema calls otherwise."""


def resolve_context(
    world: World,
    context: Mapping[str, Any] | None,
    retailer_id: str,
    supplier_id: str,
    caller_id: str,
) -> dict[str, Any]:
    """Check ``context`` against the world for a conversation between the two accounts, opened by
    ``caller_id`` (one of them)."""
    if context is None:
        return {"type": "account"}
    kind = context["type"]
    if kind == "return":
        _check_return_names(context)
    context = _known(context, ("type", *_CONTEXT_FIELDS.get(kind, ())))
    if kind in ("order", "catalog", "inventory"):
        _check_supplier(world, context, supplier_id, caller_id)
        context = {name: value for name, value in context.items() if name not in SUPPLIER_FIELDS}
    if kind == "order":
        return _order_context(world, context, retailer_id, supplier_id)
    if kind in ("catalog", "inventory"):
        given = _given(context, ITEM_ID_FIELDS)
        if not given:
            raise _missing("context", ITEM_ID_FIELDS, f"a {kind} context")
        obj = _resolve_object(world, "item", given, retailer_id=None, supplier_id=supplier_id, what="item")
        return _completed(context, obj, ("dscoItemId",))
    if kind == "contract":
        obj = _resolve_object(
            world, "contract", _given(context, ("dscoContractId",)), retailer_id, supplier_id, "contract"
        )
        return dict(context) if obj is None else _completed(context, obj, ())
    if kind == "invoice":
        given = _given(context, _INVOICE_ID_FIELDS)
        if not given:
            raise _missing("context", _INVOICE_ID_FIELDS, "an invoice context")
        obj = _resolve_object(world, "invoice", given, retailer_id, supplier_id, "invoice")
        return _completed(context, obj, ("dscoInvoiceId", "invoiceId", "poNumber"))
    if kind == "return":
        given = _given(context, _RETURN_ID_FIELDS)
        if not given:
            raise _missing("context", _RETURN_ID_FIELDS, "a return context")
        obj = _resolve_object(world, "return", given, retailer_id, supplier_id, "return")
        return _completed(context, obj, ("dscoReturnId", "dscoOrderId", "poNumber"))
    return dict(context)


def _check_supplier(world: World, context: Mapping[str, Any], supplier_id: str, caller_id: str) -> None:
    """The prose's supplier fields: required with a retailer's supplierOrderNumber, and when given,
    naming the conversation's supplier."""
    caller = world.account(caller_id)
    given = _given(context, SUPPLIER_FIELDS)
    if (
        context.get("type") == "order"
        and context.get("supplierOrderNumber") is not None
        and caller is not None
        and caller.role == "retailer"
        and not given
    ):
        raise InvalidRequest.at(
            "context.dscoAccountId",
            "required when a retailer names the order by supplierOrderNumber: give dscoAccountId or "
            "dscoTradingPartnerId of the order's supplier (supplier order numbers are unique per "
            "supplier only)",
            code="context_supplier_missing",
        )
    by_id = given.get("dscoAccountId")
    if by_id is not None and by_id != supplier_id:
        raise InvalidRequest.at(
            "context.dscoAccountId",
            f"{by_id!r} is not the Dsco account id of this conversation's supplier ({supplier_id})",
            code="context_wrong_supplier",
        )
    by_ref = given.get("dscoTradingPartnerId")
    if by_ref is not None:
        partner = world.partner_by_ref(caller_id, by_ref)
        if partner is None or partner.partner_id != supplier_id:
            raise InvalidRequest.at(
                "context.dscoTradingPartnerId",
                f"{by_ref!r} is not your trading partner id for this conversation's supplier ({supplier_id})",
                code="context_wrong_supplier",
            )


def _check_return_names(context: Mapping[str, Any]) -> None:
    """A return context named only by the prose's words gets an answer that points to the schema's."""
    if _given(context, _RETURN_ID_FIELDS):
        return
    used = [name for name in _RETURN_PROSE_NAMES if context.get(name) is not None]
    if used:
        raise InvalidRequest.at(
            f"context.{used[0]}",
            f"not a field of the return context; name the return with one of {', '.join(_RETURN_ID_FIELDS)}",
            code="context_incomplete",
        )


def _known(fields: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Only the fields a shape defines: unknown ones are ignored, never stored."""
    return {name: fields[name] for name in names if name in fields}


def _given(context: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: context[name] for name in names if context.get(name) is not None}


def _missing(field: str, names: tuple[str, ...], what: str) -> InvalidRequest:
    return InvalidRequest.at(field, f"{what} needs one of {', '.join(names)}", code="context_incomplete")


def _completed(
    context: Mapping[str, Any], obj: BusinessObject | None, fill: tuple[str, ...]
) -> dict[str, Any]:
    result = dict(context)
    if obj is not None:
        for name in fill:
            if name in obj.ids and name not in result:
                result[name] = obj.ids[name]
    return result


def _resolve_object(
    world: World,
    kind: str,
    given: dict[str, str],
    retailer_id: str | None,
    supplier_id: str,
    what: str,
) -> BusinessObject | None:
    if not world.has_objects(kind):
        return None  # the world holds no such objects: shape-only check
    matches = [
        o
        for o in world.objects_matching(kind, given)
        if o.supplier_id == supplier_id and (retailer_id is None or o.retailer_id in (None, retailer_id))
    ]
    if not matches:
        described = ", ".join(f"{k} {v!r}" for k, v in given.items())
        raise InvalidRequest.at(
            "context",
            f"no {what} with {described} between the two parties of this conversation",
            code="context_not_found",
        )
    return matches[0]


def _order_context(
    world: World, context: Mapping[str, Any], retailer_id: str, supplier_id: str
) -> dict[str, Any]:
    given = _given(context, ORDER_ID_FIELDS)
    if not given:
        raise _missing("context", ORDER_ID_FIELDS, "an order context")
    first_field, first_value = next(iter(given.items()))
    candidates = [
        order
        for order in world.orders_matching(first_field, first_value)
        if all(getattr(order, _ORDER_ATTRS[name]) == value for name, value in given.items())
    ]
    described = ", ".join(f"{k} {v!r}" for k, v in given.items())
    if not candidates:
        raise InvalidRequest.at(
            f"context.{first_field}", f"no order with {described}", code="order_not_found"
        )
    ours = [o for o in candidates if o.retailer_id == retailer_id and o.supplier_id == supplier_id]
    if not ours:
        raise InvalidRequest.at(
            "context",
            f"the order with {described} is not an order of retailer {retailer_id} fulfilled by supplier "
            f"{supplier_id}; an order conversation must be with the order's own supplier",
            code="order_wrong_party",
        )
    order = ours[0]
    result = dict(context)
    for name, attr in _ORDER_ATTRS.items():
        value = getattr(order, attr)
        if value is not None:
            result[name] = value
    if context.get("lineItem") is not None:
        result["lineItem"] = _line_item(order, context["lineItem"])
    return result


def _line_item(order: Order, wanted: Mapping[str, Any]) -> dict[str, Any]:
    item_ids = _given(wanted, ITEM_ID_FIELDS)
    if not item_ids:
        raise _missing("context.lineItem", ITEM_ID_FIELDS, "a line item")

    def matches(line: OrderLine) -> bool:
        if any(line.ids.get(name) != value for name, value in item_ids.items()):
            return False
        if wanted.get("lineNumber") is not None and wanted["lineNumber"] != line.line_number:
            return False
        wanted_consumer = wanted.get("consumerLineNumber")
        return wanted_consumer is None or wanted_consumer == line.consumer_line_number

    found = [line for line in order.lines if matches(line)]
    if not found:
        lines = "; ".join(f"line {line.line_number} sku {line.sku!r}" for line in order.lines)
        raise InvalidRequest.at(
            "context.lineItem",
            f"no line of order {order.po_number!r} matches {dict(wanted)}; its lines are: {lines}",
            code="line_item_not_found",
        )
    line = found[0]
    result = _known(wanted, _LINE_ITEM_FIELDS)
    result.update(line.ids)
    result["lineNumber"] = line.line_number
    if line.consumer_line_number is not None:
        result["consumerLineNumber"] = line.consumer_line_number
    return result
