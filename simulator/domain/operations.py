"""The API's operations, in one table: each one's method, path, success status and kind.

Everything that names an operation reads it here: the HTTP routes, the domain's handler map, the
typed client, the scenario runner, the command line, the console, the test helpers and the benches.

Why pure constants in the domain rather than read from ``contracts/openapi.yaml`` at run time: the
domain needs the names and kinds (which operations write, which answer pages), and it may import
nothing above itself, the contract layer included; the client, which runs against production too,
should not need the contract's files or YAML at all. So the table lives at the bottom, and
``tests/contract/test_operations_table.py`` checks it against both OpenAPI documents (operationId,
method, path and the documented success status), so the two cannot drift apart silently. What the
contract cannot say (which operations change state, which are safe to repeat after a dropped
connection) is said here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

API_PREFIX: Final = "/api/v3"
"""Where the vendor API lives on a sandbox server (a vendor environment's base URL ends with it)."""
CONTROL_PREFIX: Final = "/_sandbox"
"""Where the sandbox's own control plane lives (no vendor environment has it)."""


@dataclass(frozen=True, slots=True)
class ApiOperation:
    """One vendor operation: how it is called and what kind of operation it is."""

    operation_id: str
    method: str
    path: str
    """Under :data:`API_PREFIX`."""
    success: int
    """The status of a successful answer."""
    writes: bool = False
    """Creates or changes conversations or messages."""
    items: str | None = None
    """For an operation that answers pages (and continues a scroll from a ``scrollId``): the key of
    the page's list of items."""
    issues_token: bool = False

    @property
    def pages(self) -> bool:
        return self.items is not None

    @property
    def changes_state(self) -> bool:
        """Its success changes the saved state (a new token is part of it too)."""
        return self.writes or self.issues_token

    @property
    def safe_to_repeat(self) -> bool:
        """Sending it twice does no harm, so a dropped connection may be retried: after a drop nobody
        knows whether a write went through, and writing twice is worse than reporting the failure."""
        return not self.writes


_TABLE: Final = (
    ApiOperation("getAccessToken", "POST", "/oauth2/token", 200, issues_token=True),
    ApiOperation("createConversation", "POST", "/conversation", 201, writes=True),
    ApiOperation("updateConversation", "PUT", "/conversation", 200, writes=True),
    ApiOperation("getConversations", "POST", "/conversation/list", 200, items="conversations"),
    ApiOperation("addConversationMessage", "POST", "/conversation/message", 201, writes=True),
    ApiOperation("getConversationMessages", "POST", "/conversation/message/list", 200, items="messages"),
    ApiOperation("getHello", "GET", "/hello", 200),
)
OPERATIONS: Final = MappingProxyType({operation.operation_id: operation for operation in _TABLE})
"""Every vendor operation by operationId, in the order the contract lists them."""
CONVERSATION_OPERATIONS: Final = tuple(
    operation.operation_id for operation in _TABLE if operation.writes or operation.pages
)
"""The operations the domain answers for a caller (``Sandbox.call``): all but the token and hello."""
WRITE_OPERATIONS: Final = frozenset(operation.operation_id for operation in _TABLE if operation.writes)
LIST_OPERATIONS: Final = tuple(operation.operation_id for operation in _TABLE if operation.pages)
STATE_CHANGES: Final = frozenset(operation.operation_id for operation in _TABLE if operation.changes_state)


@dataclass(frozen=True, slots=True)
class ControlOperation:
    """One route of the control plane (``/_sandbox``), as ``contracts/sandbox-openapi.yaml`` has it."""

    operation_id: str
    method: str
    path: str
    """Under :data:`CONTROL_PREFIX`."""


CONTROL_OPERATIONS: Final = MappingProxyType(
    {
        operation.operation_id: operation
        for operation in (
            ControlOperation("getHealth", "GET", "/health"),
            ControlOperation("resetSandbox", "POST", "/reset"),
            ControlOperation("getClock", "GET", "/clock"),
            ControlOperation("controlClock", "POST", "/clock"),
            ControlOperation("getConfig", "GET", "/config"),
            ControlOperation("updateConfig", "PUT", "/config"),
            ControlOperation("exportState", "GET", "/state"),
            ControlOperation("importState", "PUT", "/state"),
            ControlOperation("listEvents", "GET", "/events"),
            ControlOperation("listNotifications", "GET", "/notifications"),
            ControlOperation("getPersonas", "GET", "/personas"),
            ControlOperation("setPersonas", "PUT", "/personas"),
            ControlOperation("createNamespace", "POST", "/namespaces"),
            ControlOperation("listNamespaces", "GET", "/namespaces"),
            ControlOperation("getNamespace", "GET", "/namespaces/{name}"),
            ControlOperation("deleteNamespace", "DELETE", "/namespaces/{name}"),
        )
    }
)
"""Every control-plane route by operationId."""


def api_path(operation_id: str) -> str:
    """The operation's full path on a sandbox server (``/api/v3/conversation``)."""
    return API_PREFIX + OPERATIONS[operation_id].path


def split_api_base(url: str) -> tuple[str, str]:
    """``(server root, API base)`` of a URL given as either: ``http://h:1`` or ``http://h:1/api/v3``."""
    base = url.rstrip("/")
    if base.endswith(API_PREFIX):
        return base[: -len(API_PREFIX)], base
    return base, base + API_PREFIX
