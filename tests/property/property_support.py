"""Shared by the property tests: the default world's names, and an in-process sandbox to drive.

:class:`Harness` wraps one app built around the default world with the rate limit off, a frozen
clock and small, configurable lags and page size. Every call goes through :meth:`Harness.call`,
which fails the test on any 5xx, on a status the contract does not document for the operation, and
on a body that does not match the documented schema (the app validates its own answers too, and
answers 500 when it breaks the contract, which the first check then reports).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from simulator.contract.validation import Contract
from simulator.domain.clock import format_rfc3339, parse_rfc3339, seconds
from simulator.domain.config import SandboxConfig
from simulator.domain.operations import API_PREFIX, OPERATIONS
from simulator.domain.sandbox import Sandbox
from simulator.http import ServerConfig, create_app

API = API_PREFIX
_start = parse_rfc3339("2023-05-01T10:00:00.000Z")
assert _start is not None
START: int = _start
"""Where every harness clock starts (frozen)."""
MARGIN = seconds(5)
"""How far in the past ``until`` must be; absent, it is now minus this."""


@dataclass(frozen=True, repr=False)
class Actor:
    name: str
    account_id: str
    role: str
    token: str

    def __repr__(self) -> str:  # short, so that Hypothesis prints readable failing examples
        return self.name.upper()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # what Hypothesis's printer calls
        printer.text(repr(self))


NORTHWIND = Actor("northwind", "1000001", "retailer", "retailer-demo-token")
CONTOSO = Actor("contoso", "1000002", "retailer", "retailer2-demo-token")
ACME = Actor("acme", "2000001", "supplier", "supplier-demo-token")
GLOBEX = Actor("globex", "2000002", "supplier", "supplier2-demo-token")
ACTORS = (NORTHWIND, CONTOSO, ACME, GLOBEX)
BY_ID = {a.account_id: a for a in ACTORS}

PARTNER_REFS: Mapping[tuple[str, str], str] = {
    ("northwind", "acme"): "aaa-bbb-ccc",
    ("northwind", "globex"): "ddd-eee-fff",
    ("contoso", "acme"): "acme-for-contoso",
    ("acme", "northwind"): "NW-RETAIL",
    ("acme", "contoso"): "CONTOSO",
    ("globex", "northwind"): "NORTHWIND",
}
"""Each account's own trading-partner id for each partner (the pairs that trade)."""

CONTRACT = Contract()


def trade(a: Actor, b: Actor) -> bool:
    return (a.name, b.name) in PARTNER_REFS


def iso(micros: int) -> str:
    return format_rfc3339(micros)


@dataclass
class Answer:
    status: int
    body: Any
    """The parsed JSON body, or the text of a text/plain answer."""

    @property
    def json(self) -> dict[str, Any]:
        assert isinstance(self.body, dict), self.body
        return self.body


class Harness:
    """One in-process sandbox around the default world: frozen clock, no rate limit."""

    def __init__(self, *, page_size: int = 100, lag: tuple[float, float] = (0.1, 1.0)) -> None:
        config = SandboxConfig(rate_limit=False, lag_min=lag[0], lag_max=lag[1], page_size=page_size)
        self.app: Flask = create_app(ServerConfig(sandbox=config), contract=CONTRACT)
        self.sandbox: Sandbox = self.app.extensions["dsco_sandbox"]
        self.sandbox.clock.freeze()
        self.sandbox.clock.set(START)
        self.client: FlaskClient = self.app.test_client()

    # --- time and settings -----------------------------------------------------------------
    def now(self) -> int:
        return self.sandbox.clock.now()

    def advance(self, secs: float) -> None:
        self.sandbox.clock.advance(seconds(secs))

    def advance_micros(self, micros: int) -> None:
        self.sandbox.clock.advance(micros)

    def set_page_size(self, size: int) -> None:
        self.sandbox.config.page_size = size

    def set_scroll_ttl(self, seconds: float) -> None:
        self.sandbox.config.scroll_ttl = seconds

    def set_lag(self, low: float, high: float) -> None:
        self.sandbox.config.lag_min = low
        self.sandbox.config.lag_max = high

    # --- calls ------------------------------------------------------------------------------
    def call(self, operation: str, actor: Actor, body: Mapping[str, Any]) -> Answer:
        called = OPERATIONS[operation]
        response = self.client.open(
            f"{API}{called.path}",
            method=called.method,
            json=dict(body),
            headers={"Authorization": f"bearer {actor.token}"},
        )
        text = response.get_data(as_text=True)
        status = response.status_code
        assert status < 500, f"{operation} answered {status}: {text}"
        documented = CONTRACT.operation(operation).responses
        assert str(status) in documented, f"{operation} answered {status}, undocumented: {text}"
        if documented[str(status)] is None:
            assert response.mimetype == "text/plain", (operation, status, response.mimetype)
            return Answer(status, text)
        assert response.mimetype == "application/json", (operation, status, response.mimetype)
        payload = response.get_json()
        violations = CONTRACT.validate_response(operation, status, payload)
        assert not violations, f"{operation} {status} breaks the contract: {violations}"
        return Answer(status, payload)

    def expect(self, status: int, operation: str, actor: Actor, body: Mapping[str, Any]) -> Answer:
        answer = self.call(operation, actor, body)
        assert answer.status == status, (
            f"{actor.name} {operation} {dict(body)}: expected {status}, got {answer.status}: {answer.body}"
        )
        return answer

    def pages(
        self, operation: str, actor: Actor, body: Mapping[str, Any], key: str
    ) -> list[list[dict[str, Any]]]:
        """Every page of a query, following scrollIds, checking the paging rules on the way:
        a page with a scrollId is full, the last page has no scrollId and is not full."""
        size = self.sandbox.config.page_size
        pages: list[list[dict[str, Any]]] = []
        request: dict[str, Any] = dict(body)
        for _ in range(10_000):
            page = self.expect(200, operation, actor, request).json
            items = page[key]
            pages.append(items)
            if "scrollId" not in page:
                assert len(items) < size, f"a full page ({len(items)} of {size}) without a scrollId"
                return pages
            assert len(items) == size, f"a page of {len(items)} (size {size}) with a scrollId"
            request = {"scrollId": page["scrollId"]}
        raise AssertionError("a scroll that never ends")
