"""The sandbox's own control plane under ``/_sandbox`` (not part of the vendor contract)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from ..domain.sandbox import Sandbox
from .errors import json_response


def create_control_blueprint() -> Blueprint:
    control = Blueprint("control", __name__)

    def sandbox() -> Sandbox:
        found: Sandbox = current_app.extensions["dsco_sandbox"]
        return found

    @control.get("/health")
    def health() -> Response:
        return json_response(200, {"status": "ok"})

    @control.post("/reset")
    def reset() -> Response:
        sandbox().reset()
        return json_response(200, {"status": "ok"})

    return control
