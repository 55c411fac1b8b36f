"""Namespaces on a shared store: every worker serves every namespace, their registry in Redis.

:class:`RedisNamespaces` is what :class:`~simulator.http.namespaces.NamespaceRegistry` asks
instead of its own dictionary once ``serve --store`` shares the server. The registry itself (names,
creation requests, TTLs, tokens, last uses, the cap) is
:class:`~simulator.storage.shared.namespaces.SharedNamespaces`; each namespace's sandbox is a
:class:`~simulator.storage.shared.replica.Replica` of its own keys, exactly as the default sandbox
is. A worker builds its copy of a namespace when it first meets it (a request, a listing): the same
start from the creation request, then the namespace's log, replayed by its first hold, so a worker
that starts replays nothing at all.

A worker's copies are a cache: the registry in Redis decides what exists. A copy whose entry is
gone (or now names a later namespace of the same name) is closed when noticed, by a lookup or by
the hold that finds the entry gone, and the request gets the 404 a single process would give.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..domain.errors import InvalidRequest
from ..domain.sandbox import Sandbox
from ..storage.shared.errors import SandboxGone, SharedStoreError, StoreUnavailable
from ..storage.shared.leader import Leadership
from ..storage.shared.link import RedisLink
from ..storage.shared.namespaces import Found, NamespaceEntry, SharedNamespaces
from ..storage.shared.replica import Replica, unavailable
from .namespaces import SWEEP_EVERY, Namespace, NamespaceRegistry, NamespaceRequest, WSGIApp
from .shared_lead import LEADERSHIP, follow_the_leader

Hold = Callable[[WSGIApp, Sandbox], WSGIApp]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SharingPolicy:
    """How every shared sandbox of a server is kept, the default one's settings: how a request
    holds it, how often its state is snapshotted, how long a lead's lease lasts."""

    hold: Hold
    snapshot_every: int
    lead_millis: int


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """Redis lost: the 503 ``store_unavailable`` every shared call answers (nothing was changed)."""
    try:
        yield
    except (StoreUnavailable, SharedStoreError) as error:
        raise unavailable(str(error)) from None


