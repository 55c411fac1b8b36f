"""The console's persona page: who the sandbox plays now, and a form to switch each role.

The page shows what ``GET /_sandbox/personas`` answers (``Personas.to_json``); the form builds a
persona document from the configuration in force with one role switched, and hands it to the same
function ``PUT /_sandbox/personas`` calls (``http/personas.py: replace_personas``), so every check
(that named accounts exist and have the role) is the persona layer's own and a refusal shows its
explanation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from ...domain.errors import SandboxError
from ...personas.config import ROLES, PersonaRole, enabled
from ..personas import current_personas, replace_personas
from . import actions
from .pages import _outcomes, _sandbox, _tell


def register_persona_pages(console: Blueprint, prefix: str) -> None:
    @console.get(f"{prefix}/personas")
    def personas() -> str:
        shown = current_personas().to_json()
        accounts = sorted(_sandbox().world.accounts.values(), key=lambda a: (a.role, a.id))
        return render_template(
            "console/personas.html",
            personas=shown,
            roles=ROLES,
            accounts={role: [a for a in accounts if a.role == role] for role in ROLES},
            outcomes=_outcomes(),
        )

    @console.post(f"{prefix}/personas")
    def switch_personas() -> BaseResponse:
        role = request.form.get("role", "")
        if role not in ROLES:
            abort(400, f"role: expected one of {', '.join(ROLES)}; got {role!r}")
        document = switched(current_personas().settings.document, role, request.form)
        try:
            shown = replace_personas(document)
            played = shown["active"][role]
            lines = [f"the {role} persona plays {', '.join(played) if played else 'no account'}"]
            outcome = actions.Outcome(True, lines)
        except SandboxError as error:
            outcome = actions.Outcome(False, [str(p) for p in error.problems])
        _tell(outcome, f"switch the {role} persona")
        return redirect(url_for("console.personas"), 303)


def switched(document: Mapping[str, Any], role: PersonaRole, form: Mapping[str, str]) -> dict[str, Any]:
    """``document`` with ``role`` off, on for all its accounts, or on for the accounts named.

    The names are passed on as typed (split at commas and spaces); whether each exists and has the
    role is checked by ``Personas.replace``, which names any that does not.
    """
    mode = form.get("mode", "")
    if mode == "off":
        return {**document, role: {**document.get(role, {}), "enabled": False}}
    if mode == "all":
        return enabled(document, role)
    if mode == "named":
        return enabled(document, role, [n for n in re.split(r"[,\s]+", form.get("accounts", "")) if n])
    # Anything else goes on as typed, so that the schema check names the field and what it expects.
    return {**document, role: {**document.get(role, {}), "enabled": form.get("mode", "")}}
