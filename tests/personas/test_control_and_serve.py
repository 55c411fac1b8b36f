"""``/_sandbox/personas`` and the serve options: read, switch on, refuse bad input whole."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from simulator.cli import main
from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.http import ServerConfig, create_app


def client(contract: Contract, **config: object) -> FlaskClient:
    app = create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False), **config), contract=contract)  # type: ignore[arg-type]
    return app.test_client()


def test_nobody_acts_until_switched_on_and_a_put_switches_on(contract: Contract) -> None:
    http = client(contract)
    shown = http.get("/_sandbox/personas").get_json()
    assert shown["active"] == {"retailer": [], "supplier": []}
    changed = http.put("/_sandbox/personas", json={"supplier": {"accounts": ["2000002"]}})
    assert changed.status_code == 200
    assert changed.get_json()["active"] == {"retailer": [], "supplier": ["2000002"]}
    assert http.get("/_sandbox/state").get_json()["personas"]["supplier"]["enabled"] is True


def test_a_bad_configuration_is_refused_by_field_and_changes_nothing(contract: Contract) -> None:
    http = client(contract, persona_options=(("retailer", None),))
    before = http.get("/_sandbox/personas").get_json()
    for body, field in (
        ({"retailer": {"closeChance": 2}}, "retailer.closeChance"),
        ({"supplier": {"accounts": ["1000001"]}}, "supplier.accounts[0]"),
        (
            {
                "supplier": {
                    "answers": [{"kind": "other", "message": "{nope}", "question": "?", "reminder": "!"}]
                }
            },
            "supplier.answers[0].message",
        ),
    ):
        refused = http.put("/_sandbox/personas", json=body)
        assert refused.status_code == 400 and refused.get_data(as_text=True).startswith(field), (
            refused.get_data(as_text=True)
        )
    assert http.get("/_sandbox/personas").get_json() == before


def test_an_advance_through_the_control_plane_runs_the_personas(contract: Contract) -> None:
    http = client(contract, persona_options=(("retailer", ["1000001"]),))
    http.post("/_sandbox/clock", json={"freeze": True})
    http.post("/_sandbox/clock", json={"advance": 4 * 3600})
    events = http.get("/_sandbox/events?kind=request").get_json()["events"]
    marked = [e for e in events if "persona" in e]
    assert marked and all(e["account"] == "1000001" for e in marked)
    opened = [e for e in marked if e["operation"] == "createConversation"]
    assert opened and {(e["method"], e["path"], e["status"]) for e in opened} == {
        ("POST", "/api/v3/conversation", 201)
    }
    schema = contract.schema_uri("schemas/sandbox-journal-entry.json")
    assert all(contract.validate(schema, e) == [] for e in marked)


def test_serve_refuses_a_bad_persona_file_one_line_per_problem(tmp_path: Path, capsys: object) -> None:
    path = tmp_path / "personas.yaml"
    path.write_text(
        "retailer:\n"
        "  conversationsPerHour: -1\n"
        "  complaints:\n"
        "    - kind: late_order\n"
        '      title: "Late {poNumbr}"\n'
        "      message: m\n      followUp: f\n      thanks: t\n      reply: r\n      reopen: o\n"
        "supplier:\n  bogus: 1\n",
        "utf-8",
    )
    assert main(["serve", "--port", "0", "--personas", str(path)]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    lines = [line for line in err.splitlines() if line.startswith(str(path))]
    assert [line.split(": ", 2)[:2] for line in lines] == [
        [f"{path}:2", "retailer.conversationsPerHour"],
        [f"{path}:5", "retailer.complaints[0].title"],
        [f"{path}:12", "supplier.bogus"],
    ]
    assert "unknown placeholder {poNumbr}" in err


def test_the_built_in_behaviours_fit_the_schema(contract: Contract) -> None:
    from simulator.personas import default_document

    document = default_document(contract)
    assert set(document) == {"retailer", "supplier"}


def test_on_a_running_clock_personas_act_as_time_passes(contract: Contract) -> None:
    http = client(contract, persona_tick=0.05)
    busy = {"accounts": ["1000001"], "conversationsPerHour": 3600, "standardPerHour": 0}
    assert http.put("/_sandbox/personas", json={"retailer": busy}).status_code == 200
    deadline = time.monotonic() + 15
    opened: list[dict[str, object]] = []
    while not opened and time.monotonic() < deadline:
        time.sleep(0.1)
        events = http.get("/_sandbox/events?kind=request").get_json()["events"]
        opened = [e for e in events if e.get("persona") == {"role": "retailer", "action": "open"}]
    assert opened, "the retailer persona opened nothing in 15 s of wall time at 3600 per hour"
    http.put("/_sandbox/personas", json={})  # everyone off again


def test_a_state_file_keeps_the_personas_across_a_restart(contract: Contract, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = client(contract, state_file=state, persona_options=(("supplier", ["2000001"]),))
    assert first.post("/_sandbox/clock", json={"freeze": True}).status_code == 200  # a change: saved
    second = client(contract, state_file=state)
    assert second.get("/_sandbox/personas").get_json()["active"] == {"retailer": [], "supplier": ["2000001"]}
    # Options given at a start win over the saved configuration.
    third = client(contract, state_file=state, persona_options=(("retailer", ["1000002"]),))
    assert third.get("/_sandbox/personas").get_json()["active"]["retailer"] == ["1000002"]


def test_a_world_can_carry_its_personas(contract: Contract, tmp_path: Path) -> None:
    from simulator.loading.resources import default_world_path

    world = json.loads(default_world_path().read_text("utf-8"))
    world["personas"] = {"supplier": {"answerAfter": {"min": 10, "max": 20}}}
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world), "utf-8")
    shown = client(contract, world_path=path).get("/_sandbox/personas").get_json()
    assert shown["active"] == {"retailer": [], "supplier": ["2000001", "2000002"]}
    assert shown["supplier"]["answerAfter"] == {"min": 10, "max": 20}


def test_the_readme_persona_file_is_one_serve_accepts(contract: Contract, tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = readme.split("## Counterparts that act (personas)", 1)[1].split("\n## ", 1)[0]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "personas.yaml"
    path.write_text(block, "utf-8")
    shown = client(contract, personas_file=path).get("/_sandbox/personas").get_json()
    assert shown["active"] == {"retailer": ["1000001"], "supplier": ["2000001", "2000002"]}
    assert shown["retailer"]["followUpAfter"] == 600


def test_a_persona_message_reaches_the_recipients_webhook(contract: Contract, tmp_path: Path) -> None:
    received: list[dict[str, object]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        from simulator.loading.resources import default_world_path

        world = json.loads(default_world_path().read_text("utf-8"))
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        world["accounts"][0]["webhook"] = {"url": url, "secret": "s3cret"}  # Northwind, 1000001
        path = tmp_path / "world.json"
        path.write_text(json.dumps(world), "utf-8")
        http = client(contract, world_path=path)
        http.post("/_sandbox/clock", json={"freeze": True})
        quick = {"accounts": ["2000001"], "answerAfter": {"min": 60, "max": 60}, "questionChance": 0}
        assert http.put("/_sandbox/personas", json={"supplier": quick}).status_code == 200
        body = {
            "otherPartyTradingPartnerId": "aaa-bbb-ccc",
            "title": "Late order",
            "type": {"type": "customer_care", "consumerId": "12345"},
            "initialMessage": {"message": "Where is my parcel?"},
        }
        headers = {"Authorization": "bearer retailer-demo-token"}
        assert http.post("/api/v3/conversation", json=body, headers=headers).status_code == 201
        http.post("/_sandbox/clock", json={"advance": 120})
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert received, "no webhook call for the persona's answer"
        message = received[0]["message"]
        assert isinstance(message, dict) and message["dscoAccountId"] == "2000001"
    finally:
        receiver.shutdown()


def test_serve_refuses_persona_options_naming_accounts_it_cannot_play(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--port", "0", "--persona", "retailer=2000001,999"]) == 2
    assert capsys.readouterr().err.splitlines()[1:] == [
        "--persona: retailer.accounts[0]: account '2000001' is a supplier, not a retailer",
        "--persona: retailer.accounts[1]: no account '999' in this world",
    ]
    with pytest.raises(SystemExit):
        main(["serve", "--persona", "consumer"])
    assert "expected retailer or supplier" in capsys.readouterr().err
