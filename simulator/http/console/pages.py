"""The console's pages and forms: accounts, conversations, a thread, an order, the journal, the clock.

Pages read the sandbox under its lock and render; forms POST, act through ``actions.py`` (as a
party) or ``http/control.py`` (clock, settings, reset), then redirect back with the outcome shown
once (Post/Redirect/Get, so a reload never repeats an action).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from ...contract.validation import Contract
from ...domain.browse import ConversationFilter, browse_conversations
from ...domain.clock import format_rfc3339
from ...domain.errors import SandboxError
from ...domain.models import Account, Conversation
from ...domain.operations import CONVERSATION_OPERATIONS
from ...domain.sandbox import Sandbox
from ...domain.views import conversation_view, message_view
from .. import control
from . import actions, guard

NAVIGATION: tuple[tuple[str, str], ...] = (
    ("console.landing", "Overview"),
    ("console.accounts", "Accounts"),
    ("console.conversations", "Conversations"),
    ("console.journal", "Journal"),
    ("console.settings", "Clock & settings"),
    ("console.personas", "Personas"),
    ("console.docs", "Docs"),
)
JOURNAL_LIMIT = 200
"""Journal entries shown at once (newest first); the control plane's /events pages further."""


def _sandbox() -> Sandbox:
    sandbox: Sandbox = current_app.extensions["dsco_sandbox"]
    return sandbox


def _contract() -> Contract:
    contract: Contract = current_app.extensions["dsco_contract"]
    return contract


def _account(account_id: str | None) -> Account:
    found = _sandbox().world.account(account_id or "")
    if found is None:
        abort(404, f"no account {account_id!r} in this world")
    return found


def _when(micros: int | None) -> str:
    return "" if micros is None else format_rfc3339(micros)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def _outcomes() -> list[dict[str, Any]]:
    return [json.loads(str(text)) for text in get_flashed_messages()]


def _tell(outcome: actions.Outcome, what: str) -> None:
    """Remember an action's outcome for the next page (kept in the signed session cookie)."""
    flash(json.dumps({"ok": outcome.ok, "what": what, "lines": outcome.lines[:20], "curl": outcome.curl}))


