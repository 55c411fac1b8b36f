"""Acting as a party from the console: the same contract check and domain call as the API's.

A console form becomes the JSON body the equivalent API call would send; that body is checked
against the contract (``Contract.validate_request``, as the API does) and run by
``Sandbox.call``, so every rule, notification and webhook is the API's own. What differs is only
what a browser cannot do: there is no access token to present, so the call is not counted against
the party's rate limit, and the journal marks it ``"via": "console"``. Each action also yields the
curl command that makes the same call through the API.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from ...contract.validation import Contract
from ...domain.errors import InvalidRequest, Problem, SandboxError
from ...domain.models import Account
from ...domain.operations import STATE_CHANGES
from ...domain.sandbox import Sandbox
from ..api import OPERATION_ROUTES
from ..errors import error_response

Form = Mapping[str, str]


@dataclass(frozen=True)
class Outcome:
    """What the console tells the user after an action."""

    ok: bool
    lines: list[str]
    """The sandbox's explanation of a refusal, one problem per line (or a one-line success)."""
    curl: str = ""
    answer: Any = None
    conversation_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_operation(
    sandbox: Sandbox, contract: Contract, caller: Account, operation: str, body: dict[str, Any], base_url: str
) -> Outcome:
    """Run one API operation as ``caller``; a refusal is returned, never raised."""
    method, path, status = OPERATION_ROUTES[operation]
    curl = curl_command(base_url, method, path, caller, body)
    started = time.perf_counter()
    answer: Any
    violations: list[str] = []
    try:
        found = contract.validate_request(operation, body)
        if found:
            violations = [str(v) for v in found]
            raise InvalidRequest(*(Problem(v.path, v.message) for v in found), code="contract_violation")
        answer = sandbox.call(operation, caller, body)
    except SandboxError as error:
        response = error_response(error)  # the one place errors become statuses and bodies
        status = response.status_code
        answer = response.get_data(as_text=True)
        lines = [str(p) for p in error.problems]
    else:
        lines = [f"{operation} answered {status} as {caller.name}"]
    sandbox.journal.record(
        "request",
        sandbox.clock.now(),
        account=caller.id,
        operation=operation,
        method=method,
        path=f"/api/v3{path}",
        status=status,
        durationMs=round((time.perf_counter() - started) * 1000, 3),
        violations=violations,
        request=body,
        response=answer,
        via="console",
    )
    ok = status < 300
    if ok and operation in STATE_CHANGES:
        hook = current_app.extensions.get("dsco_after_change")
        if hook is not None:
            hook()
    conversation_id = answer.get("id") if ok and isinstance(answer, dict) else None
    return Outcome(ok, lines, curl, answer, conversation_id)


def curl_command(base_url: str, method: str, path: str, caller: Account, body: Mapping[str, Any]) -> str:
    """The same call through the API, runnable as shown (with the party's legacy token)."""
    return " ".join(
        [
            "curl -s -X",
            method,
            shlex.quote(f"{base_url.rstrip('/')}/api/v3{path}"),
            "-H",
            shlex.quote(f"Authorization: bearer {caller.legacy_token}"),
            "-H 'Content-Type: application/json' -d",
            shlex.quote(json.dumps(body, ensure_ascii=False)),
        ]
    )


# --- forms to API bodies: each form field is one field of the body, empty meaning "not sent" -----
def _text(form: Form, name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def create_body(form: Form) -> dict[str, Any]:
    """createConversation's body from the console's "new conversation" form."""
    body: dict[str, Any] = {"title": form.get("title", "").strip()}
    partner = _text(form, "partner")
    if partner is not None:
        body["otherPartyTradingPartnerId"] = partner
    if form.get("kind") == "customer_care":
        body["type"] = {"type": "customer_care"}
        consumer = _text(form, "consumerId")
        if consumer is not None:  # left out when empty, so that the contract names it as missing
            body["type"]["consumerId"] = consumer
    else:
        body["type"] = {"type": "standard"}
    order = _text(form, "poNumber")
    if order is not None:
        body["context"] = {"type": "order", "poNumber": order}
    reference = _text(form, "referenceId")
    if reference is not None:
        body["referenceId"] = reference
    message = _text(form, "message")
    if message is not None:
        body["initialMessage"] = {"message": message}
    if form.get("isTest") == "on":
        body["isTest"] = True
    return body


def reply_body(form: Form) -> dict[str, Any]:
    """addConversationMessage's body from a thread's reply form."""
    return {"dscoConversationId": form.get("conversation", ""), "message": form.get("message", "")}


def status_body(form: Form) -> dict[str, Any]:
    """updateConversation's body that closes or reopens a conversation."""
    return {"dscoConversationId": form.get("conversation", ""), "status": form.get("status", "")}


def reference_body(form: Form, caller: Account) -> dict[str, Any]:
    """updateConversation's body that sets the caller's own reference id."""
    name = "retailerReferenceId" if caller.role == "retailer" else "supplierReferenceId"
    return {"dscoConversationId": form.get("conversation", ""), name: form.get("referenceId", "").strip()}
