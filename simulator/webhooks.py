"""Signed webhook notifications, delivered in the background with retries.

The vendor's guide has a step where "Dsco notifies the supplier" that a new message is waiting. The
sandbox plays that step by POSTing a small JSON notification to the webhook URL the world gives an
account, so an integrator can test the receiving end of their system, not only the polling end.

Three promises shape this module:

* **Never block the API call.** ``submit`` only serialises, signs and enqueues; the HTTP work runs
  on daemon threads. A slow or dead receiver must not slow down the request that caused the
  notification, or the sandbox would report latencies the real API does not have.
* **Signed.** Each body carries ``X-Dsco-Sandbox-Signature: sha256=<HMAC-SHA256(secret, body)>``
  so a receiver can reject forged or altered posts; :func:`verify` is the reference check.
* **Retried with exponential backoff.** A receiver that is restarting or briefly failing still gets
  the notification, without being hammered: the wait after attempt ``n`` is
  ``min(max_delay, base_delay * 2 ** (n - 1))``.

Design: a small fixed pool of sender threads takes due attempts from a queue, so one slow receiver
occupies one sender and the others keep delivering. A failed attempt does not wait on a sender: a
short-lived backoff thread waits out the delay and then puts the attempt back on the queue, so the
retries of one delivery never hold up another. Everything is per dispatcher (no module state), and
threads start on the first ``submit`` so that building a sandbox without webhooks costs nothing.

Standard library only: the sandbox's notification path should not depend on an HTTP client
library being installed, and the layer rules put this module next to the package root.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "Delivery",
    "PendingDelivery",
    "WebhookDispatcher",
    "is_loopback_host",
    "is_loopback_url",
    "prepare_delivery",
    "sign",
    "verify",
]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Dsco-Sandbox-Signature"
TIMESTAMP_HEADER = "X-Dsco-Sandbox-Timestamp"
DELIVERY_HEADER = "X-Dsco-Sandbox-Delivery"
ATTEMPT_HEADER = "X-Dsco-Sandbox-Attempt"
USER_AGENT = "dsco-sandbox-webhooks"

_SIGNATURE_PREFIX = "sha256="
_SCHEMES = frozenset({"http", "https"})
# Enough senders that a few slow receivers (each held for at most ``timeout``) do not stall the
# rest; few enough that a sandbox never runs a crowd of idle threads.
_SENDERS = 4


@dataclass(frozen=True)
class Delivery:
    """The outcome of one attempt, reported to ``on_attempt`` so the sandbox can journal it.

    ``status`` is the receiver's HTTP status, or ``None`` when no answer came (refused connection,
    timeout); ``error`` says why an attempt failed and is ``None`` on success. ``final`` is true on
    success and on the last failed attempt: after it, nothing more happens for ``delivery_id``.
    """

    delivery_id: str
    url: str
    attempt: int
    status: int | None
    error: str | None
    delivered: bool
    final: bool


@dataclass(frozen=True)
class PendingDelivery:
    """A delivery not yet made nor given up: what a saved state keeps of it, so that a restarted
    sandbox sends it again (:meth:`WebhookDispatcher.resume`). ``body`` is the exact text signed;
    ``attempt`` the number of the next attempt."""

    delivery_id: str
    url: str
    body: str
    signature: str
    attempt: int


def prepare_delivery(url: str, secret: str, payload: Mapping[str, Any], delivery_id: str) -> PendingDelivery:
    """A notification ready to send: checked, serialised and signed once, at its first attempt.

    Done in the caller's thread, so a bad URL or a payload that is not JSON fails loudly where it
    was made rather than as a journal entry later; the body is fixed now, so later changes to
    ``payload`` cannot alter what is sent or signed.
    """
    _check(url, delivery_id)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return PendingDelivery(delivery_id, url, body, sign(secret, body.encode("utf-8")), 1)


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, body)>``: the value of the signature header.

    The MAC covers exactly the bytes sent, so a receiver must verify the raw body before parsing it
    (re-serialising parsed JSON would not reproduce the same bytes).
    """
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _SIGNATURE_PREFIX + digest


