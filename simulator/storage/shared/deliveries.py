"""Webhook deliveries of a shared sandbox: sent by the leading worker only, and not lost with it.

Every replica raises the same notifications: the domain is deterministic and each worker replays
every log entry, so each worker's sandbox raises, for the entry at log position ``p``, the very
deliveries (same id, same signed body) the worker that wrote it raised. So no outbox is needed:
each worker keeps every delivery of the entries it has seen until it is settled (made, or given
up), and only the leader (``leader.py``) hands them to its dispatcher. What the workers share is a
small record in Redis, written by the leader only, under its fencing token:

* ``settled``: a log position up to which every delivery is settled;
* ``deliveries``: for the deliveries after it that were attempted, ``position:next-attempt``, or
  ``position:done``. Each report of an attempt writes its delivery's line and moves the mark to
  just before the oldest delivery still pending, dropping the lines it covers, so the record stays
  as small as what is in flight.

A worker that takes the lead reads the record, drops what it says is settled, sends the rest from
the attempt it had reached, then catches up with the log, whose entries raise the deliveries it
had not seen. A delivery is therefore made at least once: one made in the instant before its
leader died, before the record said so, is made again by the next leader, with the same
``X-Dsco-Sandbox-Delivery`` id. Deliveries a call raised are kept only once that call's entry is
in the log: a call answered 503 raises none. The deliveries still pending are part of the state,
so a snapshot carries them: a worker that starts from one knows them as raised at or before the
snapshot's version, until the record names their entry (``_Known.exact``).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

from ...webhooks import Delivery, PendingDelivery, WebhookDispatcher
from .link import Keys, RedisLink

DONE = "done"


@dataclass
class _Known:
    position: int
    """The log entry that raised it; for one a snapshot brought, the snapshot's version (it was
    raised at or before it) until the record names the entry."""
    pending: PendingDelivery
    exact: bool = True

    def matches(self, position: str) -> bool:
        """Whether a record line at ``position`` is about this delivery."""
        if self.exact or not position.isdigit():
            return position == str(self.position)
        return int(position) <= self.position


class SharedDeliveries:
    """One worker's deliveries of one shared sandbox: its ``PendingWebhooks`` route, the
    replica's observer of kept entries, and what the leadership calls on a change of leader."""

    def __init__(self, link: RedisLink, keys: Keys, dispatcher: WebhookDispatcher) -> None:
        self._link = link
        self._keys = keys
        self._dispatcher = dispatcher
        self._lock = threading.Lock()
        self._raised: list[PendingDelivery] = []
        """Raised by the entry being run or replayed, not yet known to be in the log."""
        self._known: dict[str, _Known] = {}
        """Every delivery not yet settled of the entries this worker has seen, by id."""
        self._seen = 0
        self._mark = 0
        self._token: str | None = None
        """The lead's fencing token while this worker leads."""

    # --- the route PendingWebhooks sends through -------------------------------------------
    def resume(self, pending: PendingDelivery) -> None:
        with self._lock:
            self._raised.append(pending)

    def pending(self) -> list[PendingDelivery]:
        """The deliveries not yet settled that this worker knows of (what a state export keeps)."""
        with self._lock:
            found = {k.pending.delivery_id: k.pending for k in self._known.values()}
            found.update((p.delivery_id, p) for p in self._raised)
        return sorted(found.values(), key=lambda p: p.delivery_id)

    # --- the replica's observer -------------------------------------------------------------
    def entry_kept(self, position: int) -> None:
        """What was raised since the last call came from the log entry at ``position``."""
        self._kept(position, exact=True)

    def state_loaded(self, position: int) -> None:
        """What was raised since the last call was pending in a snapshot at ``position``."""
        self._kept(position, exact=False)

    def _kept(self, position: int, exact: bool) -> None:
        with self._lock:
            raised, self._raised = self._raised, []
            if position <= self._seen:  # replayed again (a rebuild): known already, or settled
                return
            self._seen = position
            fresh = [p for p in raised if p.delivery_id not in self._known and position > self._mark]
            for pending in fresh:
                self._known[pending.delivery_id] = _Known(position, pending, exact)
            leading = self._token is not None
        if leading:
            for pending in fresh:
                self._dispatcher.resume(pending)

    def entry_lost(self) -> None:
        """The call that raised them was not kept: they never happened."""
        with self._lock:
            self._raised = []

    def log_restarted(self) -> None:
        """Redis holds less than this worker saw (it lost data): positions start over."""
        with self._lock:
            self._seen = self._mark = 0

    # --- the lead ---------------------------------------------------------------------------
    def lead(self, token: str) -> None:
        """This worker leads now: send what the record does not call settled."""
        mark, record = self._link.deliveries(self._keys)
        with self._lock:
            self._token = token
            self._apply(mark, record)
            in_flight = {p.delivery_id for p in self._dispatcher.pending()}
            due = [k.pending for k in self._known.values() if k.pending.delivery_id not in in_flight]
        for pending in due:
            self._dispatcher.resume(pending)

    def follow(self) -> None:
        """Another worker leads (or may): keep the deliveries, send none (the dispatcher asks the
        leadership before each attempt)."""
        with self._lock:
            self._token = None

    def prune(self) -> None:
        """While following: forget what the leader settled (one read of the small record)."""
        if not self._known:
            return
        mark, record = self._link.deliveries(self._keys)
        with self._lock:
            if self._token is None:
                self._apply(mark, record)

    def reported(self, delivery: Delivery) -> None:
        """The leader's dispatcher made an attempt: record it, and how far all are settled."""
        with self._lock:
            token, known = self._token, self._known.get(delivery.delivery_id)
            if token is None or known is None:
                return
            if delivery.final:
                del self._known[delivery.delivery_id]
                state = f"{known.position}:{DONE}"
            else:
                known.pending = dataclasses.replace(known.pending, attempt=delivery.attempt + 1)
                state = f"{known.position}:{known.pending.attempt}"
            oldest = min((k.position for k in self._known.values()), default=self._seen + 1)
            mark = max(self._mark, oldest - 1)
        if self._link.settle(self._keys, token, delivery.delivery_id, state, mark):
            with self._lock:
                self._mark = max(self._mark, mark)

    def _apply(self, mark: int, record: dict[str, str]) -> None:
        """Drop what the record calls settled; take the attempt reached by the others (caller
        holds the lock)."""
        self._mark = max(self._mark, mark)
        for delivery_id, known in list(self._known.items()):
            position, _, state = record.get(delivery_id, "").partition(":")
            if not known.matches(position):  # no line yet (attempt 1 is next), or another's
                state = ""
            elif not known.exact:
                known.position, known.exact = int(position), True
            if known.position <= self._mark or state == DONE:
                del self._known[delivery_id]
            elif state.isdigit():
                known.pending = dataclasses.replace(known.pending, attempt=int(state))
