"""What can go wrong with a shared store, apart from the Redis client, so that code which only
needs to recognise these errors (the namespace dispatcher of every server) never loads it."""

from __future__ import annotations

from ...loading.bootstrap import WorldFileError


class SharedStoreError(WorldFileError):
    """A shared store that cannot be used, as one line saying what to do (exit 2 at start)."""


class StoreUnavailable(Exception):
    """Redis could not be reached, or the hold was lost, while serving (answered 503)."""


class SandboxGone(Exception):
    """The sandbox's registry entry is gone (a namespace deleted or expired through any worker)."""
