"""Generate the default world: a fixed named part wrapped in a seeded, Faker-made crowd.

The named part (four accounts, their trading-partner names, order ``123-456-789`` and its two items)
is written out literally because the vendor guide's sample requests and our own docs refer to those
exact values; generating them would let a Faker upgrade silently break every example. Everything
else is generated, so that list calls, filters and context lookups have a realistic amount of data
to work on without anyone maintaining hundreds of lines of fixture JSON by hand.

Determinism is the point of this module: the same seed must give the same file byte for byte, so
that ``fixtures/default-world.json`` can be committed, reviewed as a diff and checked by a test. To
that end the generator owns its randomness (a ``Faker`` instance seeded with ``seed_instance`` and a
private ``random.Random``, never the global seeds another library might touch), walks every
collection in a fixed order, and serialises with :func:`dump_world`, which keeps keys in the order
they were produced. The Faker release is pinned in ``pyproject.toml`` for the same reason.

Regenerate the fixture with ``python -m simulator.loading.worldgen --out fixtures/default-world.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

import faker
from faker import Faker

__all__ = ["DEFAULT_SEED", "WORLD_FORMAT", "WORLD_VERSION", "dump_world", "generate_world", "main"]

DEFAULT_SEED = 20230501
"""Seed of the committed default world (the day of the vendor guide's polling example)."""

WORLD_FORMAT = "dsco-sandbox-world"
WORLD_VERSION = 1

ITEMS_PER_SUPPLIER = 8
"""Generated catalog items per supplier, on top of any named ones."""

# Generated ids live in ranges of their own, away from the named ones, so a named id can never be
# taken by the crowd and a reader can tell at a glance which objects the docs promise to keep.
_FIRST_GENERATED_ORDER_ID = 9000002
_FIRST_GENERATED_ITEM_ID = 5100001
_FIRST_GENERATED_INVOICE_ID = 6100001
_FIRST_GENERATED_RETURN_ID = 8100001
_FIRST_GENERATED_CONTRACT_ID = 4100001

_ITEM_ID_KEYS = ("sku", "dscoItemId", "upc", "ean", "mpn", "isbn", "gtin", "partnerSku")
"""Item identifiers copied onto an order line, in the order the world format lists them."""

Json = dict[str, Any]


# --- the named part ------------------------------------------------------------------------------
# Built by functions rather than held in module constants so that every world gets fresh objects
# and a caller mutating one world cannot change the next.


def _named_accounts() -> list[Json]:
    """The four named accounts of the default world, with the credentials the docs and the guide's
    samples use."""
    return [
        _account("1000001", "retailer", "Northwind Retail", "retailer-demo"),
        _account("1000002", "retailer", "Contoso Market", "retailer2-demo"),
        _account("2000001", "supplier", "Acme Supply Co", "supplier-demo"),
        _account("2000002", "supplier", "Globex Goods", "supplier2-demo"),
    ]


def _account(account_id: str, role: str, name: str, client_id: str) -> Json:
    """An account whose secret and legacy token follow from its client id, as the README's
    default-world table lists them."""
    return {
        "dscoAccountId": account_id,
        "role": role,
        "name": name,
        "clientId": client_id,
        "clientSecret": f"{client_id}-secret",
        "legacyToken": f"{client_id}-token",
    }


def _named_trading_partners() -> list[Json]:
    """Each side's own id and name for its partners; Contoso and Globex deliberately do not trade."""
    return [
        _partner("1000001", "2000001", "aaa-bbb-ccc", "Acme Supply Co"),
        _partner("1000001", "2000002", "ddd-eee-fff", "Globex Goods"),
        _partner("1000002", "2000001", "acme-for-contoso", "Acme Supply Co"),
        _partner("2000001", "1000001", "NW-RETAIL", "Northwind Retail"),
        _partner("2000001", "1000002", "CONTOSO", "Contoso Market"),
        _partner("2000002", "1000001", "NORTHWIND", "Northwind Retail"),
    ]


def _partner(owner: str, partner: str, trading_partner_id: str, name: str) -> Json:
    return {
        "dscoAccountId": owner,
        "partnerDscoAccountId": partner,
        "tradingPartnerId": trading_partner_id,
        "name": name,
    }


def _named_items() -> list[Json]:
    """Acme's two items on the guide's sample order, so catalog contexts can name them too.

    The barcodes carry valid check digits (UPC-A, its EAN-13 and GTIN-14 forms share one) even though
    the API only checks their length, so that they survive any stricter validator a client may run.
    """
    return [
        {
            "dscoItemId": "5000001",
            "dscoSupplierId": "2000001",
            "sku": "SKU-RED-SHOE-9",
            "upc": "084512300094",
            "ean": "0084512300094",
            "mpn": "ACM-CS-RED-09",
            "gtin": "00084512300094",
            "partnerSku": "NW-SHOE-RED-9",
            "title": "Acme Classic Canvas Sneaker, Red, Size 9",
        },
        {
            "dscoItemId": "5000002",
            "dscoSupplierId": "2000001",
            "sku": "SKU-BLUE-SOCK-M",
            "upc": "084512300162",
            "ean": "0084512300162",
            "mpn": "ACM-CC-BLU-M",
            "gtin": "00084512300162",
            "partnerSku": "NW-SOCK-BLUE-M",
            "title": "Acme Cotton Crew Socks, 3-Pack, Blue, Size M",
        },
    ]


def _named_orders(items: Sequence[Json]) -> list[Json]:
    """Order ``123-456-789`` from the guide's sample request: Northwind's, supplied by Acme."""
    by_sku = {item["sku"]: item for item in items}
    return [
        {
            "dscoOrderId": "9000001",
            "poNumber": "123-456-789",
            "consumerOrderNumber": "C-123",
            "supplierOrderNumber": "ACME-5001",
            "dscoRetailerId": "1000001",
            "dscoSupplierId": "2000001",
            "lines": [
                _line(1, by_sku["SKU-RED-SHOE-9"], quantity=1),
                _line(2, by_sku["SKU-BLUE-SOCK-M"], quantity=2),
            ],
        }
    ]


def _line(line_number: int, item: Json, quantity: int) -> Json:
    """An order line that carries every identifier of its item, so any of them can select it."""
    line: Json = {"lineNumber": line_number, "consumerLineNumber": line_number}
    line.update({key: item[key] for key in _ITEM_ID_KEYS if key in item})
    line["quantity"] = quantity
    line["title"] = item["title"]
    return line


# --- what the generator needs to know about the named accounts -----------------------------------

_ACCOUNT_CODES = MappingProxyType({"1000001": "NW", "1000002": "CM", "2000001": "ACME", "2000002": "GLX"})
"""Short prefixes for the human-readable numbers an account issues (order, invoice, return numbers)."""

_HOUSE_BRANDS = MappingProxyType({"2000001": "Acme", "2000002": "Globex"})
"""Each supplier sells its own brand next to a couple of generated ones."""

_BRAND_SUFFIXES = MappingProxyType(
    {
        "2000001": (" & Co.", " Outfitters", " Athletics", " Basics"),
        "2000002": (" Home", " Kitchen", " & Co.", " Living"),
    }
)
"""Generated brands are a surname plus a suffix that fits what the supplier sells."""

_SUPPLIER_CATEGORIES = MappingProxyType(
    {
        "2000001": ("footwear", "socks", "apparel", "bags"),
        "2000002": ("kitchen", "home", "books"),
    }
)
"""What each supplier sells; Globex carries books so the world also exercises ISBN lookups."""

_GENDERS = ("Men's", "Women's", "Kids'")
_UPPER = "".join(c for c in string.ascii_uppercase if c not in "IO")  # no I/O: they read as 1/0


@dataclass(frozen=True)
class _Category:
    """A kind of product: its SKU segment, how its title reads, and whether it has an ISBN."""

    code: str
    title: Callable[[Faker, random.Random, str, str], str]
    book: bool = False


def _footwear(fake: Faker, rng: random.Random, brand: str, color: str) -> str:
    style = rng.choice(
        ("Canvas Sneaker", "Leather Loafer", "Trail Running Shoe", "Suede Chelsea Boot", "Slip-On Sneaker")
    )
    size = rng.choice(("6", "7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12"))
    return f"{brand} {rng.choice(_GENDERS)} {style}, {color}, Size {size}"


def _socks(fake: Faker, rng: random.Random, brand: str, color: str) -> str:
    material = rng.choice(("Cotton", "Merino Wool", "Bamboo", "Cushioned"))
    style = rng.choice(("Crew", "Ankle", "No-Show", "Hiking", "Dress"))
    return (
        f"{brand} {material} {style} Socks, {rng.choice((3, 4, 6))}-Pack, {color}, Size {rng.choice('SML')}"
    )


def _apparel(fake: Faker, rng: random.Random, brand: str, color: str) -> str:
    garment = rng.choice(
        ("Organic Cotton T-Shirt", "Fleece Hoodie", "Pique Polo Shirt", "Packable Rain Jacket", "Slim Chinos")
    )
    size = rng.choice(("XS", "S", "M", "L", "XL", "XXL"))
    return f"{brand} {rng.choice(_GENDERS)} {garment}, {color}, {size}"


def _bags(fake: Faker, rng: random.Random, brand: str, color: str) -> str:
    material = rng.choice(("Waxed Canvas", "Leather", "Recycled Nylon"))
    bag = rng.choice(("Backpack", "Tote Bag", "Weekender Duffel", "Crossbody Bag"))
    return f"{brand} {material} {bag}, {rng.choice((12, 18, 24, 30))}L, {color}"


def _kitchen(fake: Faker, rng: random.Random, brand: str, color: str) -> str:
    product = rng.choice(
        (
            f"{rng.choice((6, 8, 12))}-Quart Stainless Steel Stock Pot",
            f"{rng.choice((8, 10, 12))}-Inch Pre-Seasoned Cast Iron Skillet",
            f"{rng.choice((8, 12, 15))}-Piece Knife Block Set",
            f"Glass Food Storage Containers, {rng.choice((5, 10, 12))}-Pack",
            f"Enameled Dutch Oven, {rng.choice((4, 5, 7))} Quart, {color}",
        )
    )
    return f"{brand} {product}"


def _home(fake: Faker, rng: random.Random, brand: str, color: str) -> str:
    product = rng.choice(
        (
            f"Cotton Throw Blanket, 50 x 60 in, {color}",
            f"Linen Curtain Panels, 52 x {rng.choice((63, 84, 96))} in, 2-Pack, {color}",
            f"Ceramic Table Lamp, {rng.choice((18, 24, 28))} in, {color}",
            f"Wool Area Rug, {rng.choice(('5 x 7', '8 x 10'))} ft, {color}",
        )
    )
    return f"{brand} {product}"


def _books(fake: Faker, rng: random.Random, brand: str, color: str) -> str:
    binding = rng.choice(("Hardcover", "Paperback"))
    return f"{fake.catch_phrase().title()} by {fake.first_name()} {fake.last_name()} ({binding})"


def _draw_title(category: _Category, fake: Faker, rng: random.Random, brands: Sequence[str]) -> str:
    """One title for ``category`` under a brand and colour drawn now (so a retry draws new ones)."""
    return category.title(fake, rng, rng.choice(brands), fake.safe_color_name().title())


_CATEGORIES = MappingProxyType(
    {
        "footwear": _Category("SHO", _footwear),
        "socks": _Category("SCK", _socks),
        "apparel": _Category("APP", _apparel),
        "bags": _Category("BAG", _bags),
        "kitchen": _Category("KIT", _kitchen),
        "home": _Category("HOM", _home),
        "books": _Category("BK", _books, book=True),
    }
)


# --- the generator -------------------------------------------------------------------------------


class _Ids:
    """Hands out identifiers that are unique across the whole world.

    One namespace for every kind of identifier is stricter than the API needs, but it means no
    lookup by any identifier (order numbers, SKUs, barcodes) can ever be ambiguous, and it is what
    keeps the generated crowd from colliding with the named part: every named value is reserved first.
    """

    def __init__(self, reserved: set[str]) -> None:
        self._taken = set(reserved)

    def fresh(self, make: Callable[[], str]) -> str:
        """Draw from ``make`` until the value is new; bounded so a too-small format fails loudly."""
        for _ in range(1000):
            value = make()
            if value not in self._taken:
                self._taken.add(value)
                return value
        raise RuntimeError("could not draw a fresh identifier; the identifier format is too small")

    def sequence(self, first: int) -> Callable[[], str]:
        """A counter of numeric ids from ``first``, skipping any value already taken."""
        counter = iter(range(first, first + 10_000_000))
        return lambda: self.fresh(lambda: str(next(counter)))

    def numerify(self, fake: Faker, template: str) -> str:
        """A fresh ``fake.numerify(template)``: ``#`` is any digit, ``%`` a non-zero one."""
        return self.fresh(lambda: str(fake.numerify(template)))

    def bothify(self, fake: Faker, template: str) -> str:
        """A fresh ``fake.bothify(template)``, ``?`` drawing unambiguous capital letters."""
        return self.fresh(lambda: str(fake.bothify(template, letters=_UPPER)))


def _strings_in(value: Any) -> set[str]:
    """Every string value in a JSON tree: what the named part reserves."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_strings_in(v) for v in value))
    return set()


def _relationships(accounts: Sequence[Json], partners: Sequence[Json]) -> list[tuple[str, str]]:
    """(retailer, supplier) pairs that trade, in the order the retailers list their partners.

    A pair counts only when both sides name each other, as it must for either of them to open a
    conversation; a half-declared partnership in a hand-edited named part gets no generated data.
    """
    roles = {a["dscoAccountId"]: a["role"] for a in accounts}
    declared = {(p["dscoAccountId"], p["partnerDscoAccountId"]) for p in partners}
    return [
        (owner, other)
        for owner, other in ((p["dscoAccountId"], p["partnerDscoAccountId"]) for p in partners)
        if roles.get(owner) == "retailer" and roles.get(other) == "supplier" and (other, owner) in declared
    ]


def _generate_items(
    fake: Faker,
    rng: random.Random,
    ids: _Ids,
    titles: _Ids,
    supplier_id: str,
    next_item_id: Callable[[], str],
) -> list[Json]:
    """``ITEMS_PER_SUPPLIER`` catalog items, every category of the supplier at least once.

    Titles come from ``titles``, a namespace of their own: two items with one title would look the
    same in any listing, but a title may well equal, say, a brand-free SKU without harm.
    """
    code = _ACCOUNT_CODES[supplier_id]
    names = _SUPPLIER_CATEGORIES[supplier_id]
    brands = [_HOUSE_BRANDS[supplier_id]] + [
        f"{fake.last_name()}{rng.choice(_BRAND_SUFFIXES[supplier_id])}" for _ in range(2)
    ]
    categories = list(names) + [rng.choice(names) for _ in range(ITEMS_PER_SUPPLIER - len(names))]
    rng.shuffle(categories)
    items: list[Json] = []
    for name in categories:
        category = _CATEGORIES[name]
        item: Json = {
            "dscoItemId": next_item_id(),
            "dscoSupplierId": supplier_id,
            "sku": ids.numerify(fake, f"{code}-{category.code}-%####"),
        }
        if category.book:
            isbn = ids.fresh(partial(fake.isbn13, separator=""))
            item["ean"] = isbn  # a book's EAN-13 is its ISBN-13
            item["mpn"] = ids.bothify(fake, "??-####")
            item["isbn"] = isbn
            item["gtin"] = "0" + isbn
        else:
            upc = ids.fresh(fake.upc_a)
            item["upc"] = upc
            item["ean"] = "0" + upc  # the same check digit holds once padded
            item["mpn"] = ids.bothify(fake, "??-####-?")
            item["gtin"] = "00" + upc
        item["partnerSku"] = ids.numerify(fake, "PS-%#####")
        item["title"] = titles.fresh(partial(_draw_title, category, fake, rng, brands))
        items.append(item)
    return items


def generate_world(seed: int = DEFAULT_SEED, extra_orders_per_retailer: int = 6) -> dict[str, Any]:
    """Build a world document: the named part (the README's default-world table) plus data
    generated from ``seed``.

    ``extra_orders_per_retailer`` orders are generated for every trading relationship (retailer and
    supplier that are partners), each with one to three lines drawn from that supplier's catalog.
    About half of the generated orders get an invoice and about a quarter a return (always of an
    invoiced order, as returns follow shipment); each relationship gets one contract.
    """
    if extra_orders_per_retailer < 0:
        raise ValueError(f"extra_orders_per_retailer must be >= 0, got {extra_orders_per_retailer}")
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)

    accounts = _named_accounts()
    partners = _named_trading_partners()
    items = _named_items()
    orders = _named_orders(items)
    ids = _Ids(_strings_in([accounts, partners, items, orders]))
    relationships = _relationships(accounts, partners)

    next_item_id = ids.sequence(_FIRST_GENERATED_ITEM_ID)
    titles = _Ids({item["title"] for item in items})
    catalog: dict[str, list[Json]] = {}
    for supplier_id in dict.fromkeys(supplier for _, supplier in relationships):
        generated = _generate_items(fake, rng, ids, titles, supplier_id, next_item_id)
        items.extend(generated)
        catalog[supplier_id] = [item for item in items if item["dscoSupplierId"] == supplier_id]

    next_order_id = ids.sequence(_FIRST_GENERATED_ORDER_ID)
    generated_orders: list[Json] = []
    for retailer_id, supplier_id in relationships:
        pool = catalog[supplier_id]
        for _ in range(extra_orders_per_retailer):
            chosen = rng.sample(pool, rng.randint(1, min(3, len(pool))))
            generated_orders.append(
                {
                    "dscoOrderId": next_order_id(),
                    "poNumber": ids.numerify(fake, "%##-###-###"),
                    "consumerOrderNumber": ids.numerify(fake, "C-%######"),
                    "supplierOrderNumber": ids.numerify(fake, f"{_ACCOUNT_CODES[supplier_id]}-%#####"),
                    "dscoRetailerId": retailer_id,
                    "dscoSupplierId": supplier_id,
                    "lines": [
                        _line(n, item, quantity=rng.choices((1, 2, 3, 4), weights=(70, 18, 8, 4))[0])
                        for n, item in enumerate(chosen, start=1)
                    ],
                }
            )
    orders.extend(generated_orders)

    total = len(generated_orders)
    invoiced = sorted(rng.sample(range(total), (total + 1) // 2))
    returned = sorted(rng.sample(invoiced, (total + 2) // 4))

    next_invoice_id = ids.sequence(_FIRST_GENERATED_INVOICE_ID)
    invoices: list[Json] = []
    for index in invoiced:
        order = generated_orders[index]
        supplier_code = _ACCOUNT_CODES[order["dscoSupplierId"]]
        invoices.append(
            {
                "dscoInvoiceId": next_invoice_id(),
                "invoiceId": ids.numerify(fake, f"{supplier_code}-INV-%#####"),
                "dscoRetailerId": order["dscoRetailerId"],
                "dscoSupplierId": order["dscoSupplierId"],
                "dscoOrderId": order["dscoOrderId"],
                "poNumber": order["poNumber"],
                "supplierOrderNumber": order["supplierOrderNumber"],
                "consumerOrderNumber": order["consumerOrderNumber"],
            }
        )

    next_return_id = ids.sequence(_FIRST_GENERATED_RETURN_ID)
    returns: list[Json] = []
    for index in returned:
        order = generated_orders[index]
        supplier_code = _ACCOUNT_CODES[order["dscoSupplierId"]]
        retailer_code = _ACCOUNT_CODES[order["dscoRetailerId"]]
        returns.append(
            {
                "dscoReturnId": next_return_id(),
                "supplierReturnNumber": ids.numerify(fake, f"{supplier_code}-RMA-%####"),
                "retailerReturnNumber": ids.numerify(fake, f"{retailer_code}-R%#####"),
                "dscoRetailerId": order["dscoRetailerId"],
                "dscoSupplierId": order["dscoSupplierId"],
                "dscoOrderId": order["dscoOrderId"],
                "poNumber": order["poNumber"],
            }
        )

    next_contract_id = ids.sequence(_FIRST_GENERATED_CONTRACT_ID)
    contracts = [
        {"dscoContractId": next_contract_id(), "dscoRetailerId": retailer, "dscoSupplierId": supplier}
        for retailer, supplier in relationships
    ]

    return {
        "format": WORLD_FORMAT,
        "version": WORLD_VERSION,
        "seed": seed,
        "generator": {"faker": faker.VERSION},
        "accounts": accounts,
        "tradingPartners": partners,
        "orders": orders,
        "items": items,
        "invoices": invoices,
        "returns": returns,
        "contracts": contracts,
    }


def dump_world(world: dict[str, Any]) -> str:
    """Canonical JSON text of a world: what the committed fixture is compared against byte for byte.

    Keys stay in the order they were produced (no sorting) so the file reads in the order of the
    format description; non-ASCII stays readable; the trailing newline keeps editors and diffs quiet.
    """
    return json.dumps(world, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m simulator.loading.worldgen``: print a world, or write it where ``--out`` says."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator.loading.worldgen",
        description="Generate a dsco-sandbox world file; the default seed gives fixtures/default-world.json.",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed (default {DEFAULT_SEED})")
    parser.add_argument(
        "--extra-orders",
        type=int,
        default=6,
        metavar="N",
        help="generated orders per trading relationship (default 6)",
    )
    parser.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    args = parser.parse_args(argv)
    if args.extra_orders < 0:
        parser.error("--extra-orders must be >= 0")
    text = dump_world(generate_world(args.seed, args.extra_orders))
    if args.out:
        # newline="\n": the file must be the same bytes on every platform.
        with open(args.out, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
