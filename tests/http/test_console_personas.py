"""The console's persona page: it shows what ``GET /_sandbox/personas`` shows and switches each role
through the same replace as ``PUT /_sandbox/personas``, refusals explained and changing nothing."""

from __future__ import annotations

import html
import json
from pathlib import Path

from console_support import ORIGIN, csrf, post_form, shown
from flask import Flask
from flask.testing import FlaskClient

from simulator.contract.validation import Contract
from simulator.http import ServerConfig, create_app

PAGE = "/console/personas"


def personas(client: FlaskClient) -> dict[str, object]:
    found: dict[str, object] = client.get("/_sandbox/personas").get_json()
    return found


def test_the_page_shows_who_is_played_and_the_pending_count(app: Flask) -> None:
    client = app.test_client()
    page = client.get(PAGE).get_data(as_text=True)
    assert 'id="played-retailer">Off: plays no account' in page
    assert 'id="pending">0<' in page
    assert client.put("/_sandbox/personas", json={"supplier": {"accounts": ["2000002"]}}).status_code == 200
    page = client.get(PAGE).get_data(as_text=True)
    assert 'id="played-supplier">Plays 2000002<' in page
    assert 'id="played-retailer">Off' in page
    pending = personas(client)["pending"]
    assert f'id="pending">{pending}<' in page
    assert 'href="/console/personas" aria-current="page"' in page  # in the console's navigation


def test_switching_a_role_on_for_all_then_named_then_off_is_the_control_planes_change(app: Flask) -> None:
    client = app.test_client()
    response = post_form(client, PAGE, {"role": "retailer", "mode": "all"})
    assert response.status_code == 303 and response.headers["Location"] == PAGE
    state, lines, _ = shown(client, PAGE)
    assert state == "ok" and lines == ["the retailer persona plays 1000001, 1000002"], lines
    shown_now = personas(client)
    assert shown_now["active"] == {"retailer": ["1000001", "1000002"], "supplier": []}
    assert shown_now["pending"] > 0  # type: ignore[operator]  # the schedule restarted with them on

    post_form(client, PAGE, {"role": "supplier", "mode": "named", "accounts": " 2000002, "})
    assert personas(client)["active"] == {"retailer": ["1000001", "1000002"], "supplier": ["2000002"]}
    post_form(client, PAGE, {"role": "retailer", "mode": "off"})
    assert personas(client)["active"] == {"retailer": [], "supplier": ["2000002"]}
    assert client.get("/_sandbox/state").get_json()["personas"]["retailer"]["enabled"] is False


def test_a_refused_switch_shows_the_explanation_and_changes_nothing(app: Flask) -> None:
    client = app.test_client()
    post_form(client, PAGE, {"role": "supplier", "mode": "all"})
    before = personas(client)
    for fields, field in (
        ({"role": "supplier", "mode": "named", "accounts": "1000001"}, "supplier.accounts[0]"),
        ({"role": "supplier", "mode": "named", "accounts": "no-such"}, "supplier.accounts[0]"),
        ({"role": "supplier", "mode": "sometimes"}, "supplier.enabled"),
    ):
        assert post_form(client, PAGE, fields).status_code == 303
        state, lines, _ = shown(client, PAGE)
        assert state == "refused" and lines and lines[0].startswith(field), (fields, lines)
        assert personas(client) == before
    refused = post_form(client, PAGE, {"role": "consumer", "mode": "all"})
    assert refused.status_code == 400 and "role" in refused.get_data(as_text=True)
    assert personas(client) == before


def test_the_persona_form_needs_the_sessions_csrf_token(app: Flask) -> None:
    client = app.test_client()
    csrf(client)  # a session exists, but this post does not carry its token
    refused = client.post(PAGE, data={"role": "retailer", "mode": "all"}, headers={"Origin": ORIGIN})
    assert refused.status_code == 403
    foreign = post_form(client, PAGE, {"role": "retailer", "mode": "all"}, Origin="http://evil.example")
    assert foreign.status_code == 403
    assert personas(client)["active"] == {"retailer": [], "supplier": []}


def test_a_switch_is_kept_by_the_after_change_hook(contract: Contract, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    app = create_app(ServerConfig(state_file=state_file), contract=contract)
    client = app.test_client()
    post_form(client, PAGE, {"role": "supplier", "mode": "named", "accounts": "2000001"})
    saved = json.loads(state_file.read_text("utf-8"))
    assert saved["personas"]["supplier"]["accounts"] == ["2000001"]
    assert saved["personas"]["supplier"]["enabled"] is True


def test_the_page_shows_the_whole_configuration_as_the_control_plane_does(app: Flask) -> None:
    client = app.test_client()
    page = client.get(PAGE).get_data(as_text=True)
    raw = page.split("<pre>", 1)[1].split("</pre>", 1)[0]
    assert json.loads(html.unescape(raw)) == personas(client)