class RedisNamespaces:
    """A registry's namespaces as Redis has them, with this worker's copies built on demand."""

    def __init__(self, registry: NamespaceRegistry, link: RedisLink, policy: SharingPolicy) -> None:
        self.registry = registry
        self.link = link
        self.book = SharedNamespaces(link)
        self.policy = policy
        self._building = threading.Lock()
        self._next_sweep = 0.0
        self._next_adoption = 0.0
        self._leading = False
        """Whether this process takes part in choosing leaders (a worker, after the fork)."""

    def start_leading(self) -> None:
        """Take part in the lead of every namespace this worker has a copy of, now and later."""
        self._leading = True
        for leadership in self.leaderships():
            leadership.start()

    def leaderships(self) -> list[Leadership]:
        """The leads of this worker's copies, one per namespace."""
        copies = (self.registry.copy(name) for name in self.registry.copies())
        return [copy.app.extensions[LEADERSHIP] for copy in copies if copy is not None]

    def adopt(self) -> None:
        """Build a copy of every namespace this worker has not met yet, and so take part in its
        lead (at most once per sweep interval). The default sandbox's leader runs this: a worker
        meets a namespace only when a request or a listing reaches it, so without it a namespace
        whose only holder died would have no worker to take over its personas and webhooks. A
        copy is not caught up here; its lead catches up when it takes over."""
        now = time.monotonic()
        if now < self._next_adoption:
            return
        self._next_adoption = now + SWEEP_EVERY
        try:
            for found in self._live()[0]:
                self._copy(found)
        except Exception:  # Redis away, or a copy that cannot be built: the next interval tries again
            log.debug("adopting the namespaces failed", exc_info=True)

    # --- what the registry asks -----------------------------------------------------------------
    def use(self, name: str) -> Namespace | None:
        """The namespace ``name`` marked as used now (on the one clock), or None."""
        if time.monotonic() >= self._next_sweep:
            self.sweep()
        with _reachable():
            return self._current(self.book.find(name, touch=True), name)

    def get(self, name: str) -> Namespace | None:
        """The namespace ``name`` caught up with every worker's calls (not marked used), or None."""
        with _reachable():
            namespace = self._current(self.book.find(name, touch=False), name)
        return None if namespace is None else self._caught_up(namespace)

    def all(self) -> list[Namespace]:
        """Every live namespace, caught up; the idle ones are dropped on the way."""
        with _reachable():
            live = [self._copy(found) for found in self._live()[0]]
        return [n for n in map(self._caught_up, live) if n is not None]

    def names(self) -> list[str]:
        with _reachable():
            return [found.entry.name for found in self._live()[0]]

    def sweep(self) -> list[str]:
        self._next_sweep = time.monotonic() + SWEEP_EVERY
        with _reachable():
            return self._live()[1]

    def create(self, request: NamespaceRequest, sandbox: Sandbox, token: str | None) -> Namespace:
        """Claim the name in Redis and share the new sandbox; a taken name or a full server is a
        409 on whichever worker asks, and leaves nothing behind."""
        registry = self.registry
        self.sweep()
        creation = {
            "world": request.world,
            "seed": request.seed,
            "settings": request.settings,
            "token": token,
        }
        ttl = registry.options.default_ttl if request.idle_ttl is None else request.idle_ttl
        with _reachable():
            generation = self.book.new_generation()
            entry = NamespaceEntry(request.name, generation, ttl, 0.0, creation)
            namespace = self._share(entry, sandbox)
            try:
                claimed = self.book.claim(request.name, generation, ttl, creation, registry.options.cap)
            except BaseException:
                self._forget(namespace, entry)
                raise
            if isinstance(claimed, str):
                self._forget(namespace, entry)
                raise registry.taken(request.name) if claimed == "taken" else registry.full()
        namespace.created_at = namespace.last_used_at = claimed
        self._keep(namespace)
        return namespace

    def delete(self, name: str) -> bool:
        with _reachable():
            found = self.book.find(name, touch=False)
            dropped = found is not None and self.book.drop(found, only_if_idle=False)
        self.registry.discard(name)
        return dropped

    # --- helpers --------------------------------------------------------------------------------
    def _live(self) -> tuple[list[Found], list[str]]:
        """The registry's entries, and the names dropped as idle past their TTL (unless used
        meanwhile); this worker's copies of namespaces that are no more are closed."""
        live, dropped = [], []
        for found in self.book.listing():
            if found.idle and self.book.drop(found, only_if_idle=True):
                dropped.append(found.entry.name)
            else:
                live.append(found)
        for name in self.registry.copies() - {found.entry.name for found in live}:
            self.registry.discard(name)
        return live, dropped

    def _current(self, found: Found | None, name: str) -> Namespace | None:
        if found is not None and found.idle and self.book.drop(found, only_if_idle=True):
            found = None
        if found is None:
            self.registry.discard(name)
            return None
        return self._copy(found)

    def _copy(self, found: Found) -> Namespace:
        """This worker's copy of the namespace, built from its creation request when missing."""
        entry = found.entry
        with self._building:
            namespace = self.registry.copy(entry.name)
            if namespace is None or namespace.generation != entry.generation:
                creation = entry.creation
                request = NamespaceRequest(
                    entry.name, creation["world"], creation["seed"], creation["settings"], entry.idle_ttl
                )
                try:
                    sandbox = self.registry.new_sandbox(request)
                except InvalidRequest as error:  # it was accepted once: the workers' flags differ
                    raise SharedStoreError(
                        f"namespace {entry.name!r} cannot be built here: {error}"
                    ) from None
                namespace = self._share(entry, sandbox)
                self._keep(namespace)
        namespace.created_at = entry.created_at
        namespace.last_used_at = found.used_at
        return namespace

    def _share(self, entry: NamespaceEntry, sandbox: Sandbox) -> Namespace:
        registry = self.registry
        token = entry.creation["token"]
        namespace = registry.build(
            entry.name, sandbox, entry.idle_ttl, token, entry.created_at, entry.created_at
        )
        namespace.generation = entry.generation
        app = namespace.app
        policy = self.policy
        contract = app.extensions["dsco_contract"]
        where = self.book.entry_of(entry)
        replica = Replica(
            self.link, entry.sandbox_name, sandbox, contract, where, snapshot_every=policy.snapshot_every
        )
        try:
            replica.attach()
        except BaseException:
            registry.close_one(namespace)
            raise
        namespace.on_close.append(follow_the_leader(app, replica, policy.lead_millis).resign)
        app.wsgi_app = policy.hold(app.wsgi_app, sandbox)  # type: ignore[method-assign,assignment]
        return namespace

    def _keep(self, namespace: Namespace) -> None:
        """Serve this worker's copy, and take part in its lead once its registry entry exists (a
        lead refused for want of one would end at once)."""
        self.registry.keep(namespace)
        if self._leading:
            namespace.app.extensions[LEADERSHIP].start()

    def _forget(self, namespace: Namespace, entry: NamespaceEntry) -> None:
        self.registry.close_one(namespace)
        self.link.forget(entry.sandbox_name)

    def _caught_up(self, namespace: Namespace) -> Namespace | None:
        try:
            with namespace.sandbox.lock:
                return namespace
        except SandboxGone:
            self.registry.discard(namespace.name)
            return None
