"""``serve --state-file F`` keeps every namespace: one file each in ``F.namespaces/``, brought back
with its data, settings, tokens, control token and personas by a restarted server."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from serve_support import start

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": "bearer root-token"}
FORM = {
    "grant_type": "client_credentials",
    "client_id": "retailer-demo",
    "client_secret": "retailer-demo-secret",
}


def test_namespaces_survive_a_restart_and_deleted_ones_stay_gone(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    options = ("--state-file", str(state), "--admin-token", "root-token", "--no-rate-limit")
    first = start(*options)
    try:
        base = first.base_url
        for name in ("kept", "dropped"):
            created = requests.post(
                f"{base}/_sandbox/namespaces", json={"name": name}, headers=ADMIN, timeout=10
            )
            assert created.status_code == 201, created.text
            if name == "kept":
                own = {"Authorization": f"bearer {created.json()['token']}"}
        token = requests.post(f"{base}/ns/kept/api/v3/oauth2/token", data=FORM, timeout=10).json()[
            "access_token"
        ]
        body = {"title": "Kept across restarts", "otherPartyTradingPartnerId": "aaa-bbb-ccc"}
        bearer = {"Authorization": f"bearer {token}"}
        assert requests.post(f"{base}/ns/kept/api/v3/conversation", json=body, headers=bearer, timeout=10).ok
        personas = {"supplier": {"accounts": ["2000001"]}}
        assert requests.put(f"{base}/ns/kept/_sandbox/personas", json=personas, headers=own, timeout=10).ok
        assert requests.delete(f"{base}/_sandbox/namespaces/dropped", headers=ADMIN, timeout=10).ok
    finally:
        assert first.stop() == 0
    assert sorted(p.name for p in (tmp_path / "state.json.namespaces").iterdir()) == ["kept.json"]

    second = start(*options)
    try:
        base = second.base_url
        saved = requests.get(f"{base}/ns/kept/_sandbox/state", headers=own, timeout=10).json()
        assert [c["title"] for c in saved["conversations"]] == ["Kept across restarts"]
        listed = requests.post(
            f"{base}/ns/kept/api/v3/conversation/list", json={}, headers=bearer, timeout=10
        )
        assert listed.status_code != 401  # the access token issued before the restart still works
        shown = requests.get(f"{base}/ns/kept/_sandbox/personas", headers=own, timeout=10).json()
        assert shown["active"] == {"retailer": [], "supplier": ["2000001"]}
        assert (
            requests.get(f"{base}/ns/dropped/_sandbox/health", headers=ADMIN, timeout=10).status_code == 404
        )
        assert requests.get(f"{base}/_sandbox/state", headers=ADMIN, timeout=10).json()["conversations"] == []
    finally:
        second.stop()
