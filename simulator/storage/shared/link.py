"""The connection to the Redis that holds a shared sandbox, and the few scripts run there.

Every key lives under one prefix (``--redis-prefix``), so a Redis may hold other data and several
sandboxes; nothing here ever runs FLUSHDB, and forgetting a sandbox deletes only its own keys
(SCAN by prefix, then UNLINK). No state key carries a Redis expiry: every deadline the sandbox has
(tokens, scrolls, rate-limit windows) follows the sandbox clock inside the replicated state. Only
the lock key and the leader's lease expire (``PX``), so that a worker killed while holding one
blocks the others for at most :data:`LOCK_MILLIS`, or leaves the sandbox without a leader for at
most :data:`LEAD_MILLIS`: liveness, not state.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import SandboxGone, SharedStoreError, StoreUnavailable

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError:  # pragma: no cover - the message below says what to install
    redis = None  # type: ignore[assignment]

LOCK_MILLIS = 5000
"""How long a worker's hold on a sandbox lasts unless renewed: a killed holder blocks the others for
at most this long. A hold is one call (well under a millisecond); a long catch-up renews it."""
WAIT_SECONDS = 10.0
"""How long a call waits for the lock before it is answered 503."""
LEAD_MILLIS = 3000
"""How long a worker leads a sandbox (runs its personas, sends its webhooks) unless it renews the
lease: another worker takes over at most this long after the leader dies."""
SAFE_POLICIES = frozenset({"noeviction"})
"""Eviction policies under which Redis never drops a key. The volatile-* policies would only drop
keys with an expiry, which state keys never have, but the lock key has one: evicting it would let
two workers run at once. So anything but ``noeviction`` is refused."""

_ACQUIRE = """
if KEYS[5] then
  local entry = redis.call('HGET', KEYS[5], ARGV[3])
  if not entry or string.sub(entry, 1, #ARGV[4]) ~= ARGV[4] then return 'gone' end
end
local fence = redis.call('INCR', KEYS[2])
local token = ARGV[1] .. ':' .. fence
if not redis.call('SET', KEYS[1], token, 'NX', 'PX', ARGV[2]) then return false end
local now = redis.call('TIME')
local snapshot = redis.call('HGET', KEYS[4], 'version') or '0'
return {token, redis.call('GET', KEYS[3]) or '0', now[1], now[2], snapshot}
"""
"""Take the lock (or the lead) with a fencing token (owner and a counter that only grows), and
answer with the sandbox's version, Redis' clock and the latest snapshot's version in the same round
trip. A sandbox with a registry entry (a namespace) is answered 'gone', creating no key, once that
entry is gone or belongs to a later sandbox of the same name."""

_COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local version = tonumber(redis.call('GET', KEYS[2]) or '0')
if version ~= tonumber(ARGV[2]) then return -2 end
if #ARGV > 2 then
  for i = 3, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
  version = version + #ARGV - 2
  redis.call('SET', KEYS[2], version)
end
redis.call('DEL', KEYS[1])
return version
"""
"""Append a hold's entries, bump the version and release, all or nothing, and only while the
caller's token still holds the lock and nobody appended behind its back (a release with no entry
is the compare-and-delete of an ordinary lock)."""

_SNAPSHOT = """
local keep = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local version = tonumber(ARGV[1])
if version <= keep or version > tonumber(redis.call('GET', KEYS[4]) or '0') then return 0 end
local first = tonumber(redis.call('GET', KEYS[3]) or '0')
redis.call('HSET', KEYS[1], 'version', version, 'state', ARGV[2])
if keep > first then
  redis.call('LTRIM', KEYS[2], keep - first, -1)
  redis.call('SET', KEYS[3], keep)
end
return 1
"""
"""Store the state at ``version`` unless a later snapshot is there already or the log never reached
that version (Redis lost data meanwhile), and trim the log up to the previous snapshot's version,
not this one's: a worker behind by less than one interval still catches up by replaying entries,
and the log keeps at most two intervals. Versions stay absolute: ``first`` is the version of the
log's first kept entry. It needs no lock: the log only grows at its end, and every read of it is a
script too."""

_ENTRIES = """
local first = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) < first then return false end
return redis.call('LRANGE', KEYS[1], ARGV[1] - first, ARGV[2] - first)
"""
"""The log's entries from version ARGV[1] to ARGV[2], or nil when the first of them was trimmed;
one script, so a trim cannot fall between reading the offset and the range."""

_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""

_SETTLE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local stored = tonumber(redis.call('GET', KEYS[3]) or '0')
local mark = math.max(tonumber(ARGV[4]), stored)
if tonumber(string.match(ARGV[3], '^%d+')) <= mark then
  redis.call('HDEL', KEYS[2], ARGV[2])
else
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
end
if mark > stored then
  redis.call('SET', KEYS[3], mark)
  local fields = redis.call('HGETALL', KEYS[2])
  for i = 1, #fields, 2 do
    if tonumber(string.match(fields[i + 1], '^%d+')) <= mark then redis.call('HDEL', KEYS[2], fields[i]) end
  end
end
return 1
"""
"""Record how far one delivery went (``position:attempt`` or ``position:done``) and move the mark
below which every delivery is settled, dropping the records it covers: only while the caller's
token still leads. Reports come from several threads, so one may carry an older mark than Redis
has: the mark never moves back, and a delivery it already covers keeps no line."""


@dataclass(frozen=True)
class Entry:
    """Where a sandbox's registry entry is: the hash, the field, and how its value starts while
    the entry is this sandbox's (and not a later one's of the same name)."""

    registry: str
    field: str
    starts: str


@dataclass(frozen=True)
class Keys:
    """The keys of one sandbox (the default one, or a namespace) under the prefix."""

    lock: str
    fence: str
    version: str
    log: str
    base: str
    snapshot: str
    """A hash: ``version`` and ``state`` (the snapshot's JSON text)."""
    first: str
    """The version of the log's first kept entry (0 until a trim)."""
    leader: str
    deliveries: str
    settled: str
    entry: Entry | None = None
    """None for the default sandbox, which always exists."""


class RedisLink:
    """One Redis client and the scripts, for every sandbox of a server under one prefix."""

    def __init__(self, url: str, prefix: str) -> None:
        if redis is None:
            raise SharedStoreError(
                "--store redis:// needs the redis client: pip install 'dsco-sandbox[redis]'"
            )
        self.url = url
        self.prefix = prefix
        self.where = _safe_url(url)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        try:
            self.client: Any = redis.Redis.from_url(
                url,
                socket_timeout=2.0,
                socket_connect_timeout=2.0,
                retry=Retry(NoBackoff(), 0),
                decode_responses=True,
            )
        except ValueError as error:
            raise SharedStoreError(f"--store {self.where}: not a Redis URL ({error})") from None
        self._acquire = self.client.register_script(_ACQUIRE)
        self._commit = self.client.register_script(_COMMIT)
        self._renew = self.client.register_script(_RENEW)
        self._release = self.client.register_script(_RELEASE)
        self._entries = self.client.register_script(_ENTRIES)
        self._snapshot = self.client.register_script(_SNAPSHOT)
        self._settle = self.client.register_script(_SETTLE)

    def keys(self, name: str, entry: Entry | None = None) -> Keys:
        base = f"{self.prefix}{name}:"
        parts = ("lock", "fence", "version", "log", "base", "snapshot", "first", "leader", "deliveries")
        lock, fence, version, log, start, snapshot, first, leader, deliveries = (base + p for p in parts)
        settled = base + "settled"
        return Keys(lock, fence, version, log, start, snapshot, first, leader, deliveries, settled, entry)

    def check(self) -> None:
        """Refuse a Redis that cannot be reached or that may drop keys, in one line."""
        try:
            self.client.ping()
            memory = self.client.info("memory")
        except redis.RedisError as error:
            raise SharedStoreError(f"--store {self.where}: cannot reach Redis ({error})") from None
        policy = str(memory.get("maxmemory_policy", "noeviction"))
        if policy not in SAFE_POLICIES:
            raise SharedStoreError(
                f"--store {self.where}: Redis' maxmemory-policy is {policy}, which may drop the sandbox's "
                "keys under memory pressure; set it to noeviction (CONFIG SET maxmemory-policy noeviction)"
            )

    # --- the lock and the log --------------------------------------------------------------
    def acquire(self, keys: Keys) -> tuple[str, int, int, int] | None:
        """(token, version, Redis' time in microseconds, the latest snapshot's version), or None
        while another worker holds it; raises :class:`SandboxGone` once the sandbox's registry
        entry is gone."""
        answer = self._take(keys, keys.lock, self.owner, LOCK_MILLIS)
        if not answer:
            return None
        token, version, whole, micros, snapshot = answer
        return str(token), int(version), int(whole) * 1_000_000 + int(micros), int(snapshot)

    def _take(self, keys: Keys, key: str, owner: str, millis: int) -> Any:
        """Run the acquire script on ``key`` (the lock or the lead)."""
        names = [key, keys.fence, keys.version, keys.snapshot]
        args: list[str | int] = [owner, millis]
        if keys.entry is not None:
            names.append(keys.entry.registry)
            args += [keys.entry.field, keys.entry.starts]
        answer = self.call(self._acquire, names, args)
        if answer == "gone":
            raise SandboxGone(keys.base)
        return answer

    def wait_for(self, keys: Keys) -> tuple[str, int, int, int] | None:
        """:meth:`acquire`, trying again while another worker holds the lock; None after
        :data:`WAIT_SECONDS`."""
        deadline = time.monotonic() + WAIT_SECONDS
        delay = 0.0002
        while True:
            got = self.acquire(keys)
            if got is not None or time.monotonic() > deadline:
                return got
            time.sleep(delay)
            delay = min(delay * 2, 0.005)

    def commit(self, keys: Keys, token: str, version: int, entries: list[str]) -> int:
        """Append ``entries`` and release; the new version, or a negative number when the hold was
        lost (-1) or the log moved under it (-2)."""
        return int(self.call(self._commit, [keys.lock, keys.version, keys.log], [token, version, *entries]))

    def store_snapshot(self, keys: Keys, version: int, text: str) -> bool:
        """Keep ``text`` as the state at ``version`` and trim the log; False when it was not kept."""
        return bool(
            self.call(self._snapshot, [keys.snapshot, keys.log, keys.first, keys.version], [version, text])
        )

    def renew(self, keys: Keys, token: str) -> bool:
        return bool(self.call(self._renew, [keys.lock], [token, LOCK_MILLIS]))

    def entries(self, keys: Keys, start: int, stop: int) -> list[str] | None:
        """Log entries of versions ``start`` to ``stop`` (0-based, inclusive), or None when the
        log no longer holds ``start`` (trimmed after a snapshot)."""
        found = self.call(self._entries, [keys.log, keys.first], [start, stop])
        return None if found is None else list(found)

    def snapshot(self, keys: Keys) -> tuple[int, str] | None:
        """The latest snapshot: (the version it reflects, its text), or None before the first."""
        version, text = self.call(self.client.hmget, keys.snapshot, ["version", "state"])
        return None if version is None or text is None else (int(version), str(text))

    def version(self, keys: Keys) -> int:
        """The log's version, read without the lock (to learn whether this worker is behind)."""
        return int(self.call(self.client.get, keys.version) or 0)

    # --- the lead ---------------------------------------------------------------------------
    def lead(self, keys: Keys, owner: str, millis: int) -> str | None:
        """Take the lead while nobody holds it: the fencing token (so that a former leader's late
        writes are told apart and refused), or None; raises :class:`SandboxGone` as
        :meth:`acquire` does."""
        answer = self._take(keys, keys.leader, owner, millis)
        return str(answer[0]) if answer else None

    def keep_lead(self, keys: Keys, token: str, millis: int) -> bool:
        """Renew the lease, only while ``token`` still holds it."""
        return bool(self.call(self._renew, [keys.leader], [token, millis]))

    def release_lead(self, keys: Keys, token: str) -> None:
        """Let go of the lease, only while ``token`` still holds it."""
        self.call(self._release, [keys.leader], [token])

    def deliveries(self, keys: Keys) -> tuple[int, dict[str, str]]:
        """The mark up to which every delivery is settled, and the record of those after it."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.get(keys.settled)
            pipe.hgetall(keys.deliveries)
            mark, record = self.call(pipe.execute)
        return int(mark or 0), dict(record)

    def settle(self, keys: Keys, token: str, delivery_id: str, state: str, mark: int) -> bool:
        """Record a delivery's ``state`` and move the mark; False when ``token`` no longer leads."""
        answer = self.call(
            self._settle, [keys.leader, keys.deliveries, keys.settled], [token, delivery_id, state, mark]
        )
        return bool(answer)

    def get(self, key: str) -> str | None:
        value = self.call(self.client.get, key)
        return None if value is None else str(value)

    def set_new(self, key: str, value: str) -> bool:
        return bool(self.call(self.client.set, key, value, nx=True))

    def forget(self, name: str) -> int:
        """Delete one sandbox's keys (SCAN by its prefix, then UNLINK), nothing else."""
        pattern = _glob_escape(f"{self.prefix}{name}:") + "*"
        removed = 0
        for batch in _batches(self.call(self.client.scan_iter, match=pattern, count=500), 500):
            removed += int(self.call(self.client.unlink, *batch))
        return removed

    def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except redis.RedisError as error:
            raise StoreUnavailable(f"the shared store ({self.where}) is unavailable: {error}") from None


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    return url.replace(f"{user}:{parts.password}@", f"{user}:***@", 1)
