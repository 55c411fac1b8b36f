"""The default world: reproducible byte for byte, valid against its schema, named part as documented.

The named values are spelled out here again on purpose rather than imported from the generator: the
docs and the vendor guide's sample requests depend on them, so a change to the generator that moves
them must fail a test written from the documented world, not pass one that reads the generator's own
constants.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft202012Validator

from simulator.loading.worldgen import DEFAULT_SEED, dump_world, generate_world, main

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "default-world.json"
SCHEMA_FILE = ROOT / "contracts" / "world.schema.json"

NAMED_ACCOUNTS = [
    (
        "1000001",
        "retailer",
        "Northwind Retail",
        "retailer-demo",
        "retailer-demo-secret",
        "retailer-demo-token",
    ),
    (
        "1000002",
        "retailer",
        "Contoso Market",
        "retailer2-demo",
        "retailer2-demo-secret",
        "retailer2-demo-token",
    ),
    ("2000001", "supplier", "Acme Supply Co", "supplier-demo", "supplier-demo-secret", "supplier-demo-token"),
    (
        "2000002",
        "supplier",
        "Globex Goods",
        "supplier2-demo",
        "supplier2-demo-secret",
        "supplier2-demo-token",
    ),
]
NAMED_PARTNERS = [
    ("1000001", "2000001", "aaa-bbb-ccc", "Acme Supply Co"),
    ("1000001", "2000002", "ddd-eee-fff", "Globex Goods"),
    ("1000002", "2000001", "acme-for-contoso", "Acme Supply Co"),
    ("2000001", "1000001", "NW-RETAIL", "Northwind Retail"),
    ("2000001", "1000002", "CONTOSO", "Contoso Market"),
    ("2000002", "1000001", "NORTHWIND", "Northwind Retail"),
]
NAMED_SKUS = ("SKU-RED-SHOE-9", "SKU-BLUE-SOCK-M")
NAMED_ORDER_ID = "9000001"
ORDER_KEYS = ("dscoOrderId", "poNumber", "consumerOrderNumber", "supplierOrderNumber")
BARCODE_PATTERNS = {
    "upc": re.compile(r"^(\d{6}|\d{12})$"),
    "ean": re.compile(r"^(\d{8}|\d{13})$"),
    "isbn": re.compile(r"^(\d{10}|\d{13})$"),
    "gtin": re.compile(r"^(\d{8}|\d{12,14})$"),
}
ITEM_IDS = ("sku", "dscoItemId", "upc", "ean", "mpn", "isbn", "gtin", "partnerSku")


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    return generate_world()


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def named_part(world: dict[str, Any]) -> dict[str, Any]:
    return {
        "accounts": world["accounts"],
        "tradingPartners": world["tradingPartners"],
        "orders": [o for o in world["orders"] if o["dscoOrderId"] == NAMED_ORDER_ID],
        "items": [i for i in world["items"] if i["sku"] in NAMED_SKUS],
    }


def generated_part(world: dict[str, Any]) -> dict[str, Any]:
    return {
        "orders": [o for o in world["orders"] if o["dscoOrderId"] != NAMED_ORDER_ID],
        "items": [i for i in world["items"] if i["sku"] not in NAMED_SKUS],
        "invoices": world["invoices"],
        "returns": world["returns"],
        "contracts": world["contracts"],
    }


# --- reproducibility -----------------------------------------------------------------------------


def test_committed_fixture_is_exactly_what_the_generator_writes() -> None:
    expected = dump_world(generate_world())
    actual = FIXTURE.read_bytes().decode("utf-8")
    assert actual == expected, (
        "regenerate with: python -m simulator.loading.worldgen --out fixtures/default-world.json"
    )


def test_same_seed_gives_the_same_text() -> None:
    assert dump_world(generate_world(1234)) == dump_world(generate_world(1234))
    assert dump_world(generate_world()) == dump_world(generate_world(DEFAULT_SEED))


def test_a_different_seed_changes_the_crowd_but_not_the_named_part(world: dict[str, Any]) -> None:
    other = generate_world(DEFAULT_SEED + 1)
    assert other["seed"] == DEFAULT_SEED + 1
    assert named_part(other) == named_part(world)
    assert generated_part(other)["orders"] != generated_part(world)["orders"]
    assert generated_part(other)["items"] != generated_part(world)["items"]


def test_dump_is_canonical_json_text(world: dict[str, Any]) -> None:
    text = dump_world(world)
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text.startswith('{\n  "format": "dsco-sandbox-world",\n  "version": 1,\n')
    assert json.loads(text) == world


def test_order_count_follows_the_argument() -> None:
    assert len(generate_world(extra_orders_per_retailer=0)["orders"]) == 1
    assert len(generate_world(extra_orders_per_retailer=2)["orders"]) == 1 + 3 * 2
    with pytest.raises(ValueError, match="extra_orders_per_retailer"):
        generate_world(extra_orders_per_retailer=-1)


def test_entry_point_prints_or_writes_the_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seed", "7"]) == 0
    assert capsys.readouterr().out == dump_world(generate_world(7))
    out = tmp_path / "world.json"
    assert main(["--out", str(out)]) == 0
    assert out.read_bytes() == FIXTURE.read_bytes()


# --- schema --------------------------------------------------------------------------------------


def test_fixture_validates_against_the_schema(validator: Draft202012Validator) -> None:
    document = json.loads(FIXTURE.read_text(encoding="utf-8"))
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []


def test_other_seeds_validate_too(validator: Draft202012Validator) -> None:
    for seed in (0, 1, 99, 2**40):
        validator.validate(generate_world(seed, extra_orders_per_retailer=10))


def test_schema_rejects_an_unknown_key(validator: Draft202012Validator, world: dict[str, Any]) -> None:
    broken = copy.deepcopy(world)
    broken["orders"][0]["lines"][0]["skU"] = "typo"
    with pytest.raises(jsonschema.ValidationError) as caught:
        validator.validate(broken)
    assert caught.value.validator == "additionalProperties"
    assert "skU" in caught.value.message
    assert list(caught.value.absolute_path) == ["orders", 0, "lines", 0]

    broken = copy.deepcopy(world)
    broken["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError, match="colour"):
        validator.validate(broken)


def test_schema_rejects_a_missing_required_field(
    validator: Draft202012Validator, world: dict[str, Any]
) -> None:
    broken = copy.deepcopy(world)
    del broken["accounts"][2]["legacyToken"]
    with pytest.raises(jsonschema.ValidationError) as caught:
        validator.validate(broken)
    assert caught.value.validator == "required"
    assert "'legacyToken' is a required property" in caught.value.message
    assert list(caught.value.absolute_path) == ["accounts", 2]

    broken = copy.deepcopy(world)
    del broken["tradingPartners"]
    with pytest.raises(jsonschema.ValidationError, match="'tradingPartners' is a required property"):
        validator.validate(broken)


@pytest.mark.parametrize(
    ("path", "value", "keyword"),
    [
        (("format",), "some-other-file", "const"),
        (("version",), 2, "const"),
        (("accounts", 0, "dscoAccountId"), 1000001, "type"),
        (("accounts", 0, "role"), "wholesaler", "enum"),
        (("orders", 0, "lines", 0, "upc"), "12345", "pattern"),
        (("orders", 0, "lines", 0, "sku"), "X" * 91, "maxLength"),
        (("items", 0, "gtin"), "1234567890", "pattern"),
    ],
)
def test_schema_rejects_bad_values(
    validator: Draft202012Validator,
    world: dict[str, Any],
    path: tuple[str | int, ...],
    value: object,
    keyword: str,
) -> None:
    broken = copy.deepcopy(world)
    target: Any = broken
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError) as caught:
        validator.validate(broken)
    assert caught.value.validator == keyword
    assert tuple(caught.value.absolute_path) == path


def test_schema_checks_a_webhook_when_there_is_one(
    validator: Draft202012Validator, world: dict[str, Any]
) -> None:
    hooked = copy.deepcopy(world)
    hooked["accounts"][2]["webhook"] = {"url": "http://127.0.0.1:9999/hook", "secret": "s3cret"}
    validator.validate(hooked)
    hooked["accounts"][2]["webhook"] = {"url": "not a url", "secret": "s3cret"}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(hooked)
    hooked["accounts"][2]["webhook"] = {"url": "http://127.0.0.1:9999/hook"}
    with pytest.raises(jsonschema.ValidationError, match="'secret' is a required property"):
        validator.validate(hooked)


def test_optional_collections_may_be_left_out(validator: Draft202012Validator, world: dict[str, Any]) -> None:
    minimal = {k: world[k] for k in ("format", "version", "accounts", "tradingPartners")}
    validator.validate(minimal)


# --- the named part ------------------------------------------------------------------------------


def test_named_accounts_are_as_documented(world: dict[str, Any]) -> None:
    accounts = [
        (a["dscoAccountId"], a["role"], a["name"], a["clientId"], a["clientSecret"], a["legacyToken"])
        for a in world["accounts"]
    ]
    assert accounts == NAMED_ACCOUNTS
    assert not any("webhook" in a for a in world["accounts"])


def test_named_trading_partners_are_as_documented(world: dict[str, Any]) -> None:
    partners = [
        (p["dscoAccountId"], p["partnerDscoAccountId"], p["tradingPartnerId"], p["name"])
        for p in world["tradingPartners"]
    ]
    assert partners == NAMED_PARTNERS
    pairs = {(p[0], p[1]) for p in partners}
    assert ("1000002", "2000002") not in pairs and ("2000002", "1000002") not in pairs


def test_named_order_is_as_documented(world: dict[str, Any]) -> None:
    order = world["orders"][0]
    assert {k: order[k] for k in (*ORDER_KEYS, "dscoRetailerId", "dscoSupplierId")} == {
        "dscoOrderId": "9000001",
        "poNumber": "123-456-789",
        "consumerOrderNumber": "C-123",
        "supplierOrderNumber": "ACME-5001",
        "dscoRetailerId": "1000001",
        "dscoSupplierId": "2000001",
    }
    assert [(line["lineNumber"], line["sku"]) for line in order["lines"]] == [
        (1, "SKU-RED-SHOE-9"),
        (2, "SKU-BLUE-SOCK-M"),
    ]
    for line in order["lines"]:
        assert {"consumerLineNumber", "dscoItemId", "upc", "ean", "gtin", "mpn", "partnerSku"} <= set(line)


def test_named_skus_are_acme_items_matching_the_order_lines(world: dict[str, Any]) -> None:
    items = {i["sku"]: i for i in world["items"]}
    for line in world["orders"][0]["lines"]:
        item = items[line["sku"]]
        assert item["dscoSupplierId"] == "2000001"
        assert {k: item[k] for k in ITEM_IDS if k in item} == {k: line[k] for k in ITEM_IDS if k in line}


# --- the generated part --------------------------------------------------------------------------


def test_counts_follow_the_recipe(world: dict[str, Any]) -> None:
    generated = generated_part(world)
    relationships = 3  # Northwind-Acme, Northwind-Globex, Contoso-Acme
    assert len(generated["orders"]) == 6 * relationships
    assert all(1 <= len(o["lines"]) <= 3 for o in generated["orders"])
    assert Counter(i["dscoSupplierId"] for i in generated["items"]) == {"2000001": 8, "2000002": 8}
    assert len(generated["invoices"]) == 9
    assert len(generated["returns"]) == 5
    assert len(generated["contracts"]) == relationships


def test_generated_objects_only_join_trading_partners(world: dict[str, Any]) -> None:
    partners = {(p["dscoAccountId"], p["partnerDscoAccountId"]) for p in world["tradingPartners"]}
    relationships = [(c["dscoRetailerId"], c["dscoSupplierId"]) for c in world["contracts"]]
    assert sorted(relationships) == sorted(p for p in partners if p[0].startswith("1"))
    for collection in ("orders", "invoices", "returns"):
        for obj in world[collection]:
            assert (obj["dscoRetailerId"], obj["dscoSupplierId"]) in partners
            assert (obj["dscoSupplierId"], obj["dscoRetailerId"]) in partners


def test_order_lines_are_items_of_the_orders_supplier(world: dict[str, Any]) -> None:
    items = {i["dscoItemId"]: i for i in world["items"]}
    for order in world["orders"]:
        assert [line["lineNumber"] for line in order["lines"]] == list(range(1, len(order["lines"]) + 1))
        for line in order["lines"]:
            item = items[line["dscoItemId"]]
            assert item["dscoSupplierId"] == order["dscoSupplierId"]
            assert item["sku"] == line["sku"] and item["title"] == line["title"]
            assert line["quantity"] >= 1


def test_invoices_and_returns_point_at_their_orders(world: dict[str, Any]) -> None:
    orders = {o["dscoOrderId"]: o for o in world["orders"]}
    invoiced = set()
    for invoice in world["invoices"]:
        order = orders[invoice["dscoOrderId"]]
        invoiced.add(order["dscoOrderId"])
        for key in (
            "poNumber",
            "supplierOrderNumber",
            "consumerOrderNumber",
            "dscoRetailerId",
            "dscoSupplierId",
        ):
            assert invoice[key] == order[key]
    for ret in world["returns"]:
        order = orders[ret["dscoOrderId"]]
        assert ret["dscoOrderId"] in invoiced, "a return follows an invoiced (shipped) order"
        for key in ("poNumber", "dscoRetailerId", "dscoSupplierId"):
            assert ret[key] == order[key]


def _identifiers(part: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, value) for every identifier an object of ``part`` is looked up by."""
    for order in part.get("orders", []):
        for key in ORDER_KEYS:
            yield key, order[key]
    for item in part.get("items", []):
        for key in ITEM_IDS:
            if key == "ean" and "isbn" in item:
                continue  # a book's EAN-13 is its ISBN-13, on purpose
            if key in item:
                yield key, item[key]
    for key, collection in (
        ("dscoInvoiceId", "invoices"),
        ("invoiceId", "invoices"),
        ("dscoReturnId", "returns"),
        ("supplierReturnNumber", "returns"),
        ("retailerReturnNumber", "returns"),
        ("dscoContractId", "contracts"),
    ):
        for obj in part.get(collection, []):
            yield key, obj[key]


