"""One family of errors for every rule the domain enforces.

Each error carries a stable ``code`` (for the journal and for tests) and one or more problems, each
naming the field it is about. Only ``simulator/http/errors.py`` turns these into status codes, so the
domain never has to know what HTTP is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: the field path (``""`` for the whole body) and why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class SandboxError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "sandbox_error"

    def __init__(self, *problems: Problem, code: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = problems
        if code is not None:
            self.code = code
        super().__init__("; ".join(str(p) for p in problems))

    @classmethod
    def at(cls, field: str, message: str, *, code: str | None = None) -> Self:
        """Shorthand for the common case of a single problem."""
        return cls(Problem(field, message), code=code)


class InvalidRequest(SandboxError):
    """The request is well formed but breaks a rule of the API (vendor status: 400)."""

    code = "invalid_request"


class NotFound(SandboxError):
    """Something addressed by an opaque handle (a scrollId) does not exist or has expired."""

    code = "not_found"


class Conflict(SandboxError):
    """The request asks for something that clashes with what exists (a name already taken, a
    limit already reached); repeating it unchanged fails the same way."""

    code = "conflict"


class Unauthenticated(SandboxError):
    """No usable credentials: a missing, unknown or expired bearer token."""

    code = "unauthenticated"


class Refused(SandboxError):
    """A request the sandbox will not serve whoever sends it: one from another web site, or one
    addressed to a name that is not this machine's (a DNS rebinding attempt)."""

    code = "refused"


class InvalidClient(SandboxError):
    """OAuth2 client credentials that do not match an account (``invalid_client``)."""

    code = "invalid_client"


class InvalidTokenRequest(SandboxError):
    """A malformed OAuth2 token request (``invalid_request``)."""

    code = "invalid_request"


class RateLimited(SandboxError):
    """Too many calls of one operation by one account within a second of sandbox time."""

    code = "rate_limited"

    def __init__(self, *problems: Problem, retry_after: int, code: str | None = None) -> None:
        super().__init__(*problems, code=code)
        self.retry_after = retry_after


class StorageFailed(SandboxError):
    """The change could not be made durable (a full disk, a read-only file), so it was undone:
    the sandbox is as it was before the call, and the caller may try again."""

    code = "storage_failed"
