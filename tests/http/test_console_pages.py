"""The landing page (HTML for a browser, JSON for a client asking for it), the docs, and what the
console's pages show."""

from __future__ import annotations

import html
import json
import re

import pytest
from console_support import post_form
from flask import Flask
from http_support import ACCOUNT_IDS, ACME, NORTHWIND, Api

from simulator import __version__

LINKS = {"api": "/api/v3", "controlPlane": "/_sandbox", "docs": "/docs", "console": "/console/conversations"}
RETAILER, SUPPLIER = ACCOUNT_IDS[NORTHWIND], ACCOUNT_IDS[ACME]


def text(app: Flask, path: str) -> str:
    response = app.test_client().get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


# --- the landing page ---------------------------------------------------------------------------
@pytest.mark.parametrize("accept", [None, "*/*", "text/html,application/xhtml+xml,*/*;q=0.8"])
def test_the_root_is_a_page_that_says_what_this_is_and_links_the_rest(app: Flask, accept: str | None) -> None:
    response = app.test_client().get("/", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Vary"] == "Accept"
    page = response.get_data(as_text=True)
    assert "simulator of Rithum" in page
    for path in LINKS.values():
        assert f'href="{path}"' in page


@pytest.mark.parametrize("accept", ["application/json", "application/json, text/html;q=0.5"])
def test_a_client_asking_for_json_gets_the_same_links_as_json(app: Flask, accept: str) -> None:
    response = app.test_client().get("/", headers={"Accept": accept})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json == {
        "name": "dsco-sandbox",
        "version": __version__,
        "description": "A local, stateful simulator of the Dsco v3 Conversation API",
        "links": LINKS,
    }


def test_every_link_of_the_landing_page_answers(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/_sandbox/health").status_code == 200
    assert client.post("/api/v3/conversation/list", json={}).status_code == 401  # the API, asking for a token
    for path in ("/docs", "/console/conversations"):
        assert client.get(path).status_code == 200


def test_the_docs_serve_the_contracts_and_nothing_else(app: Flask) -> None:
    client = app.test_client()
    page = text(app, "/docs")
    for name in ("openapi.yaml", "sandbox-openapi.yaml", "world.schema.json", "scenario.schema.json"):
        assert f'href="/docs/contracts/{name}"' in page
        assert client.get(f"/docs/contracts/{name}").status_code == 200
    assert "createConversation" in client.get("/docs/contracts/openapi.yaml").get_data(as_text=True)
    assert client.get("/docs/contracts/schemas/conversation.json").json["title"] == "Conversation"  # type: ignore[index]
    for path in (
        "/docs/contracts/../pyproject.toml",
        "/docs/contracts/%2e%2e/README.md",
        "/docs/contracts/x.py",
    ):
        assert client.get(path).status_code == 404


# --- pages ----------------------------------------------------------------------------------------
def test_the_accounts_page_shows_each_partner_id(app: Flask) -> None:
    page = text(app, "/console/accounts")
    assert "Northwind Retail" in page and "Acme Supply Co" in page
    assert "<code>aaa-bbb-ccc</code>" in page and "<code>NW-RETAIL</code>" in page
    assert "<code>123-456-789</code>" in page  # the orders a context can point at


def test_the_conversation_list_applies_the_apis_visibility_and_filters(api: Api) -> None:
    open_one = api.customer_care(referenceId="CASE-1", context={"type": "order", "poNumber": "123-456-789"})
    closed = api.conversation(NORTHWIND, title="Closed one")
    api.update(NORTHWIND, {"dscoConversationId": closed["id"], "status": "closed"})
    base = f"/console/conversations?as={RETAILER}"
    assert "No conversations match." in text(api.client.application, base)  # still in lag
    pending = text(api.client.application, base + "&pending=on")
    assert "A question" in pending and "in lag" in pending
    api.settle()
    listed = text(api.client.application, base)
    assert "2 conversations" in listed
    assert "Closed one" not in text(api.client.application, base + "&status=in_progress&status=new")
    only_closed = text(api.client.application, base + "&status=closed")
    assert "Closed one" in only_closed and "1 conversation<" in only_closed
    for query in ("q=case-1", "q=123-456", "kind=customer_care", "context=order"):
        found = text(api.client.application, f"{base}&{query}")
        assert "1 conversation<" in found and open_one["id"] in found, query
    assert "No conversations match." in text(api.client.application, base + "&test=yes")
    other = text(api.client.application, f"/console/conversations?as={ACCOUNT_IDS['retailer2-demo']}")
    assert "No conversations match." in other  # another retailer does not see them


def test_the_conversation_list_is_paged(api: Api) -> None:
    for n in range(30):
        api.conversation(NORTHWIND, title=f"Question {n:02d}")
    api.settle()
    first = text(api.client.application, f"/console/conversations?as={RETAILER}")
    assert "30 conversations, page 1 of 2" in first and 'rel="next"' in first
    second = text(api.client.application, f"/console/conversations?as={RETAILER}&page=2")
    assert "page 2 of 2" in second and 'rel="prev"' in second
    assert second.count("<tr>") - 1 == 5


def test_the_thread_shows_messages_in_order_and_what_each_party_receives(api: Api) -> None:
    conversation = api.customer_care(
        referenceId="CASE-1",
        context={"type": "order", "poNumber": "123-456-789"},
        initialMessage={"message": "Where is it?"},
    )
    api.message(ACME, conversation["id"], "On its way")
    page = text(api.client.application, f"/console/conversations/{conversation['id']}")
    assert page.index("Where is it?") < page.index("On its way")
    assert "message_from_consumer" in page and "response_to_consumer" in page
    assert "Visible to the API from" in page and "(still in post-processing lag)" in page
    order_link = re.search(r'href="(/console/orders/[^"]+)"', page)
    assert order_link and "123-456-789" in text(api.client.application, order_link.group(1))
    raw = [json.loads(html.unescape(block)) for block in re.findall(r"<pre>(\{.*?)</pre>", page, re.S)]
    views = {view["conversation"]["id"]: view for view in raw if "conversation" in view}
    assert len(views) == 1 and len([view for view in raw if "conversation" in view]) == 2
    retailer_view, supplier_view = (view for view in raw if "conversation" in view)
    assert retailer_view["conversation"]["retailerReferenceId"] == "CASE-1"
    assert supplier_view["messages"][0]["dscoTradingPartnerId"] == "NW-RETAIL"  # as the supplier names it


def test_an_unknown_conversation_order_or_account_is_a_404(api: Api) -> None:
    client = api.client
    for path, why in (
        ("/console/conversations/nope", "no conversation 'nope'"),
        ("/console/orders/nope", "no order with dscoOrderId 'nope' in this world"),
        ("/console/conversations?as=nope", "no account 'nope' in this world"),
    ):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_data(as_text=True).strip() == why


def test_the_journal_page_filters_and_highlights_refusals(api: Api) -> None:
    api.conversation(NORTHWIND)
    refused = api.list_conversations(ACME, {"statuses": ["archived"]})
    assert refused.status_code == 400
    app = api.client.application
    page = text(app, "/console/journal?status=refused")
    assert page.count('class="entry request refused"') == 1
    assert "statuses[0]: &#39;archived&#39; is not one of new, in_progress, closed" in page
    supplier_calls = text(app, f"/console/journal?account={SUPPLIER}&kind=request")
    assert "<strong>getConversations</strong>" in supplier_calls
    assert "<strong>createConversation</strong>" not in supplier_calls
    assert 'http-equiv="refresh"' in text(app, "/console/journal?live=on")
    assert 'http-equiv="refresh"' not in text(app, "/console/journal")


def test_browsing_the_console_is_not_journaled(api: Api) -> None:
    before = len(api.sandbox.journal.entries())
    for path in ("/", "/console/conversations", "/console/journal", "/console/settings", "/console/accounts"):
        api.client.get(path)
    assert len(api.sandbox.journal.entries()) == before


def test_every_page_has_a_label_for_each_field_and_one_main(api: Api) -> None:
    conversation = api.conversation(NORTHWIND)
    post_form(api.client, "/console/settings/clock", {"command": "advance", "seconds": "1"})
    for path in (
        "/",
        "/console/accounts",
        f"/console/conversations?as={RETAILER}",
        f"/console/conversations/{conversation['id']}",
        "/console/journal",
        "/console/settings",
    ):
        page = text(api.client.application, path)
        assert page.count("<main") == 1 and '<html lang="en">' in page
        ids = set(re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\sid="([^"]+)"', page))
        fields = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*>', page)
        assert len(ids) == len(fields), (path, "a field without an id")
        labelled = set(re.findall(r'<label for="([^"]+)"', page))
        assert ids <= labelled, (path, ids - labelled)
