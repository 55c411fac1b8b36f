"""Helpers for the scenario tests: writing scenario files, a scripted transport, and a real server."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serve_support import Served, start

from simulator.domain.operations import CONTROL_PREFIX, api_path
from simulator.scenario.transport import Reply, TransportError

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "scenarios"

ACTORS = """\
actors:
  retailer:
    {role: retailer, client_id: retailer-demo, client_secret: retailer-demo-secret, dscoAccountId: "1000001"}
  supplier:
    {role: supplier, client_id: supplier-demo, client_secret: supplier-demo-secret, dscoAccountId: "2000001"}
  consumer: {role: consumer, id: "12345"}
"""

CREATE_BODY = """\
    body:
      otherPartyTradingPartnerId: aaa-bbb-ccc
      title: Late order complaint on Order 123
      type: {type: customer_care, consumerId: "12345"}
      context: {type: order, poNumber: 123-456-789}
      initialMessage: {message: "Why is my order late? ${fake.sentence}"}
"""


def write(directory: Path, text: str, name: str = "scenario.yaml") -> Path:
    """Write a scenario file (dedented) and return its path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), "utf-8")
    return path


def scenario_text(steps: str, *, header: str = "", name: str = "a test scenario") -> str:
    """A scenario with the default actors and the given (already indented) steps."""
    return f"name: {name}\n{header}{ACTORS}steps:\n{textwrap.dedent(steps)}"


def indent_steps(steps: str) -> str:
    return textwrap.indent(textwrap.dedent(steps), "  ")


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} is not in {path}")


# --- a scripted transport ---------------------------------------------------------------------------
Handler = Callable[[str, str, Mapping[str, Any]], Reply]


@dataclass
class ScriptedTransport:
    """A transport without a control plane answering from a function, recording every request."""

    handler: Handler
    has_control_plane: bool = False
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    description: str = "a scripted server"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        data: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Reply:
        sent = {"json": json, "form": form, "data": data, "headers": dict(headers or {}), "query": query}
        self.requests.append((method, path, sent))
        return self.handler(method, path, sent)

    def close(self) -> None:
        pass


def json_reply(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Reply:
    import json

    return Reply(status, {"Content-Type": "application/json", **(headers or {})}, body, json.dumps(body))


def text_reply(status: int, text: str, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}, None, text)


def fake_dsco(method: str, path: str, sent: Mapping[str, Any]) -> Reply:
    """A minimal stand-in for a Dsco environment: tokens and an empty conversation list."""
    if path == api_path("getAccessToken"):
        return json_reply(200, {"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600})
    if path == api_path("getConversations"):
        return json_reply(200, {"conversations": []})
    if path.startswith(CONTROL_PREFIX):
        raise AssertionError(f"the control plane was called on a target without one: {method} {path}")
    return text_reply(404, f"no such route: {method} {path}")


def dropping(method: str, path: str, sent: Mapping[str, Any]) -> Reply:
    if path == api_path("getConversations"):
        raise TransportError(f"{method} {path}: Connection aborted: RemoteDisconnected")
    return fake_dsco(method, path, sent)


@contextmanager
def server(*args: str) -> Iterator[Served]:
    served = start(*args)
    try:
        yield served
    finally:
        served.stop()


def shipped_scenarios() -> list[Path]:
    return sorted(p for p in SHIPPED.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
