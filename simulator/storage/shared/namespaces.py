"""The registry of a shared server's namespaces, in Redis beside their sandboxes.

One hash under the prefix maps each name to its entry, a second to when it was last used; both
change only inside scripts, so each change is whole and every worker sees it at once. An entry is
``"<generation> <idle TTL> <created> <creation JSON>"``: the generation (a counter that only grows)
names the sandbox's keys (``ns/<name>/<generation>``), so a name deleted and created again never
meets the old sandbox's keys or a worker's copy of it, and the creation JSON (world, seed, settings,
control token) is what any worker needs to build the same start, whose log it then replays.

Times are Redis' ``TIME`` in seconds, the one clock of every worker: a namespace is idle when that
clock has passed its last use by more than its TTL. No key carries a Redis expiry; an idle
namespace is dropped by whichever worker notices first, under its sandbox's lock so that no hold is
in flight, and then only its own keys are unlinked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .link import Entry, RedisLink

_NOW = """
local t = redis.call('TIME')
local now = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
"""

_CLAIM = (
    _NOW
    + """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'taken' end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return 'full' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. now .. ' ' .. ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], now)
return now
"""
)
"""Register a name unless it is taken or the server is full, as one step: two workers racing for
the last free slot cannot both win."""

_USE = (
    _NOW
    + """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return false end
local used = redis.call('HGET', KEYS[2], ARGV[1]) or now
local ttl = tonumber(string.match(entry, '^%d+ (%S+) '))
if tonumber(now) - tonumber(used) > ttl then return {entry, used, now, 1} end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[2], ARGV[1], now)
  used = now
end
return {entry, used, now, 0}
"""
)
"""One entry, its last use and whether it is idle past its TTL; marked used now when asked (and
still alive)."""

_LIST = (
    _NOW
    + """
return {now, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"""
)

_DROP = """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry or string.sub(entry, 1, #ARGV[2]) ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[3] then return -1 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""
"""Remove one generation's entry; when it is dropped as idle, only if nobody used it since (-1)."""


@dataclass(frozen=True)
class NamespaceEntry:
    """A namespace as the registry keeps it: enough for any worker to build its start."""

    name: str
    generation: int
    idle_ttl: float
    created_at: float
    creation: dict[str, Any]
    """``world``, ``seed``, ``settings`` as the creation request gave them, and the ``token``."""

    @property
    def sandbox_name(self) -> str:
        """Its sandbox's name under the prefix (never "default", which has no slash)."""
        return f"ns/{self.name}/{self.generation}"


@dataclass(frozen=True)
class Found:
    """An entry as a lookup found it: when it was last used, and whether it is idle past its TTL."""

    entry: NamespaceEntry
    used: str
    """The last use as stored (seconds on Redis' clock), for a drop that must not take a namespace
    used since."""
    idle: bool

    @property
    def used_at(self) -> float:
        return float(self.used)


class SharedNamespaces:
    """The scripts on the registry of one prefix (every call may raise ``StoreUnavailable``)."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self.registry = f"{link.prefix}namespaces"
        self.used = f"{link.prefix}namespaces-used"
        self.generations = f"{link.prefix}namespaces-generation"
        client = link.client
        self._claim = client.register_script(_CLAIM)
        self._use = client.register_script(_USE)
        self._list = client.register_script(_LIST)
        self._drop = client.register_script(_DROP)

    def entry_of(self, entry: NamespaceEntry) -> Entry:
        """Where the sandbox's hold checks that the namespace still exists."""
        return Entry(self.registry, entry.name, f"{entry.generation} ")

    def new_generation(self) -> int:
        return int(self.link.call(self.link.client.incr, self.generations))

    def claim(
        self, name: str, generation: int, idle_ttl: float, creation: dict[str, Any], cap: int
    ) -> str | float:
        """The creation time, or "taken" / "full" (and nothing was written)."""
        head = f"{generation} {idle_ttl!r}"
        text = json.dumps(creation, separators=(",", ":"))
        answer = str(self.link.call(self._claim, [self.registry, self.used], [name, head, text, cap]))
        return answer if answer in ("taken", "full") else float(answer)

    def find(self, name: str, *, touch: bool) -> Found | None:
        answer = self.link.call(self._use, [self.registry, self.used], [name, "1" if touch else "0"])
        if not answer:
            return None
        value, used, _, idle = answer
        return Found(_parse(name, value), str(used), bool(int(idle)))

    def listing(self) -> list[Found]:
        now, entries, uses = self.link.call(self._list, [self.registry, self.used])
        used = dict(zip(uses[::2], uses[1::2], strict=True))
        found = []
        for name, value in zip(entries[::2], entries[1::2], strict=True):
            entry = _parse(name, value)
            last = used.get(name, now)
            found.append(Found(entry, str(last), float(now) - float(last) > entry.idle_ttl))
        return sorted(found, key=lambda f: f.entry.name)

    def drop(self, found: Found, *, only_if_idle: bool) -> bool:
        """Remove the namespace and unlink its sandbox's keys, under that sandbox's lock so that no
        worker's hold is in flight; False when it was used since (``only_if_idle``) or is gone."""
        entry = found.entry
        keys = self.link.keys(entry.sandbox_name)
        got = self.link.wait_for(keys)
        idle_since = found.used if only_if_idle else ""
        dropped = int(
            self.link.call(
                self._drop, [self.registry, self.used], [entry.name, f"{entry.generation} ", idle_since]
            )
        )
        if dropped == -1:
            if got is not None:
                self.link.commit(keys, got[0], got[1], [])
            return False
        self.link.forget(entry.sandbox_name)  # the lock too; also what a gone one left behind
        return dropped == 1


def _parse(name: str, value: str) -> NamespaceEntry:
    generation, ttl, created, creation = value.split(" ", 3)
    return NamespaceEntry(name, int(generation), float(ttl), float(created), json.loads(creation))
