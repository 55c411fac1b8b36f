"""``/_sandbox/personas``: read and change the counterparts the sandbox plays, at run time.

Registered on the control blueprint (so the admin token and every other control-plane check
apply). The console and the test tools call the same :class:`Personas` methods these routes call.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from ..contract import Contract
from ..domain.errors import InvalidRequest, Problem
from ..personas import Personas
from .bodies import json_body
from .errors import json_response


def _personas() -> Personas:
    personas: Personas = current_app.extensions["dsco_personas"]
    return personas


def add_persona_routes(control: Blueprint) -> None:
    """Add ``GET`` and ``PUT /personas`` to the control blueprint."""

    @control.get("/personas")
    def get_personas() -> Response:
        return json_response(200, _personas().to_json())

    @control.put("/personas")
    def put_personas() -> Response:
        """Replace the configuration (laid over the built-in behaviours); the schedule restarts
        from the current time. Refused as a whole, changing nothing, when any field is wrong."""
        personas = _personas()
        contract: Contract = current_app.extensions["dsco_contract"]
        document = json_body()
        violations = contract.validate(contract.schema_uri("schemas/sandbox-personas.json"), document)
        if violations:
            raise InvalidRequest(*(Problem(v.path, v.message) for v in violations), code="contract_violation")
        try:
            settings = personas.settings_for(document)
        except InvalidRequest as error:
            raise InvalidRequest(*error.problems, code="contract_violation") from None
        personas.configure(settings)
        ticker = current_app.extensions.get("dsco_persona_ticker")
        if ticker is not None and personas.active:
            ticker.start()
        hook = current_app.extensions.get("dsco_after_change")
        if hook is not None:
            hook()
        return json_response(200, personas.to_json())
