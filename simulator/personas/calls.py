"""One persona action: an API call of the persona's account, made exactly as HTTP makes it.

The body is checked against the contract first (as the HTTP pipeline does), then the operation runs
through :meth:`Sandbox.call`, the same entry point the HTTP handlers use, so every rule, status,
lag, notification, webhook and reference id applies unchanged. The call is journaled like an HTTP
one (method, path, status, request, response, duration) with a ``persona`` mark; a refusal is
journaled with its code and problems instead of a response. Limits such as the title's length are
read from the contract, never restated.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from ..contract.validation import Contract
from ..domain.errors import SandboxError
from ..domain.sandbox import Sandbox
from .config import PersonaRole


class ApiCaller:
    """Makes persona calls on one sandbox, checked by one contract."""

    def __init__(self, sandbox: Sandbox, contract: Contract) -> None:
        self.sandbox = sandbox
        self.contract = contract
        self._title_limit = _title_limit(contract)
        self._prefix = _api_prefix(contract)

    def call(
        self, role: PersonaRole, action: str, account_id: str, operation: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Run ``operation`` as ``account_id``; the answer, or None when it was refused."""
        sandbox = self.sandbox
        account = sandbox.world.account(account_id)
        assert account is not None  # settings only name accounts of the world
        started = time.perf_counter()
        result: dict[str, Any] | None = None
        error: dict[str, Any] | None = None
        violations = self.contract.validate_request(operation, body)
        if violations:
            error = {"code": "contract_violation", "problems": [str(v) for v in violations]}
        else:
            try:
                result = sandbox.call(operation, account, body)
            except SandboxError as refused:
                error = {"code": refused.code, "problems": [str(p) for p in refused.problems]}
        spec = self.contract.operation(operation)
        details: dict[str, Any] = {
            "method": spec.method.upper(),
            "path": self._prefix + spec.path,
            "durationMs": round((time.perf_counter() - started) * 1000, 3),
            "persona": {"role": role, "action": action},
            "request": body,
        }
        if result is not None:
            details["status"] = _success_status(spec.responses)
            details["response"] = result
        else:
            details["refused"] = error
        sandbox.journal.record(
            "request", sandbox.clock.now(), account=account_id, operation=operation, **details
        )
        return result

    def title(self, text: str) -> str:
        """A title within the contract's length limit (cut at a word where possible)."""
        limit = self._title_limit
        if limit is None or len(text) <= limit:
            return text
        head = text[: limit - 1]
        cut = head.rsplit(" ", 1)[0] if " " in head else head
        return cut.rstrip() + "\u2026"


def _title_limit(contract: Contract) -> int | None:
    """The longest title the contract accepts on createConversation."""
    schema = contract.registry.contents(contract.schema_uri("schemas/conversation-for-create.json"))
    limit = schema.get("properties", {}).get("title", {}).get("maxLength")
    return int(limit) if limit is not None else None


def _api_prefix(contract: Contract) -> str:
    """The path the API lives under (``/api/v3``), from the contract's first server, so that persona
    entries name the same paths as the journal entries of HTTP calls."""
    servers = contract.openapi.get("servers") or [{}]
    return urlparse(str(servers[0].get("url", ""))).path.rstrip("/")


def _success_status(responses: Mapping[str, Any]) -> int:
    return min(int(code) for code in responses if code.isdigit() and code.startswith("2"))
