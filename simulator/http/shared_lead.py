"""The lead of one shared sandbox (the default one, or a namespace) wired into its app.

Every worker answers calls, but a sandbox's own work (the personas' ticker, webhook deliveries
and their retries) is done by the worker that leads it
(:mod:`simulator.storage.shared.leader`), the deliveries settled through the leader's record in
Redis (:mod:`simulator.storage.shared.deliveries`). The default sandbox and each namespace have a
lead of their own, so a worker may lead some and follow others.
"""

from __future__ import annotations

from flask import Flask

from ..storage.shared.deliveries import SharedDeliveries
from ..storage.shared.leader import Leadership
from ..storage.shared.replica import Replica
from ..webhooks import WebhookDispatcher
from .app import PENDING_WEBHOOKS, PendingWebhooks
from .personas import PersonaTicker

LEADERSHIP = "dsco_shared_leadership"
"""Where an app keeps the :class:`Leadership` of its sandbox (``app.extensions``)."""


def follow_the_leader(app: Flask, replica: Replica, millis: int) -> Leadership:
    """Route the app's webhook deliveries and persona ticks through the lead of its sandbox; the
    leadership is not started (a worker starts it after the fork: threads do not survive one)."""
    leadership = Leadership(replica.link, replica.keys, millis)
    dispatcher: WebhookDispatcher = app.extensions["dsco_webhooks"]
    deliveries = SharedDeliveries(replica.link, replica.keys, dispatcher)
    webhooks = replica.sandbox.extensions[PENDING_WEBHOOKS]
    assert isinstance(webhooks, PendingWebhooks)
    webhooks.route = deliveries
    webhooks.on_report = deliveries.reported
    replica.observer = deliveries
    dispatcher.may_send = leadership.leading
    ticker: PersonaTicker = app.extensions["dsco_persona_ticker"]
    ticker.may_run = leadership.leading

    def gained(token: str) -> None:
        deliveries.lead(token)
        with replica.sandbox.lock:  # catch up: the entries not seen yet raise their deliveries
            pass

    def tick(leading: bool) -> None:
        if not leading:
            deliveries.prune()
        elif replica.behind():  # follow the log, so calls on other workers are delivered soon
            with replica.sandbox.lock:
                pass

    leadership.on_gain = gained
    leadership.on_loss = deliveries.follow
    leadership.on_tick = tick
    app.extensions[LEADERSHIP] = leadership
    return leadership
