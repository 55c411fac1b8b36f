"""The sandbox's own control plane: health and reset."""

from __future__ import annotations

from http_support import ACME, LEGACY_TOKENS, NORTHWIND, Api


def test_health_is_ok(api: Api) -> None:
    response = api.client.get("/_sandbox/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_reset_empties_conversations_but_keeps_tokens_and_the_clock(api: Api) -> None:
    cid = api.customer_care(referenceId="NW-1", initialMessage={"message": "hello"})["id"]
    api.message(ACME, cid)
    api.settle()
    assert api.conversations(NORTHWIND) and api.messages(ACME)
    token = api.token(NORTHWIND)
    now = api.now()
    response = api.client.post("/_sandbox/reset")
    assert response.status_code == 200
    assert api.now() == now
    assert api.sandbox.clock.frozen
    assert api.sandbox.store.counts() == (0, 0)
    assert api.token(NORTHWIND) == token  # still cached, and still valid:
    assert api.conversations(NORTHWIND) == []
    assert api.messages(ACME) == []
    # Reference ids are free again, and the world is as loaded.
    again = api.customer_care(referenceId="NW-1", context={"type": "order", "poNumber": "123-456-789"})
    assert again["retailerReferenceId"] == "NW-1"


def test_reset_forgets_open_scrolls(api: Api) -> None:
    api.sandbox.config.page_size = 1
    api.conversation(NORTHWIND)
    api.conversation(NORTHWIND)
    api.settle()
    first = api.list_conversations(NORTHWIND).json
    assert first is not None and "scrollId" in first
    api.client.post("/_sandbox/reset")
    assert api.list_conversations(NORTHWIND, {"scrollId": first["scrollId"]}).status_code == 404


def test_reset_keeps_legacy_tokens_working(api: Api) -> None:
    api.client.post("/_sandbox/reset")
    headers = {"Authorization": f"bearer {LEGACY_TOKENS[ACME]}"}
    assert api.client.post("/api/v3/conversation/list", json={}, headers=headers).status_code == 200


def test_reset_keeps_sandbox_settings(api: Api) -> None:
    api.sandbox.config.page_size = 3
    api.sandbox.config.strict = True
    api.client.post("/_sandbox/reset")
    assert api.sandbox.config.page_size == 3
    assert api.sandbox.config.strict is True


def test_health_and_reset_need_no_token(api: Api) -> None:
    assert api.client.get("/_sandbox/health").status_code == 200
    assert api.client.post("/_sandbox/reset").status_code == 200


def test_an_unknown_control_route_is_404(api: Api) -> None:
    assert api.client.get("/_sandbox/nope").status_code == 404
