"""Which worker leads a shared sandbox: the one that runs its personas and sends its webhooks.

Every worker answers calls, but the work a sandbox does on its own (the personas' ticker, webhook
deliveries and their retries) must be done by one worker at a time, and go on when that worker
dies. Each sandbox (its keys, ``RedisLink.keys``) has a lease in Redis: a key taken with SET NX PX
and a fencing token, renewed by the leader's own thread while its token still holds it (the
scripts are in ``link.py``). A worker killed while leading stops renewing, and another takes the
lead at most :data:`~.link.LEAD_MILLIS` later.

The lease is liveness, not state: nothing of the sandbox expires with it (deadlines follow the
sandbox clock). A leader counts its lease as held only for a safe part of its length after the
last renewal began, measured on its own clock, so a worker whose thread stalled stops acting
before another may start; writes it still attempts carry its token and are refused once another
worker leads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from .errors import SandboxGone, StoreUnavailable
from .link import LEAD_MILLIS, Keys, RedisLink

log = logging.getLogger(__name__)

SAFE_SHARE = 0.8
"""The part of the lease a leader trusts after a renewal began (the rest absorbs clock drift)."""
LOOKS_PER_LEASE = 6
"""How often per lease a worker renews it, or tries to take it."""


def _nothing(*args: object) -> None:
    """Nobody asked to hear of this."""


class Leadership:
    """This worker's view of the lead on one sandbox, kept by a daemon thread (started in each
    worker process, after the fork: threads do not survive one).

    ``on_gain(token)`` runs when this worker takes the lead, ``on_loss()`` when it loses it, and
    ``on_tick(leading)`` after every look at the lease, on the same thread.
    """

    def __init__(self, link: RedisLink, keys: Keys, millis: int = LEAD_MILLIS) -> None:
        self.link = link
        self.keys = keys
        self.millis = millis
        self.on_gain: Callable[[str], None] = _nothing
        self.on_loss: Callable[[], None] = _nothing
        self.on_tick: Callable[[bool], None] = _nothing
        self._token: str | None = None
        self._trusted_until = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def leading(self) -> bool:
        """Whether this worker leads now (asked before every persona tick and webhook attempt)."""
        return self._token is not None and time.monotonic() < self._trusted_until

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="dsco-sandbox-leader", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop looking (the lease, if held, runs out on its own: the worker is going away)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def resign(self) -> None:
        """Stop, and let go of the lease if held (a namespace closed on this worker: another may
        take it at once; a deleted one's keys are gone anyway)."""
        self.stop()
        token = self._token
        self._lose()
        if token is not None:
            with contextlib.suppress(StoreUnavailable):
                self.link.release_lead(self.keys, token)

    def _run(self) -> None:
        owner = f"{socket.gethostname()}:{os.getpid()}"
        interval = self.millis / 1000 / LOOKS_PER_LEASE
        while not self._stop.is_set():
            self.look(owner)
            self._stop.wait(interval)

    def look(self, owner: str) -> None:
        """Renew the lease, or take it when free; then the tick. A failure (Redis away) counts as
        a lost lease: better no leader for a moment than two. ``on_gain`` also runs when a lease
        this worker had stopped trusting (a late renewal) turns out to be still its own, so what
        it held back meanwhile is sent."""
        began = time.monotonic()
        trusted = self.leading()
        try:
            if self._token is None:
                self._token = self.link.lead(self.keys, owner, self.millis)
            elif not self.link.keep_lead(self.keys, self._token, self.millis):
                self._lose()
            if self._token is not None:
                self._trusted_until = began + self.millis / 1000 * SAFE_SHARE
                if not trusted:
                    self.on_gain(self._token)
            self.on_tick(self.leading())
        except SandboxGone:  # a namespace deleted or expired: nothing is left to lead
            self._lose()
            self._stop.set()
        except Exception:  # the thread must outlive any failure; the next look tries again
            log.debug("leadership of %s: look failed", self.keys.leader, exc_info=True)
            self._lose()

    def _lose(self) -> None:
        if self._token is not None:
            self._token = None
            self.on_loss()
