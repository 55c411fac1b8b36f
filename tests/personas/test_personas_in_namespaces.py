"""Personas belong to one sandbox: switched on in a namespace, they act there only, and neither the
default sandbox nor another namespace sees them or their conversations."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig
from simulator.http.namespace_control import create_server_app
from simulator.http.namespaces import NamespaceOptions
from simulator.storage.namespace_store import NamespaceFolder

SANDBOXES = ("", "/ns/a", "/ns/b")
"""The default sandbox and two namespaces, by the prefix of their paths."""
BUSY = {"retailer": {"accounts": ["1000001"], "conversationsPerHour": 6, "standardPerHour": 0}}


def _persona_entries(web: FlaskClient, prefix: str) -> list[dict[str, Any]]:
    events = web.get(f"{prefix}/_sandbox/events?kind=request").get_json()["events"]
    return [e for e in events if "persona" in e]


def test_personas_switched_on_in_one_namespace_act_there_only(contract: Contract) -> None:
    config = ServerConfig(sandbox=SandboxConfig(rate_limit=False, lag_min=0, lag_max=0))
    web = create_server_app(config, NamespaceOptions(), contract=contract).test_client()
    for name in ("a", "b"):
        assert web.post("/_sandbox/namespaces", json={"name": name}).status_code == 201
    assert web.put("/ns/a/_sandbox/personas", json=BUSY).status_code == 200

    for prefix in SANDBOXES:
        assert web.post(f"{prefix}/_sandbox/clock", json={"freeze": True}).status_code == 200
        assert web.post(f"{prefix}/_sandbox/clock", json={"advance": 4 * 3600}).status_code == 200

    acted = _persona_entries(web, "/ns/a")
    assert [e for e in acted if e["operation"] == "createConversation" and e["status"] == 201]
    assert {e["account"] for e in acted} == {"1000001"}
    assert web.get("/ns/a/_sandbox/personas").get_json()["active"]["retailer"] == ["1000001"]
    for prefix in ("", "/ns/b"):
        assert _persona_entries(web, prefix) == []
        assert web.get(f"{prefix}/_sandbox/personas").get_json()["active"] == {"retailer": [], "supplier": []}
        assert web.get(f"{prefix}/_sandbox/state").get_json()["conversations"] == []


def test_a_deleted_namespace_stops_its_personas_and_stays_deleted(contract: Contract, tmp_path: Path) -> None:
    """Personas acting on wall time in a namespace stop with it: a deleted namespace is never saved
    again (its record would bring it back at the next start)."""
    store = NamespaceFolder(tmp_path / "namespaces")
    config = ServerConfig(sandbox=SandboxConfig(rate_limit=False), persona_tick=0.05)
    web = create_server_app(config, NamespaceOptions(store=store), contract=contract).test_client()
    assert web.post("/_sandbox/namespaces", json={"name": "a"}).status_code == 201
    accounts = ["1000001", "1000002"]
    busy = {"retailer": {"accounts": accounts, "conversationsPerHour": 3600, "standardPerHour": 0}}
    assert web.put("/ns/a/_sandbox/personas", json=busy).status_code == 200
    deadline = time.monotonic() + 15
    while not _persona_entries(web, "/ns/a") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _persona_entries(web, "/ns/a"), "the persona did not act in 15 s at 3600 per hour"
    sandbox = web.application.extensions["dsco_namespaces"].get("a").sandbox
    assert web.delete("/_sandbox/namespaces/a").status_code == 200
    acted = len(sandbox.journal.entries(kind="request"))
    time.sleep(2)  # 40 ticks, about four openings' worth of wall time for two accounts at that rate
    assert len(sandbox.journal.entries(kind="request")) == acted  # its personas stopped with it
    assert store.load() == []
