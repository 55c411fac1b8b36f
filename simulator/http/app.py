"""The application factory: one Flask app around one :class:`Sandbox`.

Nothing lives in module globals; the sandbox, the contract and the helpers hang off
``app.extensions``, so tests can build as many independent apps as they like.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from flask import Flask

from ..contract.validation import Contract
from ..domain.config import SandboxConfig
from ..domain.errors import InvalidRequest, Problem
from ..domain.notifications import Notification
from ..domain.operations import API_PREFIX, CONTROL_PREFIX
from ..domain.sandbox import Sandbox
from ..domain.world import World
from ..loading.bootstrap import WorldFileError, build_sandbox, world_from_document
from ..personas import PersonaRole, requested_settings
from ..storage.statedb import is_database_path, open_persistence
from ..storage.statefile import StateFile
from ..webhooks import Delivery, PendingDelivery, WebhookDispatcher, is_loopback_url, prepare_delivery
from .api import VendorApi, create_api_blueprint
from .bodies import MAX_BODY_BYTES, with_measured_bodies
from .compiled_routes import CompiledRoutes, RuleCollector
from .console import create_console_blueprint
from .control import create_control_blueprint
from .errors import register_error_handlers
from .fast_path import ApiFastPath
from .personas import attach_personas_to_app
from .sessions import SessionsOutside
from .site_guard import install_site_guard


@dataclass
class ServerConfig:
    """How to build an app: which world and settings, and what guards the control plane."""

    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    world_path: Path | None = None
    admin_token: str | None = None
    """When set, every ``/_sandbox`` call must carry it as a bearer token."""
    state_file: Path | None = None
    """Load state from this file at start (if it exists) and keep every change in it: a SQLite
    database when it ends in .db, .sqlite or .sqlite3 (``statedb.py``), else a JSON file."""
    state_sync: str = "normal"
    """For a SQLite state file: ``full`` flushes the disk on every commit (see ``statedb.py``)."""
    webhook_base_delay: float = 0.5
    """First retry delay of a failed webhook delivery; doubles with each attempt."""
    loopback_only: bool = True
    """Bound to loopback: serve only loopback names in ``Host`` (see ``site_guard``)."""
    personas_file: Path | None = None
    """A persona file (``--personas``): which accounts the sandbox plays, and how."""
    persona_options: tuple[tuple[PersonaRole, list[str] | None], ...] = ()
    """``--persona`` options: a role, and the accounts it acts for (None: all of the world's)."""
    persona_tick: float = 1.0
    """Seconds between two looks at the persona schedule while the clock runs on its own."""
    webhooks_loopback_only: bool = False
    """Deliver webhooks only to loopback URLs (namespaces, whose worlds anyone may post, unless
    ``serve --allow-webhook-hosts``): a shared server must not be made to call internal addresses."""


def create_app(
    config: ServerConfig | None = None,
    *,
    sandbox: Sandbox | None = None,
    contract: Contract | None = None,
    routes: CompiledRoutes | None = None,
    fast_path: bool = True,
) -> Flask:
    """Build the app; with ``routes``, apps of the same shape share one compiled URL map (see
    ``compiled_routes``): the same app, built in a fraction of the time. Without ``fast_path``
    every vendor request goes through Flask's own routing (``fast_path.py``; the tests compare
    the two)."""
    config = config or ServerConfig()
    contract = contract or Contract()
    sandbox = sandbox or build_sandbox(contract, config.sandbox, config.world_path)
    app = Flask("dsco_sandbox", static_folder=None)  # serve no folder of the working directory
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["dsco_sandbox"] = sandbox
    app.extensions["dsco_contract"] = contract
    app.extensions["dsco_admin_token"] = config.admin_token
    app.extensions["dsco_webhooks"] = _connect_webhooks(
        app, sandbox, config.webhook_base_delay, config.webhooks_loopback_only
    )
    personas = attach_personas_to_app(
        app, sandbox, contract, config.personas_file, config.persona_options, config.persona_tick
    )
    if config.state_file is not None:
        if is_database_path(config.state_file):
            app.extensions["dsco_state_database"] = open_persistence(
                sandbox,
                contract,
                config.state_file,
                world_given=config.world_path is not None,
                sync=config.state_sync,
            )
        else:
            _attach_state_file(app, sandbox, contract, StateFile(config.state_file))
        if config.personas_file is not None or config.persona_options:
            # Asked for at this start: it wins over the configuration the saved state had.
            options = config.persona_options
            settings = requested_settings(personas, file=config.personas_file, options=options)
            if settings is not None:
                personas.configure(settings)
    hosts = install_site_guard(app, api_prefix=API_PREFIX, loopback_only=config.loopback_only)
    own_map = app.url_map
    if routes is not None:
        # The blueprints register their views with the app and hand their rules, uncompiled, to
        # a collector; the compiled map for exactly those rules then takes the collector's place.
        collector = app.url_map = RuleCollector()
    api = VendorApi(sandbox, contract, app.extensions)
    app.register_blueprint(create_api_blueprint(api), url_prefix=API_PREFIX)
    app.session_interface = SessionsOutside(API_PREFIX)  # the API reads no session: skip opening one
    app.register_blueprint(create_control_blueprint(), url_prefix=CONTROL_PREFIX)
    app.register_blueprint(create_console_blueprint())
    if routes is not None:
        app.url_map = routes.url_map(own_map, collector.collected)
    register_error_handlers(app)
    if fast_path:
        app.wsgi_app = ApiFastPath(app, api, hosts)  # type: ignore[method-assign]
    app.wsgi_app = with_measured_bodies(app.wsgi_app, MAX_BODY_BYTES)  # type: ignore[method-assign,assignment]
    return app


def _connect_webhooks(
    app: Flask, sandbox: Sandbox, base_delay: float, loopback_only: bool = False
) -> WebhookDispatcher:
    """POST each notification to its account's webhook, journaling every attempt; the deliveries
    still pending are part of the saved state (:class:`PendingWebhooks`)."""

    def journal(delivery: Delivery) -> None:
        account_id, notification_id = delivery.delivery_id.split("/", 1)
        details: dict[str, Any] = {
            "path": delivery.url,
            "delivery": {
                "id": notification_id,
                "url": delivery.url,
                "attempt": delivery.attempt,
                "status": delivery.status,
                "error": delivery.error,
                "delivered": delivery.delivered,
                "final": delivery.final,
            },
        }
        if delivery.status is not None:  # the status received, as the journal schema describes it
            details["status"] = delivery.status
        sandbox.journal.record("webhook", sandbox.clock.now(), account=account_id, **details)

    def attempted(delivery: Delivery) -> None:
        """Journal an attempt, and keep what is pending now (one attempt more, or no longer
        pending), so a restart neither sends a made delivery again nor counts attempts anew."""
        webhooks.on_report(delivery)
        with sandbox.lock:
            webhooks.journal_attempt(dataclasses.asdict(delivery))
            sandbox.changed()
        save = app.extensions.get("dsco_after_change")
        if save is not None:
            save()

    dispatcher = WebhookDispatcher(base_delay=base_delay, on_attempt=attempted)
    webhooks = PendingWebhooks(dispatcher, loopback_only, journal)

    def deliver(notification: Notification) -> None:
        account = sandbox.world.account(notification.account_id)
        if account is None or account.webhook is None:
            return
        delivery_id = f"{account.id}/{notification.id}"
        hook = account.webhook
        webhooks.send(prepare_delivery(hook.url, hook.secret, notification.to_json(), delivery_id))

    sandbox.notifications.subscribe(deliver)
    sandbox.attach(PENDING_WEBHOOKS, webhooks)
    return dispatcher


PENDING_WEBHOOKS = "webhookDeliveries"
"""The state document's section of the deliveries not yet made."""


class DeliveryRoute(Protocol):
    """Where the deliveries a sandbox raises go: this process's dispatcher, or, on a sandbox
    shared by many workers, the record that lets only the leading worker send them."""

    def resume(self, pending: PendingDelivery) -> None: ...
    def pending(self) -> list[PendingDelivery]: ...


class PendingWebhooks:
    """The dispatcher's pending deliveries as a part of the sandbox's state (an extension, as the
    personas are): exported with every saved state, and sent again when a state is loaded, so a
    delivery on its way when the process stopped is made after the restart. Deliveries already
    on their way when a state is imported go on as well.

    ``route`` and ``on_report`` are the seam a shared store uses (``storage/shared/deliveries.py``):
    by default every delivery goes straight to this process's dispatcher."""

    def __init__(
        self, dispatcher: WebhookDispatcher, loopback_only: bool, journal: Callable[[Delivery], None]
    ) -> None:
        self.route: DeliveryRoute = dispatcher
        self.on_report: Callable[[Delivery], None] = _ignore
        """Told of every attempt the dispatcher made, after it is journaled."""
        self._loopback_only = loopback_only
        self._journal = journal

    def journal_attempt(self, attempt: dict[str, Any]) -> None:
        """Journal one attempt (a :class:`Delivery` as JSON): an extension's call of its own, so
        that a shared store records it and every worker's journal shows what the leader sent."""
        self._journal(Delivery(**attempt))

    def send(self, pending: PendingDelivery) -> None:
        """Deliver ``pending`` (raised now, or kept by a saved state), unless this server delivers
        to loopback addresses only and it points elsewhere: then the refusal is journaled."""
        if self._loopback_only and not is_loopback_url(pending.url):
            refused = "refused: this server delivers webhooks to loopback addresses only"
            attempt = pending.attempt
            self._journal(Delivery(pending.delivery_id, pending.url, attempt, None, refused, False, True))
        else:
            self.route.resume(pending)

    def clock_moved(self, before: int, after: int) -> None:
        """Retries follow wall time, not the sandbox clock."""

    def after_reset(self) -> None:
        """A reset leaves deliveries already on their way alone."""

    def export(self) -> Any:
        pending = self.route.pending()
        if not pending:
            return None
        return {
            p.delivery_id: {"url": p.url, "body": p.body, "signature": p.signature, "attempt": p.attempt}
            for p in pending
        }

    def prepare_import(self, raw: Any, world: World) -> Callable[[], None]:
        found: list[PendingDelivery] = []
        problems: list[Problem] = []
        for delivery_id, item in (raw or {}).items():
            where = f"{PENDING_WEBHOOKS}.{delivery_id}"
            pending = _pending(delivery_id, item)
            if pending is None:
                problems.append(
                    Problem(where, "must hold an http(s) url, the body text, its signature and attempt >= 1")
                )
            else:
                found.append(pending)
        if problems:
            raise InvalidRequest(*problems, code="invalid_state")

        def apply() -> None:
            for pending in found:
                self.send(pending)

        return apply


def _ignore(delivery: Delivery) -> None:
    """No one else needs to hear of an attempt."""


def _pending(delivery_id: str, item: Any) -> PendingDelivery | None:
    """A saved delivery, if it is one (a database's rows are not checked by the schema)."""
    if not isinstance(item, dict) or "/" not in delivery_id:
        return None
    url, body, signature, attempt = (item.get(k) for k in ("url", "body", "signature", "attempt"))
    if not (isinstance(url, str) and isinstance(body, str) and isinstance(signature, str)):
        return None
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        return None
    pending = PendingDelivery(delivery_id, url, body, signature, attempt)
    try:
        WebhookDispatcher.check(pending)
    except ValueError:
        return None
    return pending


def _attach_state_file(app: Flask, sandbox: Sandbox, contract: Contract, state_file: StateFile) -> None:
    """Load the saved state (refusing a broken file loudly), then save after every change."""
    where = str(state_file.path)
    state_file.sweep_abandoned()  # what a killed writer left behind
    try:
        document = state_file.read()
    except ValueError as error:
        raise WorldFileError(f"{where}: not a JSON state document ({error})") from None
    except OSError as error:
        raise WorldFileError(f"{where}: cannot read the state file ({error.strerror})") from None
    if document is not None:
        violations = contract.validate(contract.schema_uri("schemas/sandbox-state.json"), document)
        if violations:
            raise WorldFileError("\n".join(f"{where}: {v}" for v in violations))
        try:
            sandbox.import_state(world_from_document(contract, document["world"], where), document)
        except InvalidRequest as error:
            raise WorldFileError("\n".join(f"{where}: {p}" for p in error.problems)) from None
    saving = threading.Lock()

    def save() -> None:
        # Export and write as one step: two changes saving at once must not let the older
        # snapshot land last and overwrite the newer one.
        with saving:
            state_file.write(sandbox.export_state())

    app.extensions["dsco_state_file"] = state_file
    app.extensions["dsco_state_loaded"] = document is not None
    app.extensions["dsco_after_change"] = save
