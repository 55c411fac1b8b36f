"""The scenario as the runner sees it, and what a run produced.

Loading turns a file into these plain dataclasses once, after every check has passed, so the runner
never meets a half-valid scenario and reports never need the file again.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal


class Missing(enum.Enum):
    """Marks a field the file leaves out, where ``None`` (JSON null) is a value someone may mean."""

    MISSING = enum.auto()


MISSING: Final = Missing.MISSING

API_OPERATIONS: Final = MappingProxyType(
    {
        "create_conversation": "createConversation",
        "update_conversation": "updateConversation",
        "add_message": "addConversationMessage",
        "list_conversations": "getConversations",
        "list_messages": "getConversationMessages",
        "get_token": "getAccessToken",
        "poll_messages": "getConversationMessages",
    }
)
"""Actions that call the vendor API as an actor, and the operation each one calls (its method and
path are in the operations table); they run against any target."""
API_ACTIONS: Final = frozenset(API_OPERATIONS)

CONTROL_OPERATIONS: Final = MappingProxyType(
    {
        "advance_clock": "controlClock",
        "set_clock": "controlClock",
        "set_config": "updateConfig",
        "set_personas": "setPersonas",
        "reset": "resetSandbox",
        "expect_notification": "listNotifications",
        "list_events": "listEvents",
    }
)
"""Actions that need the sandbox control plane, and the control-plane operation each one calls;
skipped against a target without one."""
CONTROL_ACTIONS: Final = frozenset(CONTROL_OPERATIONS)
ACTIONS: Final = API_ACTIONS | CONTROL_ACTIONS

ROLES: Final = ("retailer", "supplier", "consumer")


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    client_id: str | None = None
    client_secret: str | None = None
    dsco_account_id: str | None = None
    id: str | None = None

    def attribute(self, name: str) -> str | None:
        """An actor's attribute by the name scenario files use (``${actors.NAME.FIELD}``)."""
        return {
            "name": self.name,
            "role": self.role,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "dscoAccountId": self.dsco_account_id,
            "id": self.id,
        }.get(name)


ACTOR_FIELDS: Final = ("name", "role", "client_id", "client_secret", "dscoAccountId", "id")


@dataclass(frozen=True)
class Poll:
    query: Mapping[str, Any] = field(default_factory=dict)
    since: str | None = None
    interval: float = 30.0
    max_polls: int = 10
    until_found: int = 1


@dataclass(frozen=True)
class Expectation:
    """What an answer must look like; values may still hold ``${...}`` expressions."""

    status: tuple[int, ...] | None = None
    body: Any = MISSING
    paths: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)
    text: Any = MISSING

    def to_json(self) -> dict[str, Any]:
        """The expectation as the file wrote it, for reports."""
        shown: dict[str, Any] = {}
        if self.status is not None:
            shown["status"] = self.status[0] if len(self.status) == 1 else list(self.status)
        if self.body is not MISSING:
            shown["body"] = self.body
        if self.paths:
            shown["paths"] = dict(self.paths)
        if self.headers:
            shown["headers"] = dict(self.headers)
        if self.text is not MISSING:
            shown["text"] = self.text
        return shown


@dataclass(frozen=True)
class Step:
    index: int
    """1-based position in the file; 0 is the scenario's own ``config``, applied before step 1."""
    name: str
    action: str
    line: int
    actor: str | None = None
    body: Any = MISSING
    raw_body: str | None = None
    content_type: str | None = None
    auth: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    poll: Poll | None = None
    expect: Expectation = field(default_factory=Expectation)
    save_as: str | None = None

    @property
    def needs_control_plane(self) -> bool:
        return self.action in CONTROL_ACTIONS


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    steps: tuple[Step, ...]
    actors: Mapping[str, Actor] = field(default_factory=dict)
    description: str = ""
    seed: int | None = None
    world: Path | None = None
    """A world file for in-process runs; ``None`` is the default world."""
    config: Mapping[str, Any] | None = None


StepStatus = Literal["passed", "failed", "skipped"]


@dataclass
class RequestRecord:
    method: str
    path: str
    body: Any = None
    query: Mapping[str, str] | None = None


@dataclass
class ResponseRecord:
    status: int
    headers: Mapping[str, str]
    body: Any
    """Parsed JSON when the answer was JSON, else its text."""


@dataclass
class StepResult:
    index: int
    name: str
    actor: str | None
    action: str
    status: StepStatus
    request: RequestRecord | None = None
    response: ResponseRecord | None = None
    reason: str = ""
    diff: list[str] = field(default_factory=list)
    expectation: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0
    line: int = 0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class ScenarioResult:
    name: str
    path: Path | None
    steps: list[StepResult] = field(default_factory=list)
    target: str = ""
    """Where it ran (``in-process`` or a URL), for reports."""

    @property
    def passed(self) -> bool:
        """A run passes when no step failed; steps skipped for want of a control plane are fine."""
        return all(step.status != "failed" for step in self.steps)

    @property
    def duration(self) -> float:
        return sum(step.duration for step in self.steps)

    def count(self, status: StepStatus) -> int:
        return sum(1 for step in self.steps if step.status == status)

    @property
    def first_failure(self) -> StepResult | None:
        return next((step for step in self.steps if step.status == "failed"), None)
