"""Rules the vendor states in prose (or that its own clients show), checked over real HTTP.

One ``dsco-sandbox serve`` on a free loopback port serves the whole module; every test starts from a
reset sandbox with a frozen clock, no lag, no rate limit and strict mode off, and puts back any
setting it changes. Each rule here is also listed in the README's Fidelity section.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from serve_support import Served, start

pytestmark = pytest.mark.e2e

TIMEOUT = 10
NORTHWIND_ACME = "aaa-bbb-ccc"  # Northwind's trading partner id for Acme
NORTHWIND_GLOBEX = "ddd-eee-fff"  # ... and for Globex
ACME_ID, GLOBEX_ID = "2000001", "2000002"
DEFAULTS = {"rateLimit": {"enabled": False}, "strict": False, "lag": {"min": 0, "max": 0}, "pageSize": 100}


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    server = start("--no-rate-limit", "--lag", "0,0")
    yield server
    server.stop()


@pytest.fixture
def http(served: Served) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # loopback only: no proxy from the environment
        control = f"{served.base_url}/_sandbox"
        assert session.post(f"{control}/reset", timeout=TIMEOUT).status_code == 200
        assert session.put(f"{control}/config", json=DEFAULTS, timeout=TIMEOUT).status_code == 200
        assert session.post(f"{control}/clock", json={"freeze": True}, timeout=TIMEOUT).status_code == 200
        yield session
        session.put(f"{control}/config", json={**DEFAULTS, "faults": None}, timeout=TIMEOUT)


class Client:
    """The vendor API and the control plane of the served sandbox, as one account or another."""

    def __init__(self, served: Served, http: requests.Session) -> None:
        self.api = f"{served.base_url}/api/v3"
        self.control = f"{served.base_url}/_sandbox"
        self.http = http

    def token_response(self, form: dict[str, str]) -> requests.Response:
        return self.http.post(f"{self.api}/oauth2/token", data=form, timeout=TIMEOUT)

    def token(self, client_id: str) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": f"{client_id}-secret",
        }
        response = self.token_response(form)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def post(
        self, path: str, body: Any, client_id: str = "retailer-demo", scheme: str = "bearer"
    ) -> requests.Response:
        headers = {"Authorization": f"{scheme} {self.token(client_id)}"}
        return self.http.post(f"{self.api}{path}", json=body, headers=headers, timeout=TIMEOUT)

    def create(
        self, context: dict[str, Any], partner: str = NORTHWIND_ACME, client_id: str = "retailer-demo"
    ) -> requests.Response:
        body = {"title": "About an order", "otherPartyTradingPartnerId": partner, "context": context}
        return self.post("/conversation", body, client_id)

    def configure(self, changes: dict[str, Any]) -> None:
        response = self.http.put(f"{self.control}/config", json=changes, timeout=TIMEOUT)
        assert response.status_code == 200, response.text

    def advance(self, secs: float) -> None:
        response = self.http.post(f"{self.control}/clock", json={"advance": secs}, timeout=TIMEOUT)
        assert response.status_code == 200, response.text

    def events(self, **query: str) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.control}/events", params=query, timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["events"]
        return found

    def conversation_count(self) -> int:
        self.advance(6)
        response = self.post("/conversation/list", {"test": "all"})
        assert response.status_code == 200, response.text
        return len(response.json()["conversations"])


@pytest.fixture
def client(served: Served, http: requests.Session) -> Client:
    return Client(served, http)


def refused(response: requests.Response, field: str) -> str:
    """The first line of a 400 answer, which must name ``field``."""
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    first = response.text.splitlines()[0]
    assert first.startswith(f"{field}: "), response.text
    return first


# --- contexts: the fields the prose names ----------------------------------------------------------
def test_a_retailer_naming_an_order_by_supplier_order_number_must_name_the_supplier(client: Client) -> None:
    response = client.create({"type": "order", "supplierOrderNumber": "ACME-5001"})

    line = refused(response, "context.dscoAccountId")
    assert "dscoTradingPartnerId" in line
    assert client.conversation_count() == 0


@pytest.mark.parametrize(
    "supplier",
    [{"dscoAccountId": ACME_ID}, {"dscoTradingPartnerId": NORTHWIND_ACME}],
    ids=["by-id", "by-ref"],
)
def test_a_retailer_naming_the_orders_supplier_gets_the_order(
    client: Client, supplier: dict[str, str]
) -> None:
    client.configure({"strict": True})  # declared fields: accepted even in strict mode

    response = client.create({"type": "order", "supplierOrderNumber": "ACME-5001", **supplier})

    assert response.status_code == 201, response.text
    assert "X-Sandbox-Warning" not in response.headers
    context = response.json()["context"]
    assert context["poNumber"] == "123-456-789"
    assert not set(supplier) & set(context)  # they find the order; the conversation names its supplier


@pytest.mark.parametrize(
    ("supplier", "field"),
    [
        ({"dscoAccountId": GLOBEX_ID}, "context.dscoAccountId"),
        ({"dscoTradingPartnerId": NORTHWIND_GLOBEX}, "context.dscoTradingPartnerId"),
        ({"dscoTradingPartnerId": "nobody"}, "context.dscoTradingPartnerId"),
    ],
)
def test_a_supplier_field_naming_another_supplier_is_refused(
    client: Client, supplier: dict[str, str], field: str
) -> None:
    response = client.create({"type": "order", "poNumber": "123-456-789", **supplier})

    refused(response, field)
    assert client.conversation_count() == 0


def test_the_supplier_itself_needs_no_supplier_field_for_its_own_order_number(client: Client) -> None:
    context = {"type": "order", "supplierOrderNumber": "ACME-5001"}
    response = client.create(context, partner="NW-RETAIL", client_id="supplier-demo")
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("kind", ["catalog", "inventory"])
def test_item_contexts_take_the_supplier_fields_and_check_them(client: Client, kind: str) -> None:
    good = client.create({"type": kind, "sku": "SKU-RED-SHOE-9", "dscoAccountId": ACME_ID})
    assert good.status_code == 201, good.text
    assert "X-Sandbox-Warning" not in good.headers

    bad = client.create({"type": kind, "sku": "SKU-RED-SHOE-9", "dscoTradingPartnerId": NORTHWIND_GLOBEX})
    refused(bad, "context.dscoTradingPartnerId")


def test_an_invoice_context_may_name_the_invoice_by_dsco_invoice_id_alone(client: Client) -> None:
    client.configure({"strict": True})

    response = client.create({"type": "invoice", "dscoInvoiceId": "6100001"})

    assert response.status_code == 201, response.text
    assert response.json()["context"]["invoiceId"] == "ACME-INV-807064"


def test_an_invoice_context_needs_one_of_its_two_ids(client: Client) -> None:
    line = refused(client.create({"type": "invoice", "poNumber": "123-456-789"}), "context")
    assert "dscoInvoiceId" in line and "invoiceId" in line


@pytest.mark.parametrize("name", ["returnNumber", "partnerReturnNumber"])
def test_a_return_named_by_the_descriptions_words_points_to_the_schemas_fields(
    client: Client, name: str
) -> None:
    response = client.create({"type": "return", name: "R-1"}, partner=NORTHWIND_GLOBEX)

    line = refused(response, f"context.{name}")
    assert "supplierReturnNumber" in line and "retailerReturnNumber" in line


# --- GET /hello ------------------------------------------------------------------------------------
@pytest.mark.parametrize("authorization", [None, "bearer retailer-demo-token", "bearer not-a-token"])
def test_hello_answers_the_ping_with_or_without_a_token(client: Client, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = client.http.get(f"{client.api}/hello", headers=headers, timeout=TIMEOUT)

    assert response.status_code == 200, response.text
    assert response.json() == {"hello": "World!"}
    assert response.headers["Expires"] == "0"
    assert response.headers["Cache-Control"] == "no-cache"


def test_hello_is_outside_the_rate_limit_and_the_faults_and_is_journaled(client: Client) -> None:
    client.configure({"rateLimit": {"enabled": True, "perSecond": 1}, "faults": {"*": {"forceStatus": 503}}})

    statuses = [client.http.get(f"{client.api}/hello", timeout=TIMEOUT).status_code for _ in range(5)]

    assert statuses == [200] * 5
    events = client.events(operation="getHello")
    assert [e["status"] for e in events] == [200] * 5
    assert {e["path"] for e in events} == {"/api/v3/hello"}


# --- the token endpoint ----------------------------------------------------------------------------
def test_a_token_request_without_grant_type_is_taken_as_client_credentials(client: Client) -> None:
    response = client.token_response({"client_id": "retailer-demo", "client_secret": "retailer-demo-secret"})

    assert response.status_code == 200, response.text
    assert "grant_type" in response.headers["X-Sandbox-Warning"]
    assert "client_credentials" in response.headers["X-Sandbox-Warning"]
    token = response.json()["access_token"]
    listed = client.http.post(
        f"{client.api}/conversation/list",
        json={},
        headers={"Authorization": f"bearer {token}"},
        timeout=TIMEOUT,
    )
    assert listed.status_code == 200, listed.text


def test_strict_mode_refuses_a_token_request_without_grant_type(client: Client) -> None:
    client.configure({"strict": True})

    response = client.token_response({"client_id": "retailer-demo", "client_secret": "retailer-demo-secret"})

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert "grant_type" in response.json()["error_description"]


@pytest.mark.parametrize("scheme", ["bearer", "Bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_matched_case_insensitively(client: Client, scheme: str) -> None:
    response = client.post("/conversation/list", {}, scheme=scheme)
    assert response.status_code == 200, response.text


def test_access_tokens_are_url_safe(client: Client) -> None:
    tokens = {client.token("retailer-demo") for _ in range(5)}
    assert len(tokens) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9._~-]+", token) for token in tokens), tokens


# --- a scrollId with other attributes --------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "key"), [("/conversation/list", "conversations"), ("/conversation/message/list", "messages")]
)
def test_a_scroll_id_ignores_other_attributes_even_malformed_ones(
    client: Client, path: str, key: str
) -> None:
    client.configure({"pageSize": 2})
    for n in range(3):
        body = {
            "title": f"c{n}",
            "otherPartyTradingPartnerId": NORTHWIND_ACME,
            "initialMessage": {"message": "hi"},
        }
        assert client.post("/conversation", body).status_code == 201
    client.advance(6)
    first = client.post(path, {})
    assert first.status_code == 200, first.text
    malformed = {"until": "yesterday", "statuses": "new", "test": 42, "colour": "red", "sort": []}

    second = client.post(path, {"scrollId": first.json()["scrollId"], **malformed})

    assert second.status_code == 200, second.text
    assert len(second.json()[key]) == 1
    warning = second.headers["X-Sandbox-Warning"]
    assert warning.startswith("ignored beside scrollId: ")
    assert all(name in warning for name in malformed)


# --- query fields the descriptions offer -----------------------------------------------------------
def _shifted(instant: str, secs: int) -> str:
    moved = datetime.fromisoformat(instant.replace("Z", "+00:00")) + timedelta(seconds=secs)
    return moved.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_due_in_next_ms_finds_what_is_due_soon_and_with_past_due_what_is_late_too(client: Client) -> None:
    now = client.http.get(f"{client.control}/clock", timeout=TIMEOUT).json()["now"]
    titles = {}
    for title, offset in (("late", -3600), ("soon", 600), ("later", 7200)):
        body = {
            "title": title,
            "otherPartyTradingPartnerId": NORTHWIND_ACME,
            "dueDate": _shifted(now, offset),
        }
        response = client.post("/conversation", body)
        assert response.status_code == 201, response.text
        titles[response.json()["id"]] = title
    client.advance(6)

    def found(query: dict[str, Any]) -> list[str]:
        response = client.post("/conversation/list", query)
        assert response.status_code == 200, response.text
        assert "X-Sandbox-Warning" not in response.headers
        return [titles[c["id"]] for c in response.json()["conversations"]]

    assert found({"dueInNextMs": 3_600_000}) == ["soon"]
    assert found({"dueInNextMs": 3_600_000, "pastDue": True}) == ["late", "soon"]
    assert found({"pastDue": True}) == ["late"]
    assert found({"pastDue": False}) == ["soon", "later"]


def test_conversations_updated_since_is_another_name_for_updated_since(client: Client) -> None:
    first = client.post("/conversation", {"title": "one", "otherPartyTradingPartnerId": NORTHWIND_ACME})
    client.advance(10)
    since = client.http.get(f"{client.control}/clock", timeout=TIMEOUT).json()["now"]
    second = client.post("/conversation", {"title": "two", "otherPartyTradingPartnerId": NORTHWIND_ACME})
    assert first.status_code == second.status_code == 201
    client.advance(6)

    response = client.post("/conversation/list", {"conversationsUpdatedSince": since})

    assert response.status_code == 200, response.text
    assert [c["title"] for c in response.json()["conversations"]] == ["two"]
    assert "X-Sandbox-Warning" not in response.headers


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"otherPartyDscAccountId": ACME_ID}, "otherPartyTradingPartnerId"),
        (
            {
                "otherPartyTradingPartnerId": NORTHWIND_ACME,
                "type": {"type": "customer_care", "consumer_id": "1"},
            },
            "type.consumerId",
        ),
    ],
    ids=["otherPartyDscAccountId", "consumer_id"],
)
def test_the_descriptions_misspelt_names_are_not_taken_for_the_schemas(
    client: Client, body: dict[str, Any], field: str
) -> None:
    response = client.post("/conversation", {"title": "Misspelt", **body})

    refused(response, field)
    assert client.conversation_count() == 0


# --- what the query descriptions ask for, which only strict mode enforces ---------------------------
@pytest.mark.parametrize("path", ["/conversation/list", "/conversation/message/list"])
def test_an_empty_query_is_answered_but_strict_mode_refuses_it(client: Client, path: str) -> None:
    assert client.post(path, {}).status_code == 200
    client.configure({"strict": True})

    response = client.post(path, {})

    assert response.status_code == 400, response.text
    assert "at least one criterion" in response.text


def test_strict_mode_asks_a_conversation_query_for_updated_since_unless_it_names_one(client: Client) -> None:
    created = client.post("/conversation", {"title": "one", "otherPartyTradingPartnerId": NORTHWIND_ACME})
    assert created.status_code == 201, created.text
    client.advance(6)
    client.configure({"strict": True})

    refused(client.post("/conversation/list", {"test": "all"}), "updatedSince")
    since = {"updatedSince": "2000-01-01T00:00:00Z"}
    assert len(client.post("/conversation/list", since).json()["conversations"]) == 1
    assert (
        client.post("/conversation/list", {"conversationsUpdatedSince": since["updatedSince"]}).status_code
        == 200
    )
    by_id = client.post("/conversation/list", {"dscoConversationId": created.json()["id"]})
    assert by_id.status_code == 200, by_id.text
    assert client.post("/conversation/message/list", {"test": "all"}).status_code == 200