def verify(secret: str, body: bytes, signature: str) -> bool:
    """True when ``signature`` is the signature of ``body`` under ``secret``.

    Compared in constant time, so a receiver that copies this check does not leak, through its
    response time, how many leading characters of a forged signature were right.
    """
    return hmac.compare_digest(sign(secret, body).encode("ascii"), signature.encode("utf-8", "replace"))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Turn a 3xx answer into a failed attempt instead of following it.

    urllib would re-send a redirected POST as a body-less GET, which delivers nothing; a webhook
    receiver that redirects is misconfigured and the journal should say so.
    """

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


@dataclass(eq=False)
class _Job:
    """One delivery on its way; ``attempt`` is the number of the next attempt.

    Only one thread holds a job at a time (handed over through the queue or a backoff thread), so
    the mutable ``attempt`` needs no lock. Identity equality lets the in-flight set hold it.
    """

    url: str
    body: bytes
    signature: str
    delivery_id: str
    attempt: int = 1
    settled: bool = False
    """Its final attempt is made: no longer pending, even while its report is being made."""


class WebhookDispatcher:
    """Posts signed notifications on background threads, retrying failures with backoff.

    ``sleep`` waits out a backoff delay on a backoff thread; tests inject a fake to record the delays
    without waiting. The default, ``time.sleep``, cannot be interrupted, so it is honoured as an
    event wait of the same length that :meth:`close` cuts short: closing must not leave threads
    sleeping for up to ``max_delay`` seconds.
    """

    def __init__(
        self,
        *,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        timeout: float = 5.0,
        on_attempt: Callable[[Delivery], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if base_delay < 0 or max_delay < 0:
            raise ValueError("base_delay and max_delay must not be negative")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._timeout = timeout
        self._on_attempt = on_attempt
        self._closed = threading.Event()
        self._wait: Callable[[float], object] = self._closed.wait if sleep is time.sleep else sleep
        # No proxies: receivers are usually on the developer's machine or network, and an
        # environment proxy meant for internet traffic would otherwise swallow loopback posts.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())
        self._ready: queue.Queue[_Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight: set[_Job] = set()
        self._dropped: list[_Job] = []
        """Deliveries still pending when closed: a state saved after the close keeps them."""
        self._senders: list[threading.Thread] = []
        self._backoffs: set[threading.Thread] = set()
        self.may_send: Callable[[], bool] = _always
        """Asked before each attempt: while it answers False, an attempt due is withheld (neither
        made nor reported, and no longer pending here). A worker of a shared sandbox that stops
        leading sets it, so that it never sends while another worker does."""

    # --- public API --------------------------------------------------------------------------------

    def submit(self, url: str, secret: str, payload: Mapping[str, Any], delivery_id: str) -> None:
        """Queue one notification (see :func:`prepare_delivery`) and return at once."""
        self.resume(prepare_delivery(url, secret, payload, delivery_id))

    def resume(self, pending: PendingDelivery) -> None:
        """Queue again a delivery a saved state kept (see :meth:`pending`), as it was signed, at the
        attempt it had reached: a restart does not lose a notification on its way."""
        self.check(pending)
        body = pending.body.encode("utf-8")
        self._enqueue(_Job(pending.url, body, pending.signature, pending.delivery_id, pending.attempt))

    @staticmethod
    def check(pending: PendingDelivery) -> None:
        """Raise ValueError unless :meth:`resume` can send ``pending``."""
        _check(pending.url, pending.delivery_id)
        if pending.attempt < 1:
            raise ValueError(f"attempt must be at least 1: {pending.attempt!r}")

    def pending(self) -> list[PendingDelivery]:
        """The deliveries not yet made nor given up (dropped by :meth:`close` included), by id."""
        with self._lock:
            jobs = [job for job in (*self._in_flight, *self._dropped) if not job.settled]
        return sorted(
            (
                PendingDelivery(
                    job.delivery_id, job.url, job.body.decode("utf-8"), job.signature, job.attempt
                )
                for job in jobs
            ),
            key=lambda p: p.delivery_id,
        )

    def _enqueue(self, job: _Job) -> None:
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the webhook dispatcher is closed")
            self._start_senders()
            self._in_flight.add(job)
        self._ready.put(job)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every submitted delivery is final (or dropped by close); for tests.

        A delivery counts as done only after its final ``on_attempt`` report has returned, so a test
        that waits here can then read everything the callback recorded.
        """
        with self._idle:
            return self._idle.wait_for(lambda: not self._in_flight, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the threads; deliveries not yet final are dropped.

        An attempt already on the wire is allowed to finish (up to ``timeout`` in total across the
        joins); it is still reported, but not retried.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closed.set()
            senders = list(self._senders)
        for _ in senders:
            self._ready.put(None)
        for thread in senders:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            backoffs = list(self._backoffs)
        for thread in backoffs:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._idle:
            self._dropped += [job for job in self._in_flight if not job.settled]
            self._in_flight.clear()
            self._idle.notify_all()

    # --- threads -----------------------------------------------------------------------------------

    def _start_senders(self) -> None:
        """Start the sender pool on first use (caller holds the lock)."""
        if self._senders:
            return
        for n in range(_SENDERS):
            thread = threading.Thread(
                target=self._send_loop, name=f"dsco-webhooks-{id(self):x}-sender-{n}", daemon=True
            )
            thread.start()
            self._senders.append(thread)

    def _send_loop(self) -> None:
        """Take due attempts off the queue until a stop marker arrives."""
        while True:
            job = self._ready.get()
            if job is None:
                return
            if self._closed.is_set():
                self._drop(job)
                continue
            if not self.may_send():
                self._finish(job)
                continue
            try:
                self._attempt(job)
            except Exception:  # a bug here must not silently shrink the pool
                log.exception("webhook delivery %s crashed; dropping it", job.delivery_id)
                self._finish(job)

    def _attempt(self, job: _Job) -> None:
        """Make one attempt, report it, then finish the job or schedule its retry."""
        status, error = self._post(job)
        delivered = error is None
        final = delivered or job.attempt >= self._max_attempts
        report = Delivery(
            delivery_id=job.delivery_id,
            url=job.url,
            attempt=job.attempt,
            status=status,
            error=error,
            delivered=delivered,
            final=final,
        )
        delay = min(self._max_delay, self._base_delay * 2 ** (job.attempt - 1))
        # Before the report: a state saved from it (see :meth:`pending`) holds what comes next.
        job.settled = final
        if not final:
            job.attempt += 1
        if self._on_attempt is not None:
            try:
                self._on_attempt(report)
            except Exception:  # the journal failing must not stop notifications
                log.exception("on_attempt callback failed for webhook delivery %s", job.delivery_id)
        if final:
            self._finish(job)
            return
        with self._lock:
            if self._closed.is_set():
                if job in self._in_flight:
                    self._dropped.append(job)
                self._in_flight.discard(job)
                self._idle.notify_all()
                return
            thread = threading.Thread(
                target=self._backoff,
                args=(job, delay),
                name=f"dsco-webhooks-{id(self):x}-backoff-{job.delivery_id}",
                daemon=True,
            )
            self._backoffs.add(thread)
        thread.start()

    def _backoff(self, job: _Job, delay: float) -> None:
        """Wait out one retry delay off the sender pool, then queue the retry (unless closed)."""
        try:
            self._wait(delay)
        except Exception:
            log.exception("backoff sleep failed for webhook delivery %s", job.delivery_id)
        finally:
            with self._lock:
                self._backoffs.discard(threading.current_thread())
                closed = self._closed.is_set()
            if closed:
                self._drop(job)
            else:
                self._ready.put(job)

    def _finish(self, job: _Job) -> None:
        with self._idle:
            self._in_flight.discard(job)
            self._idle.notify_all()

    def _drop(self, job: _Job) -> None:
        """Finish a job the close stopped: still pending, so :meth:`pending` keeps listing it."""
        with self._idle:
            if not job.settled and job in self._in_flight:
                self._dropped.append(job)
            self._in_flight.discard(job)
            self._idle.notify_all()

    def _post(self, job: _Job) -> tuple[int | None, str | None]:
        """One HTTP POST: ``(status, None)`` on 2xx, else the status if any and why it failed.

        The timestamp is wall-clock time, not the sandbox clock: receivers compare it with their own
        clock to refuse replays, and a frozen or shifted sandbox clock would make every post stale.
        """
        request = urllib.request.Request(
            job.url,
            data=job.body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                SIGNATURE_HEADER: job.signature,
                TIMESTAMP_HEADER: str(int(time.time())),
                DELIVERY_HEADER: job.delivery_id,
                ATTEMPT_HEADER: str(job.attempt),
            },
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:  # an answer, but not 2xx (urllib raises on >= 400)
            exc.close()
            return exc.code, f"HTTP {exc.code} {exc.reason}".rstrip()
        except urllib.error.URLError as exc:  # refused, DNS, TLS, timeout while connecting
            return None, f"{type(exc.reason).__name__}: {exc.reason}"
        except Exception as exc:  # timeout while reading, reset, malformed answer
            return None, f"{type(exc).__name__}: {exc}"
        if 200 <= status < 300:
            return status, None
        return status, f"HTTP {status}"


def _always() -> bool:
    return True


def _check(url: str, delivery_id: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
        raise ValueError(f"webhook URL must be an absolute http:// or https:// URL: {url!r}")
    if not delivery_id or not delivery_id.isascii() or not delivery_id.isprintable():
        raise ValueError(f"delivery_id must be non-empty printable ASCII (it is a header): {delivery_id!r}")


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost`` or a literal loopback address.

    Names are not resolved: a name that happens to resolve to 127.0.0.1 today could point
    anywhere tomorrow, so only what is loopback by its spelling counts.
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """Whether a webhook URL points at this machine (see :func:`is_loopback_host`)."""
    return is_loopback_host(urlsplit(url).hostname or "")
