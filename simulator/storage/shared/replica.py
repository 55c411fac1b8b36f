"""One worker's copy of a shared sandbox, kept in step with every other worker's through Redis.

The outcome promised: calls on one sandbox behave as if run one at a time, in some order, by one
process, whichever worker (on whichever host) answers them. How:

* The sandbox's lock becomes a :class:`SharedLock`: taking it (outermost) also takes a lock in
  Redis, with a fencing token, so holds on one sandbox never overlap anywhere. Everything the
  domain does under its lock, and every front end's ``with sandbox.lock``, is thereby one step of
  one global sequence.
* Each hold records the calls it made into the sandbox (an API operation, a rate-limit admission,
  a fault decision, a token, a clock, config or persona command, a reset, an import) as one entry
  of a log in Redis; appending it, bumping the version and releasing the lock is one script that
  runs only while the token still holds the lock (all or nothing).
* Taking the lock answers with the version; a worker that is behind first replays the entries it
  has not seen through the very same, unchanged domain, with the clock pinned to each entry's
  instant. The domain is deterministic given its inputs and the clock (ids, lags, faults and
  scroll ids come from seeded generators, whose positions move identically on every worker), so
  every worker's replica ends up the same: the records, the open scrolls and where each scrollId
  points, the rate-limit windows, the generators, tokens, notifications, clock and settings. This
  is why scroll cursors continue on any worker and the rate limit holds across them, with nothing
  but the log to keep in step. Issued tokens are the one random thing (``secrets``): their entry
  carries the token itself.
* Time: while a hold runs, the sandbox clock's source is Redis' ``TIME`` read when the lock was
  taken (never before the instant of the last entry), so all workers share one time source and a
  replay sees exactly the instants the original call saw.

What stays per worker: the journal (it records what this worker's front end saw, plus the
notifications and the leader's webhook attempts its replays bring) and view caches (which only
ever hold records this worker's own replica wrote, so they cannot be stale). Webhook deliveries
are raised alike by every replica, the writer's and the replays, and told to the ``observer``
entry by entry; ``deliveries.py`` lets the leading worker alone send them.

Snapshots keep the log short. The hold whose entry reaches a multiple of :data:`SNAPSHOT_EVERY`
takes the whole state (the state document, its pending webhook deliveries included, the
rate-limit windows, and the instant the clock's source was pinned to), encodes it once the lock
is released and stores it; the log before the previous snapshot is trimmed. A worker that
starts, or must rebuild, or finds the entries it needs trimmed, imports the latest snapshot and
replays only the entries after it (the observer hears which version the deliveries the snapshot
holds were raised by).
The clock's source hands out whole milliseconds, so the clock's offset from it is whole
milliseconds too and the exported ``now`` carries it exactly: a copy loaded from a snapshot reads
the same times as one that replayed the whole log.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any, Protocol

from ...contract.validation import Contract
from ...domain.auth import IssuedToken, token_to_json
from ...domain.clock import parse_rfc3339
from ...domain.errors import StorageFailed
from ...domain.models import Account
from ...domain.sandbox import Sandbox
from ...loading.bootstrap import world_from_document
from .errors import SandboxGone, SharedStoreError, StoreUnavailable
from .link import WAIT_SECONDS, Entry, RedisLink
from .options import SNAPSHOT_EVERY

EXTENSION_CALLS = ("catch_up", "replace", "journal_attempt")
"""The methods of an attached extension that are recorded and replayed when it has them: the
personas' run and configuration, and the journal of a webhook attempt (made by the leader only,
shown by every worker)."""
RENEW_EVERY = 500
"""Entries replayed between two renewals of the lock during a long catch-up."""
_FINGERPRINT_LEFT_OUT = ("exportedAt", "clock")


class EntryObserver(Protocol):
    """Told, after each log entry this replica ran or replayed, whether it is in the log."""

    def entry_kept(self, position: int) -> None: ...
    def entry_lost(self) -> None: ...
    def state_loaded(self, position: int) -> None: ...
    def log_restarted(self) -> None: ...


class PinnedTime:
    """The sandbox clock's source on a shared sandbox: one instant per hold, from Redis."""

    def __init__(self, instant: int) -> None:
        self.instant = instant

    def now(self) -> int:
        return self.instant - self.instant % 1000  # whole milliseconds: see the module's docstring


