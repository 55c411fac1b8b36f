"""Personas in the server: ``/_sandbox/personas`` and the ticker that runs them on wall time.

The routes are registered on the control blueprint (so the admin token and every other
control-plane check apply). The console and the test tools call the same :class:`Personas`
methods these routes call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app

from ..contract.validation import Contract
from ..domain.sandbox import Sandbox
from ..personas import PersonaRole, Personas, attach_personas
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
        return json_response(200, replace_personas(json_body()))


def replace_personas(document: Any) -> dict[str, Any]:
    """Switch this app's personas to ``document`` and keep the change (the after-change hook):
    what ``PUT /_sandbox/personas`` and the console's persona form both do."""
    shown = _personas().replace(document)
    hook = current_app.extensions.get("dsco_after_change")
    if hook is not None:
        hook()
    return shown


def current_personas() -> Personas:
    """This app's personas (every app has them, none acting until configured)."""
    return _personas()


def attach_personas_to_app(
    app: Flask,
    sandbox: Sandbox,
    contract: Contract,
    file: Path | None,
    options: Sequence[tuple[PersonaRole, list[str] | None]],
    tick: float,
) -> Personas:
    """The personas a start asks for, and a ticker that lets them act while the clock runs."""
    personas = attach_personas(sandbox, contract, file=file, options=options)
    ticker = PersonaTicker(app, personas, tick)
    app.extensions["dsco_personas"] = personas
    app.extensions["dsco_persona_ticker"] = ticker
    personas.on_active = ticker.start  # from any caller: the control plane, a state import, a test
    if personas.active:
        ticker.start()
    return personas


class PersonaTicker:
    """Runs the personas' due actions as wall time passes (a daemon thread, started on demand).

    On a frozen clock nothing is due until someone advances it, and that runs the actions itself.
    On a sandbox shared by many workers, ``may_run`` answers whether this worker leads: only the
    leader's ticker runs them (another's would only take the shared lock to find nothing due).
    """

    def __init__(self, app: Flask, personas: Personas, interval: float) -> None:
        self._app = app
        self._personas = personas
        self._interval = interval
        self._started = threading.Event()
        self._stop = threading.Event()
        self.may_run: Callable[[], bool] = _always

    def start(self) -> None:
        if self._started.is_set():
            return
        self._started.set()
        threading.Thread(target=self._run, name="dsco-sandbox-personas", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if self.may_run() and self._personas.catch_up():
                hook = self._app.extensions.get("dsco_after_change")
                if hook is not None:
                    hook()


def _always() -> bool:
    return True