@pytest.mark.parametrize("seed", [DEFAULT_SEED, 1, 424242])
def test_identifiers_are_unique_across_the_world(seed: int) -> None:
    world = generate_world(seed, extra_orders_per_retailer=20)
    values = Counter(value for _, value in _identifiers(world))
    assert [value for value, n in values.items() if n > 1] == []
    named = {value for _, value in _identifiers(named_part(world))}
    generated = {value for _, value in _identifiers(generated_part(world))}
    assert named and generated and not named & generated


def test_generated_ids_stay_out_of_the_named_ranges(world: dict[str, Any]) -> None:
    generated = generated_part(world)
    assert all(int(o["dscoOrderId"]) >= 9000002 for o in generated["orders"])
    named_item_ids = {i["dscoItemId"] for i in named_part(world)["items"]}
    assert not named_item_ids & {i["dscoItemId"] for i in generated["items"]}
    account_ids = {a["dscoAccountId"] for a in world["accounts"]}
    for collection, key in (
        ("invoices", "dscoInvoiceId"),
        ("returns", "dscoReturnId"),
        ("contracts", "dscoContractId"),
    ):
        assert not account_ids & {obj[key] for obj in generated[collection]}


def test_barcodes_match_the_vendor_patterns(world: dict[str, Any]) -> None:
    seen = Counter[str]()
    for obj in [*world["items"], *(line for o in world["orders"] for line in o["lines"])]:
        for key, pattern in BARCODE_PATTERNS.items():
            if key in obj:
                seen[key] += 1
                assert pattern.match(obj[key]), f"{key} {obj[key]!r} of {obj['sku']}"
        assert len(obj["sku"]) <= 90
    assert set(seen) == set(BARCODE_PATTERNS), "every barcode kind appears somewhere in the world"


def test_titles_look_like_products(world: dict[str, Any]) -> None:
    titles = [i["title"] for i in world["items"]]
    assert len(set(titles)) == len(titles)
    assert all(len(t) >= 15 and t[0].isupper() for t in titles)