class SharedLock:
    """A re-entrant lock whose outermost hold is also the sandbox's lock in Redis."""

    def __init__(self, replica: Replica) -> None:
        self._local = threading.RLock()
        self._depth = 0
        self._replica = replica

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        self._local.acquire()
        self._depth += 1
        if self._depth == 1:  # counted first: the catch-up's own ``with sandbox.lock`` is nested
            try:
                self._replica.begin()
            except BaseException:
                self._depth -= 1
                self._local.release()
                raise
        return True

    def release(self) -> None:
        after = None
        try:
            if self._depth == 1:
                after = self._replica.end()
        finally:
            self._depth -= 1
            self._local.release()
        if after is not None:
            after()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def unavailable(reason: str) -> StorageFailed:
    return StorageFailed.at("", f"{reason}; nothing was changed, try again", code="store_unavailable")


class Replica:
    """Keeps ``sandbox`` (this worker's copy) in step with the shared sandbox ``name`` in Redis."""

    def __init__(
        self,
        link: RedisLink,
        name: str,
        sandbox: Sandbox,
        contract: Contract,
        entry: Entry | None = None,
        *,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        self.link = link
        self.snapshot_every = snapshot_every
        self.keys = link.keys(name, entry)
        self.sandbox = sandbox
        self.contract = contract
        self._time = PinnedTime(0)
        self._version = 0
        self._snapshot_version = 0
        self._token: str | None = None
        self._hold_instant = 0
        self._last_instant = 0
        self._ops: list[list[Any]] = []
        self._recording = 0
        self._replaying = False
        self._stale = False
        self._base: dict[str, Any] = {}
        self._initial: dict[str, Any] = {}
        self._originals: dict[str, Callable[..., Any]] = {}
        self.replayed = 0
        """Entries replayed by this worker so far (for the bench and the tests)."""
        self.loaded = 0
        """Snapshots imported by this worker so far (for the bench and the tests)."""
        self.observer: EntryObserver | None = None
        """Told which log entry raised what (the webhook deliveries, ``deliveries.py``)."""

    # --- start ------------------------------------------------------------------------------
    def attach(self) -> None:
        """Agree with the shared sandbox on where it started, then follow it from now on.

        The first worker writes the start (its settings, world and clock); every later one must
        start from the same (same flags, same world), or it is refused: replaying the log over a
        different start would give a different sandbox.
        """
        sandbox = self.sandbox
        clock_state = sandbox.clock_state()
        try:
            whole, micros = self.link.client.time()
        except Exception as error:  # any failure of the client means unreachable here
            raise SharedStoreError(f"--store {self.link.where}: cannot reach Redis ({error})") from None
        now = int(whole) * 1_000_000 + int(micros)
        sandbox.clock._source = self._time  # the one place a clock's source is swapped
        self._pin_clock(now, clock_state)
        fingerprint = _fingerprint(sandbox.export_state())
        candidate = json.dumps({"pinned": now, "clock": clock_state, "fingerprint": fingerprint})
        try:
            self.link.set_new(self.keys.base, candidate)
            stored = self.link.get(self.keys.base)
        except StoreUnavailable as error:
            raise SharedStoreError(f"--store {self.link.where}: {error}") from None
        self._base = json.loads(stored or candidate)
        if self._base["fingerprint"] != fingerprint:
            raise SharedStoreError(
                f"--store {self.link.where}: the sandbox under prefix {self.keys.base.rsplit(':', 2)[0]!r} "
                "was started with other settings or another world; start with the same flags, or choose "
                "another --redis-prefix"
            )
        self._pin_clock(self._base["pinned"], self._base["clock"])
        self._initial = sandbox.export_state()
        self._last_instant = self._base["pinned"]
        self._wrap_entry_points()
        sandbox.lock = SharedLock(self)  # type: ignore[assignment]

    def _pin_clock(self, instant: int, clock_state: dict[str, Any]) -> None:
        self._time.instant = instant
        now = parse_rfc3339(clock_state["now"])
        assert now is not None
        self.sandbox.clock.restore(now, frozen=bool(clock_state["frozen"]))

    # --- holds ------------------------------------------------------------------------------
    def begin(self) -> None:
        """Take the lock in Redis and catch up (the outermost ``with sandbox.lock``)."""
        try:
            got = self.link.wait_for(self.keys)
            if got is None:
                raise unavailable(f"the shared sandbox stayed busy for {WAIT_SECONDS:.0f} s")
            self._token, version, now, self._snapshot_version = got
            if version < self._version and self.observer is not None:
                self.observer.log_restarted()
            if self._stale or version < self._version:
                self._rebuild()
            if version > self._version:
                self._catch_up(version)
        except StoreUnavailable as error:
            self._abandon()
            raise unavailable(str(error)) from None
        except BaseException:
            self._abandon()
            raise
        self._hold_instant = max(now, self._last_instant)
        self._time.instant = self._hold_instant
        self._ops = []

    def end(self) -> Callable[[], None] | None:
        """Append what this hold did to the log and release, as one step; returns what is left to
        do once the local lock is released too (storing a snapshot that fell due), if anything."""
        entries = []
        if self._ops:
            entries.append(json.dumps({"t": self._hold_instant, "ops": self._ops}, separators=(",", ":")))
            self._ops = []
        snapshot = (
            self._take_snapshot() if self._snapshot_due(self._version + len(entries), entries) else None
        )
        token, self._token = self._token, None
        assert token is not None
        try:
            version = self.link.commit(self.keys, token, self._version, entries)
        except StoreUnavailable as error:
            version = -3
            reason = str(error)
        else:
            reason = "this worker's hold on the shared sandbox expired before it could save"
        if version < 0:
            self._told(None)
            if entries:
                self._stale = True  # this replica ran a call the log may not have: start over
                raise unavailable(reason)
            return None
        self._version = version
        self._last_instant = self._hold_instant
        self._told(version if entries else None)
        return None if snapshot is None else lambda: self._store_snapshot(version, snapshot)

    def _told(self, position: int | None) -> None:
        """Tell the observer whether what this hold raised is in the log (at ``position``)."""
        if self.observer is not None:
            if position is None:
                self.observer.entry_lost()
            else:
                self.observer.entry_kept(position)

    def behind(self) -> bool:
        """Whether the log has entries this replica has not replayed (read without the lock)."""
        return self.link.version(self.keys) != self._version

    def _snapshot_due(self, version: int, entries: list[str]) -> bool:
        """Whether this hold takes a snapshot: the one whose entry reaches a multiple of the
        interval (one hold in the whole sandbox, so workers do not all encode one at once), or any
        hold once the latest snapshot is two intervals old (one that could not be stored)."""
        every = self.snapshot_every
        if every <= 0:
            return False
        return (bool(entries) and version % every == 0) or version - self._snapshot_version >= 2 * every

    def _take_snapshot(self) -> Callable[[], str]:
        """The state as it is at the end of this hold, as a function that encodes it later, with
        what a replay needs beside it: the instant the clock's source is pinned to (the clock's
        offset from it is in the state's ``now``) and the rate-limit windows (not state, yet they
        decide the next calls)."""
        build = self.sandbox.take_state()
        head = {"t": self._hold_instant, "rateLimits": self.sandbox.rate_limiter.windows()}
        return lambda: json.dumps({**head, "state": build()}, separators=(",", ":"))

    def _store_snapshot(self, version: int, snapshot: Callable[[], str]) -> None:
        """Encode and store a snapshot after the hold, while other calls go on on every worker
        (and on this one); one that cannot be stored now falls due again at the next hold."""
        with contextlib.suppress(StoreUnavailable):
            if self.link.store_snapshot(self.keys, version, snapshot()):
                self._snapshot_version = max(self._snapshot_version, version)

    def _abandon(self) -> None:
        self._told(None)
        token, self._token = self._token, None
        if token is not None:
            with contextlib.suppress(StoreUnavailable):  # else the lock expires on its own
                self.link.commit(self.keys, token, self._version, [])

    def _catch_up(self, version: int) -> None:
        if self._version == 0 and 0 < self._snapshot_version <= version:
            self._rebuild()  # a worker that starts begins at the latest snapshot
        raw = self.link.entries(self.keys, self._version, version - 1)
        if raw is None or len(raw) != version - self._version:
            self._rebuild()  # the entries it needs were trimmed: the snapshot is past them
            raw = self.link.entries(self.keys, self._version, version - 1)
            if raw is None or len(raw) != version - self._version:
                self._stale = True
                raise StoreUnavailable("the shared log lacks entries its latest snapshot does not cover")
        self._replay(raw)
        self._version = version

    def _rebuild(self) -> None:
        """Back to the latest snapshot, or to the shared start before the first one, to replay the
        log from there (a new worker, one whose entries were trimmed, or one whose commit failed
        after its replica had already run the call)."""
        # A Redis that lost its data lost the start too: put it back, so a worker that starts
        # later agrees with this one on the clock's base.
        self.link.set_new(self.keys.base, json.dumps(self._base))
        found = self.link.snapshot(self.keys)
        if found is None:
            version, snapshot = 0, {"t": self._base["pinned"], "rateLimits": [], "state": self._initial}
        else:
            version, snapshot = found[0], json.loads(found[1])
        document = snapshot["state"]
        self._time.instant = snapshot["t"]  # what the clock's offset in the document is from
        self._replaying = True
        try:
            world = world_from_document(self.contract, document["world"], "shared snapshot")
            self._originals["import_state"](world, document)
            self.sandbox.rate_limiter.restore_windows(snapshot["rateLimits"])
        finally:
            self._replaying = False
        self._last_instant = snapshot["t"]
        self._version = version
        self._snapshot_version = version
        self._stale = False
        self.loaded += found is not None
        if self.observer is not None:  # the deliveries the state holds pending were raised by then
            self.observer.state_loaded(version)

    def _replay(self, raw: list[str]) -> None:
        first = self._version + 1
        self._replaying = True
        try:
            for count, text in enumerate(raw, 1):
                entry = json.loads(text)
                self._time.instant = entry["t"]
                self._last_instant = max(self._last_instant, entry["t"])
                for op in entry["ops"]:
                    try:
                        self._apply(op)
                    except Exception:  # it failed the same way when first run
                        continue
                self._told(first + count - 1)
                if count % RENEW_EVERY == 0 and self._token is not None:
                    self.link.renew(self.keys, self._token)
            self.replayed += len(raw)
        finally:
            self._replaying = False

    # --- recording and replaying the entry points ------------------------------------------
    def _apply(self, op: list[Any]) -> None:
        kind, args = op[0], op[1:]
        sandbox, original = self.sandbox, self._originals
        if kind == "call":
            original["answer"](args[0], self._account(args[1]), args[2], _unrendered)
        elif kind == "admit":
            original["admit"](self._account(args[0]), args[1])
        elif kind == "fault":
            original["fault_for"](args[0])
        elif kind == "token":
            sandbox.auth._forget_expired(sandbox.clock.now())  # as issue() does, by the sandbox clock
            token = args[0]
            issued = IssuedToken(token["accessToken"], token["dscoAccountId"], token["expiresAt"])
            sandbox.auth.issued[issued.access_token] = issued
        elif kind == "clock":
            original["control_clock"](args[0])
        elif kind == "config":
            original["update_config"](args[0])
        elif kind == "reset":
            original["reset"](restore_settings=bool(args[0]))
        elif kind == "import":
            world = world_from_document(self.contract, args[0]["world"], "shared log")
            original["import_state"](world, args[0])
        elif kind == "extension":
            original[f"{args[0]}.{args[1]}"](*args[2:])

    def _account(self, account_id: str) -> Account:
        account = self.sandbox.world.account(account_id)
        if account is None:
            raise LookupError(account_id)
        return account

    def _wrap_entry_points(self) -> None:
        sandbox = self.sandbox
        # Every API operation goes through Sandbox.answer (Sandbox.call too): one entry to record.
        self._wrap(sandbox, "answer", lambda op, caller, body, render: ["call", op, caller.id, body])
        self._wrap(sandbox, "admit", lambda caller, op: ["admit", caller.id, op])
        self._wrap(sandbox, "fault_for", lambda op: ["fault", op])
        self._wrap(sandbox, "control_clock", lambda command: ["clock", dict(command)])
        self._wrap(sandbox, "update_config", lambda changes: ["config", dict(changes)])
        self._wrap(sandbox, "reset", lambda restore_settings=False: ["reset", restore_settings])
        self._wrap(sandbox, "issue_token", None, lambda token: ["token", token_to_json(token)])
        self._wrap(sandbox, "import_state", None, lambda _: ["import", sandbox.export_state()])
        for name, extension in sandbox.extensions.items():
            for method in EXTENSION_CALLS:
                if callable(getattr(extension, method, None)):
                    self._wrap(
                        extension,
                        method,
                        lambda *args, name=name, method=method: ["extension", name, method, *args],
                        key=f"{name}.{method}",
                    )
            catch_up = getattr(extension, "catch_up", None)
            if callable(catch_up):
                setattr(extension, "catch_up", _next_tick_on_outage(catch_up))  # noqa: B010

    def _wrap(
        self,
        target: Any,
        attribute: str,
        before: Callable[..., list[Any]] | None,
        after: Callable[[Any], list[Any]] | None = None,
        *,
        key: str | None = None,
    ) -> None:
        """Replace ``target.attribute`` with a version that takes the shared lock and records the
        call (``before`` it runs, so a call that fails is replayed and fails alike; ``after`` it
        succeeded, for calls whose effect is their random answer, or that change nothing when they
        fail). Calls made inside a recorded one, or by a replay, are not recorded again."""
        original = getattr(target, attribute)
        self._originals[key or attribute] = original

        def recorded(*args: Any, **kwargs: Any) -> Any:
            with self.sandbox.lock:
                if self._replaying or self._recording:
                    return original(*args, **kwargs)
                if before is not None:
                    self._ops.append(before(*args, **kwargs))
                self._recording += 1
                try:
                    answer = original(*args, **kwargs)
                finally:
                    self._recording -= 1
                if after is not None:
                    self._ops.append(after(answer))
                return answer

        setattr(target, attribute, recorded)


def _next_tick_on_outage(catch_up: Callable[[], int]) -> Callable[[], int]:
    """A persona ticker's catch-up that, while Redis is away (or once its namespace is gone, until
    this worker closes its copy), does nothing until its next tick, rather than end the ticker's
    thread with the 503 (or 404) a request would get."""

    def patient() -> int:
        try:
            return catch_up()
        except (StorageFailed, SandboxGone):
            return 0

    return patient


def _unrendered(answer: Any) -> None:
    """A replayed call's answer is nobody's: it is not rendered."""


def _fingerprint(document: dict[str, Any]) -> str:
    kept = {k: v for k, v in document.items() if k not in _FINGERPRINT_LEFT_OUT}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()
