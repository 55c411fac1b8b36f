"""load_world: lookups over the default world, and refusal of worlds whose references do not hold."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from simulator.domain.errors import InvalidRequest
from simulator.domain.world import World, load_world

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "default-world.json"
NORTHWIND, CONTOSO, ACME, GLOBEX = "1000001", "1000002", "2000001", "2000002"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FIXTURE.read_text("utf-8"))
    return loaded


@pytest.fixture(scope="module")
def world(document: dict[str, Any]) -> World:
    return load_world(document)


def refusal(document: dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        load_world(document)
    assert caught.value.code == "invalid_world"
    return caught.value


def fields_of(error: InvalidRequest) -> list[str]:
    return [p.field for p in error.problems]


# --- the default world ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account_id", "role", "name", "client_id", "legacy_token"),
    [
        (NORTHWIND, "retailer", "Northwind Retail", "retailer-demo", "retailer-demo-token"),
        (CONTOSO, "retailer", "Contoso Market", "retailer2-demo", "retailer2-demo-token"),
        (ACME, "supplier", "Acme Supply Co", "supplier-demo", "supplier-demo-token"),
        (GLOBEX, "supplier", "Globex Goods", "supplier2-demo", "supplier2-demo-token"),
    ],
)
def test_the_default_world_has_the_named_accounts(
    world: World, account_id: str, role: str, name: str, client_id: str, legacy_token: str
) -> None:
    account = world.account(account_id)
    assert account is not None
    assert (account.role, account.name) == (role, name)
    assert world.account_by_client_id(client_id) == account
    assert world.account_by_legacy_token(legacy_token) == account


def test_unknown_accounts_clients_and_tokens_are_not_found(world: World) -> None:
    assert world.account("9999999") is None
    assert world.account_by_client_id("nobody") is None
    assert world.account_by_legacy_token("nobody-token") is None


@pytest.mark.parametrize(
    ("owner", "partner", "trading_partner_id", "name"),
    [
        (NORTHWIND, ACME, "aaa-bbb-ccc", "Acme Supply Co"),
        (NORTHWIND, GLOBEX, "ddd-eee-fff", "Globex Goods"),
        (CONTOSO, ACME, "acme-for-contoso", "Acme Supply Co"),
        (ACME, NORTHWIND, "NW-RETAIL", "Northwind Retail"),
        (ACME, CONTOSO, "CONTOSO", "Contoso Market"),
        (GLOBEX, NORTHWIND, "NORTHWIND", "Northwind Retail"),
    ],
)
def test_partner_lookups_work_both_ways(
    world: World, owner: str, partner: str, trading_partner_id: str, name: str
) -> None:
    named = world.partner(owner, partner)
    assert named is not None
    assert (named.trading_partner_id, named.name) == (trading_partner_id, name)
    assert world.partner_by_ref(owner, trading_partner_id) == named
    assert world.trade(owner, partner)
    assert world.trade(partner, owner)


def test_a_trading_partner_id_only_resolves_for_its_owner(world: World) -> None:
    assert world.partner_by_ref(CONTOSO, "aaa-bbb-ccc") is None
    assert world.partner_by_ref(NORTHWIND, "acme-for-contoso") is None
    assert world.partner_by_ref(NORTHWIND, ACME) is None  # an account id is not a trading partner id


def test_accounts_without_a_partnership_do_not_trade(world: World) -> None:
    assert not world.trade(CONTOSO, GLOBEX)
    assert not world.trade(GLOBEX, CONTOSO)
    assert world.partner(CONTOSO, GLOBEX) is None
    assert not world.trade(NORTHWIND, CONTOSO)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("dscoOrderId", "9000001"),
        ("poNumber", "123-456-789"),
        ("supplierOrderNumber", "ACME-5001"),
        ("consumerOrderNumber", "C-123"),
    ],
)
def test_the_named_order_is_found_by_each_of_its_four_ids(world: World, key: str, value: str) -> None:
    (order,) = world.orders_matching(key, value)
    assert order.dsco_order_id == "9000001"
    assert (order.retailer_id, order.supplier_id) == (NORTHWIND, ACME)
    assert [(line.line_number, line.sku) for line in order.lines] == [
        (1, "SKU-RED-SHOE-9"),
        (2, "SKU-BLUE-SOCK-M"),
    ]


def test_an_unknown_order_id_matches_nothing(world: World) -> None:
    assert world.orders_matching("poNumber", "000-000-000") == []
    assert world.orders_matching("dscoOrderId", "123-456-789") == []  # right value, wrong key


def test_order_lines_carry_their_item_identifiers(world: World) -> None:
    (order,) = world.orders_matching("dscoOrderId", "9000001")
    first = order.lines[0]
    assert first.ids["sku"] == "SKU-RED-SHOE-9"
    assert first.ids["dscoItemId"] == "5000001"
    assert first.consumer_line_number == 1


def test_every_generated_order_is_found_by_its_dsco_order_id(world: World, document: dict[str, Any]) -> None:
    for raw in document["orders"]:
        assert [o.po_number for o in world.orders_matching("dscoOrderId", raw["dscoOrderId"])] == [
            raw["poNumber"]
        ]


def test_objects_matching_finds_items_by_any_identifier(world: World) -> None:
    (by_sku,) = world.objects_matching("item", {"sku": "SKU-RED-SHOE-9"})
    assert by_sku.ids["dscoItemId"] == "5000001"
    assert by_sku.supplier_id == ACME
    assert by_sku.retailer_id is None
    assert world.objects_matching("item", {"dscoItemId": "5000001", "sku": "SKU-RED-SHOE-9"}) == [by_sku]


def test_objects_matching_requires_every_criterion(world: World) -> None:
    assert world.objects_matching("item", {"dscoItemId": "5000001", "sku": "SKU-BLUE-SOCK-M"}) == []
    assert world.objects_matching("item", {"sku": "NO-SUCH-SKU"}) == []
    assert world.objects_matching("no-such-kind", {"sku": "SKU-RED-SHOE-9"}) == []


@pytest.mark.parametrize(
    ("kind", "collection", "key"),
    [
        ("invoice", "invoices", "dscoInvoiceId"),
        ("return", "returns", "dscoReturnId"),
        ("contract", "contracts", "dscoContractId"),
    ],
)
def test_objects_matching_finds_each_kind_by_its_dsco_id(
    world: World, document: dict[str, Any], kind: str, collection: str, key: str
) -> None:
    raw = document[collection][0]
    (found,) = world.objects_matching(kind, {key: raw[key]})
    assert found.kind == kind
    assert (found.supplier_id, found.retailer_id) == (raw["dscoSupplierId"], raw.get("dscoRetailerId"))
    assert world.has_objects(kind)


def test_a_world_without_objects_of_a_kind_says_so(document: dict[str, Any]) -> None:
    trimmed = copy.deepcopy(document)
    del trimmed["returns"]
    world = load_world(trimmed)
    assert not world.has_objects("return")
    assert world.objects_matching("return", {}) == []


def test_the_world_keeps_its_document_for_export(world: World, document: dict[str, Any]) -> None:
    assert world.document == document


def test_a_minimal_world_loads(document: dict[str, Any]) -> None:
    minimal = {"accounts": document["accounts"][:1]}
    world = load_world(minimal)
    assert list(world.accounts) == [NORTHWIND]
    assert world.orders == []


# --- refusals ------------------------------------------------------------------------------------


def test_a_duplicate_account_id_is_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    clone = dict(broken["accounts"][0], clientId="clone", clientSecret="s", legacyToken="clone-token")
    broken["accounts"].append(clone)
    error = refusal(broken)
    assert fields_of(error) == ["accounts[4].dscoAccountId"]
    assert NORTHWIND in str(error)


def test_a_duplicate_client_id_is_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["accounts"][3]["clientId"] = "retailer-demo"
    error = refusal(broken)
    assert fields_of(error) == ["accounts[3].clientId"]
    assert "retailer-demo" in str(error)


def test_a_duplicate_legacy_token_is_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["accounts"][2]["legacyToken"] = "retailer-demo-token"
    assert fields_of(refusal(broken)) == ["accounts[2].legacyToken"]


def test_a_trading_partnership_between_two_retailers_is_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["tradingPartners"].append(
        {"dscoAccountId": NORTHWIND, "partnerDscoAccountId": CONTOSO, "tradingPartnerId": "CM", "name": "CM"}
    )
    error = refusal(broken)
    assert fields_of(error) == ["tradingPartners[6]"]
    assert "retailer" in str(error)


def test_a_trading_partnership_with_an_unknown_account_is_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["tradingPartners"][1]["partnerDscoAccountId"] = "2999999"
    error = refusal(broken)
    assert fields_of(error) == ["tradingPartners[1].partnerDscoAccountId"]
    assert "2999999" in str(error)


def test_two_partners_under_one_trading_partner_id_are_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["tradingPartners"][1]["tradingPartnerId"] = "aaa-bbb-ccc"  # Northwind's id for Acme
    assert fields_of(refusal(broken)) == ["tradingPartners[1].tradingPartnerId"]


def test_two_names_for_the_same_partner_are_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["tradingPartners"].append(
        {"dscoAccountId": NORTHWIND, "partnerDscoAccountId": ACME, "tradingPartnerId": "acme-2", "name": "A"}
    )
    assert fields_of(refusal(broken)) == ["tradingPartners[6].partnerDscoAccountId"]


def test_an_order_supplied_by_a_retailer_is_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["orders"][0]["dscoSupplierId"] = CONTOSO
    error = refusal(broken)
    assert fields_of(error) == ["orders[0].dscoSupplierId"]
    assert "retailer" in str(error)


def test_an_order_supplied_by_an_unknown_account_is_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["orders"][2]["dscoSupplierId"] = "2999999"
    error = refusal(broken)
    assert fields_of(error) == ["orders[2].dscoSupplierId"]
    assert "2999999" in str(error)


def test_an_order_of_a_supplier_as_retailer_is_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["orders"][0]["dscoRetailerId"] = GLOBEX
    assert fields_of(refusal(broken)) == ["orders[0].dscoRetailerId"]


def test_a_duplicate_dsco_order_id_is_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["orders"][5]["dscoOrderId"] = "9000001"
    error = refusal(broken)
    assert fields_of(error) == ["orders[5].dscoOrderId"]
    assert "9000001" in str(error)


def test_a_duplicate_line_number_within_an_order_is_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["orders"][0]["lines"][1]["lineNumber"] = 1
    assert fields_of(refusal(broken)) == ["orders[0].lines[1].lineNumber"]


@pytest.mark.parametrize(
    ("collection", "key"),
    [("items", "dscoItemId"), ("invoices", "dscoInvoiceId"), ("returns", "dscoReturnId")],
)
def test_a_duplicate_object_id_is_refused(document: dict[str, Any], collection: str, key: str) -> None:
    broken = copy.deepcopy(document)
    broken[collection][1][key] = broken[collection][0][key]
    assert fields_of(refusal(broken)) == [f"{collection}[1].{key}"]


def test_an_item_of_an_unknown_supplier_is_refused(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["items"][0]["dscoSupplierId"] = NORTHWIND
    assert fields_of(refusal(broken)) == ["items[0].dscoSupplierId"]


def test_every_problem_is_reported_at_once(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    broken["accounts"][3]["clientId"] = "retailer-demo"
    broken["orders"][0]["dscoSupplierId"] = "2999999"
    broken["orders"][5]["dscoOrderId"] = "9000001"
    assert sorted(fields_of(refusal(broken))) == [
        "accounts[3].clientId",
        "orders[0].dscoSupplierId",
        "orders[5].dscoOrderId",
    ]