def register_pages(console: Blueprint, prefix: str) -> None:
    @console.app_template_global()
    def navigation() -> tuple[tuple[str, str], ...]:
        return NAVIGATION

    console.add_app_template_filter(_when, "when")
    console.add_app_template_filter(_pretty, "pretty")

    @console.get(f"{prefix}/accounts")
    def accounts() -> str:
        sandbox = _sandbox()
        world = sandbox.world
        partners: dict[str, list[dict[str, str]]] = {}
        for partner in world.partners.values():
            other = world.account(partner.partner_id)
            partners.setdefault(partner.owner_id, []).append(
                {
                    "id": partner.partner_id,
                    "name": other.name if other else partner.name,
                    "ref": partner.trading_partner_id,
                }
            )
        return render_template(
            "console/accounts.html",
            accounts=sorted(world.accounts.values(), key=lambda a: (a.role, a.id)),
            partners=partners,
            orders=world.orders,
        )

    @console.get(f"{prefix}/conversations")
    def conversations() -> str:
        sandbox = _sandbox()
        world = sandbox.world
        ordered = sorted(world.accounts.values(), key=lambda a: (a.role, a.id))
        viewer = _account(request.args.get("as") or ordered[0].id)
        args = request.args
        test = args.get("test", "")
        wanted = ConversationFilter(
            status=args.get("status") or None,
            kind=args.get("kind") or None,
            context_type=args.get("context") or None,
            is_test={"yes": True, "no": False}.get(test),
            search=args.get("q", "").strip() or None,
            include_pending=args.get("pending") == "on",
        )
        page_number = int(args["page"]) if args.get("page", "").isdigit() else 1
        with sandbox.lock:
            now = sandbox.clock.now()
            page = browse_conversations(sandbox.store, viewer.id, now, wanted, page_number)
            rows = [_row(world, c, viewer, now) for c in page.conversations]
        return render_template(
            "console/conversations.html",
            accounts=ordered,
            viewer=viewer,
            partners=[p for p in world.partners.values() if p.owner_id == viewer.id],
            page=page,
            rows=rows,
            args=args,
            outcomes=_outcomes(),
        )

    @console.get(f"{prefix}/conversations/<conversation_id>")
    def thread(conversation_id: str) -> str:
        sandbox = _sandbox()
        world = sandbox.world
        with sandbox.lock:
            conversation = sandbox.store.conversation(conversation_id)
            if conversation is None:
                abort(404, f"no conversation {conversation_id!r}")
            now = sandbox.clock.now()
            store = sandbox.store
            messages = store.messages_in(conversation.id)
            parties = [world.account(conversation.retailer_id), world.account(conversation.supplier_id)]
            raw = {
                party.id: {
                    "conversation": conversation_view(world, conversation, party.id),
                    "messages": [message_view(world, m, conversation.references, party.id) for m in messages],
                }
                for party in parties
                if party is not None
            }
        order = None
        if conversation.context.get("type") == "order" and conversation.context.get("dscoOrderId"):
            order = conversation.context["dscoOrderId"]
        return render_template(
            "console/thread.html",
            c=conversation,
            now=now,
            parties=[p for p in parties if p is not None],
            names={a.id: a.name for a in world.accounts.values()},
            messages=messages,
            raw=raw,
            order=order,
            outcomes=_outcomes(),
        )

    @console.get(f"{prefix}/orders/<order_id>")
    def order(order_id: str) -> str:
        world = _sandbox().world
        found = world.orders_matching("dscoOrderId", order_id)
        if not found:
            abort(404, f"no order with dscoOrderId {order_id!r} in this world")
        names = {a.id: a.name for a in world.accounts.values()}
        return render_template("console/order.html", order=found[0], names=names)

    @console.post(f"{prefix}/act/<action>")
    def act(action: str) -> BaseResponse:
        form = request.form
        caller = _account(form.get("as"))
        builders: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
            "create": ("createConversation", lambda: actions.create_body(form)),
            "reply": ("addConversationMessage", lambda: actions.reply_body(form)),
            "status": ("updateConversation", lambda: actions.status_body(form)),
            "reference": ("updateConversation", lambda: actions.reference_body(form, caller)),
        }
        if action not in builders:
            abort(404, f"no console action {action!r}")
        operation, build = builders[action]
        outcome = actions.run_operation(_sandbox(), _contract(), caller, operation, build(), request.url_root)
        _tell(outcome, f"{action} as {caller.name} ({caller.role})")
        if outcome.ok and action == "create" and outcome.conversation_id:
            return redirect(url_for("console.thread", conversation_id=outcome.conversation_id), 303)
        viewing: dict[str, Any] = {"as": caller.id}
        fallback = url_for("console.conversations", **viewing)
        return redirect(guard.safe_next(form.get("next"), fallback), 303)

    @console.get(f"{prefix}/journal")
    def journal() -> str:
        sandbox = _sandbox()
        args = request.args
        status = args.get("status", "")
        entries = sandbox.journal.entries(
            account=args.get("account") or None,
            operation=args.get("operation") or None,
            kind=args.get("kind") or None,
        )
        shown = [
            entry.to_json()
            for entry in reversed(entries)
            if not status or _status_matches(entry.details.get("status"), status)
        ][:JOURNAL_LIMIT]
        return render_template(
            "console/journal.html",
            entries=shown,
            accounts=sorted(sandbox.world.accounts.values(), key=lambda a: (a.role, a.id)),
            names={a.id: a.name for a in sandbox.world.accounts.values()},
            operations=("getAccessToken", *CONVERSATION_OPERATIONS),
            args=args,
            live=args.get("live") == "on",
        )

    @console.get(f"{prefix}/settings")
    def settings() -> str:
        sandbox = _sandbox()
        return render_template(
            "console/settings.html",
            clock=sandbox.clock_state(),
            config=sandbox.config_json(),
            operations=CONVERSATION_OPERATIONS,
            outcomes=_outcomes(),
        )

    @console.post(f"{prefix}/settings/<change>")
    def change_settings(change: str) -> BaseResponse:
        form = request.form
        try:
            if change == "clock":
                state = control.change_clock(_clock_command(form))
                lines = [f"sandbox time {state['now']}, {'frozen' if state['frozen'] else 'running'}"]
            elif change == "config":
                control.change_config(_config_changes(form))
                lines = ["settings saved"]
            elif change == "fault":
                operation = form.get("operation", "")
                rule = _fault_rule(form)
                control.change_config({"faults": {operation: rule}})
                lines = [f"fault on {operation}: {json.dumps(rule)}"]
            elif change == "reset":
                control.reset_sandbox({"restoreSettings": form.get("restoreSettings") == "on"})
                lines = ["the sandbox was reset"]
            else:
                abort(404, f"no console setting {change!r}")
            outcome = actions.Outcome(True, lines)
        except SandboxError as error:
            outcome = actions.Outcome(False, [str(p) for p in error.problems])
        _tell(outcome, change)
        return redirect(url_for("console.settings"), 303)


def _row(world: Any, c: Conversation, viewer: Account, now: int) -> dict[str, Any]:
    other = world.account(c.other_party(viewer.id))
    return {
        "c": c,
        "other": other.name if other else c.other_party(viewer.id),
        "pending": c.visible_at > now,
    }


def _status_matches(status: Any, wanted: str) -> bool:
    if not isinstance(status, int):
        return wanted == "none"
    return {"ok": status < 400, "refused": status >= 400}.get(wanted, True)


def _clock_command(form: Any) -> dict[str, Any]:
    """The clock form's button names the command; its one field gives the value."""
    command = form.get("command", "")
    if command == "advance":
        return {"advance": _number(form.get("seconds", ""))}
    if command == "set":
        return {"set": form.get("instant", "").strip()}
    if command in ("freeze", "unfreeze"):
        return {"freeze": command == "freeze"}
    if command == "resume":
        return {"resume": True}
    return {command: None}  # refused by the control plane, naming the field


def _number(raw: str) -> float | str:
    """A form's number; text that is no number is passed on so that the check names it."""
    try:
        return float(raw)
    except ValueError:
        return raw


def _config_changes(form: Any) -> dict[str, Any]:
    return {
        "pageSize": _whole(form.get("pageSize", "")),
        "lag": {"min": _number(form.get("lagMin", "")), "max": _number(form.get("lagMax", ""))},
        "rateLimit": {
            "enabled": form.get("rateLimit") == "on",
            "perSecond": _whole(form.get("perSecond", "")),
        },
        "strict": form.get("strict") == "on",
        "validateResponses": form.get("validateResponses") == "on",
    }


def _whole(raw: str) -> int | str:
    return int(raw) if raw.strip().isdigit() else raw


def _fault_rule(form: Any) -> dict[str, Any] | None:
    """A forced status for the next N calls, or None to remove the operation's faults."""
    if form.get("clear") == "on":
        return None
    return {
        "forceStatus": _whole(form.get("forceStatus", "")),
        "forceCount": _whole(form.get("forceCount", "")),
    }
