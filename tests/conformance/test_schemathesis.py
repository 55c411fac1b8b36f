"""Schemathesis holds the sandbox to contracts/openapi.yaml, in-process and over the wire.

In-process (WSGI): every operation gets the contract's examples, coverage of its constraints and
random valid and invalid bodies; then a stateful run follows the contract's links (create a
conversation, then update it, post to it, list its messages; post a message, then find it). All
checks run except positive_data_acceptance: a random schema-valid body names partners, orders and
conversations that do not exist, so the right answer is a 400, not a 2xx. The configuration is the
one ``dsco-sandbox contract test`` uses (:func:`simulator.conformance.load_contract`).

Over the wire: ``run_conformance`` against a real ``serve`` passes (exit 0), against a deliberately
broken server fails (exit 1), and against nothing at all cannot run (exit 2).
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from hypothesis import settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok
from schemathesis.core.transforms import UNRESOLVABLE
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput

from simulator.conformance import load_contract, run_conformance
from simulator.domain.clock import parse_rfc3339
from simulator.domain.config import SandboxConfig
from simulator.domain.sandbox import Sandbox
from simulator.http import ServerConfig, create_app

pytestmark = pytest.mark.slow

TOKEN = "retailer-demo-token"
APP = create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False, lag_min=0, lag_max=0)))
SANDBOX: Sandbox = APP.extensions["dsco_sandbox"]
_start = parse_rfc3339("2026-05-01T10:00:00Z")
assert _start is not None
START: int = _start
SANDBOX.clock.freeze()
SANDBOX.clock.set(START)
schema = load_contract(token=TOKEN, max_examples=25, stateful=True)
schema.app = APP


@schema.parametrize()
def test_every_operation_keeps_the_contract(case: Case[Any]) -> None:
    case.call_and_validate()


def test_a_due_date_before_the_year_1000_is_echoed_in_rfc_3339() -> None:
    """Found by the stateful run below: years before 1000 were rendered with three digits."""
    client = APP.test_client()
    body = {
        "title": "Old",
        "otherPartyTradingPartnerId": "aaa-bbb-ccc",
        "dueDate": "0306-01-25T19:07:52-11:35",
    }
    response = client.post("/api/v3/conversation", json=body, headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["dueDate"] == "0306-01-26T06:42:52.000Z"


class ContractWorkflow(schema.as_state_machine()):  # type: ignore[misc]
    def setup(self) -> None:
        """Every scenario starts from the same sandbox (no conversations, same ids, same time), so
        that Hypothesis replaying a scenario gets the same answers."""
        SANDBOX.reset()
        SANDBOX.clock.set(START)

    def step(self, input: StepInput) -> StepOutput:
        """Follow every link in full, so that a replayed scenario meets the same API state.

        Schemathesis applies each field a link provides with a coin flip drawn from true
        randomness, outside Hypothesis's control: the same generated scenario then sometimes
        carries the id it just created and sometimes a random one, the API answers differently,
        and Hypothesis reports ``FlakyStrategyDefinition``. Valid (positive) cases get every linked
        field; invalid ones are refused whatever the link gives them, so they are left alone.
        """
        transition, case = input.transition, input.case
        extracted = transition.request_body if transition is not None else None
        linked = extracted.value.ok() if extracted is not None and isinstance(extracted.value, Ok) else None
        positive = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
        if positive and isinstance(linked, dict) and isinstance(case.body, dict):
            case.body.update({name: value for name, value in linked.items() if value is not UNRESOLVABLE})
        output: StepOutput = super().step(input)
        return output

    def before_call(self, case: Case[Any]) -> None:
        """Let valid creates name a real partner, so that the links have something to follow.

        A random createConversation body names a partner and a context that do not exist and is
        refused (400), which would leave the links from its 201 unexplored. A valid (positive)
        body keeps every generated field but is pointed at Northwind's supplier Acme about the
        account; invalid (negative) bodies are left as generated, so they must still be refused.
        """
        if case.operation.label != "POST /conversation" or not isinstance(case.body, dict):
            return
        if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
            return
        body: dict[str, Any] = case.body
        body.pop("otherPartyDscoAccountId", None)
        body["otherPartyTradingPartnerId"] = "aaa-bbb-ccc"
        body["context"] = {"type": "account"}


FLAKY_ATTEMPTS = 3


class TestContractWorkflow(ContractWorkflow.TestCase):  # type: ignore[misc,name-defined]
    settings = settings(
        ContractWorkflow.TestCase.settings, max_examples=30, stateful_step_count=8, database=None
    )

    def runTest(self) -> None:
        """Run the stateful phase, again with fresh draws if Schemathesis trips Hypothesis's replay.

        Some of Schemathesis's stateful draws happen outside Hypothesis's control (a known upstream
        defect), so a generated step can occasionally draw a different type on replay, and Hypothesis
        stops with FlakyStrategyDefinition: a problem of the test tool, not an answer of the sandbox.
        Only that error leads to another attempt; any check that fails still fails the test at once.
        """
        for attempt in range(1, FLAKY_ATTEMPTS + 1):
            try:
                super().runTest()
                return
            except FlakyStrategyDefinition:
                if attempt == FLAKY_ATTEMPTS:
                    raise


# --- over the wire: run_conformance, as `dsco-sandbox contract test` will ---------------------------
@dataclass
class Served:
    process: subprocess.Popen[str]
    base_url: str


@pytest.fixture
def served() -> Iterator[Served]:
    """A real `serve` on a free loopback port (rate limit off), stopped afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "serve", "--port", "0", "--no-rate-limit"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    base_url = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and base_url is None:
        line = process.stdout.readline()
        if not line:
            break
        if "base URL" in line:
            base_url = line.split()[-1].removesuffix("/api/v3")
    try:
        assert base_url is not None, "serve did not print its base URL"
        yield Served(process, base_url)
    finally:
        process.terminate()
        process.wait(timeout=10)


def broken_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The sandbox, except that the conversation search answers a shape the contract forbids."""
    if environ["PATH_INFO"] == "/api/v3/conversation/list" and environ["REQUEST_METHOD"] == "POST":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"conversations": "not a list"}).encode()]
    return WELL_BEHAVED(environ, start_response)


WELL_BEHAVED = create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False)))


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def broken() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, broken_app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
def test_conformance_passes_against_a_real_serve(served: Served) -> None:
    out = io.StringIO()
    code = run_conformance(
        served.base_url,
        token=None,
        client_id="retailer-demo",
        client_secret="retailer-demo-secret",
        max_examples=3,
        stateful=True,
        out=out,
    )
    assert code == 0, out.getvalue()
    assert "passed:" in out.getvalue()
    assert "a token minted for client id 'retailer-demo'" in out.getvalue()


def test_conformance_fails_against_a_server_that_breaks_the_contract(broken: str) -> None:
    out = io.StringIO()
    code = run_conformance(
        f"{broken}/api/v3",
        token=TOKEN,
        client_id=None,
        client_secret=None,
        max_examples=2,
        stateful=False,
        out=out,
    )
    report = out.getvalue()
    assert code == 1, report
    assert any(
        line.startswith("FAILURE ") and "POST /conversation/list" in line for line in report.splitlines()
    ), report
    assert "FAILED:" in report


def test_conformance_cannot_run_against_nothing() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, and is closed now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = io.StringIO()
    code = run_conformance(
        f"http://127.0.0.1:{port}",
        token=TOKEN,
        client_id=None,
        client_secret=None,
        max_examples=1,
        stateful=False,
        out=out,
    )
    assert code == 2, out.getvalue()
    assert "cannot reach" in out.getvalue()
