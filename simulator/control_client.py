"""One client of the sandbox's control plane (``/_sandbox``), on any :class:`Transport`.

The pytest harness, the scenario runner and the test helpers all drive the same routes (clock,
settings and faults, reset, state, journal, notifications, personas, namespaces); they do it through
this class, so each route's method and path is written once (in the operations table) and each
answer is read one way. Every route has a raw form (:meth:`ControlClient.request`, the answer as it
came, whatever its status) for callers that judge the answer themselves, and a checked form (the
named methods) that returns the JSON of a 2xx answer and raises :class:`ControlError` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .domain.operations import CONTROL_OPERATIONS, CONTROL_PREFIX
from .transport import HttpTransport, InProcessTransport, Reply, Transport

__all__ = ["ControlClient", "ControlError"]


class ControlError(RuntimeError):
    """A control-plane call answered something other than success; says what it answered."""

    def __init__(self, method: str, path: str, reply: Reply) -> None:
        super().__init__(f"{method} {path} answered {reply.status}: {reply.text.strip()}")
        self.status = reply.status
        self.reply = reply


class ControlClient:
    """The ``/_sandbox`` routes of one sandbox (or one namespace of a server, given its root)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @classmethod
    def over_http(
        cls, base_url: str, *, admin_token: str | None = None, timeout: float = 30
    ) -> ControlClient:
        """A client of the sandbox whose root (or API base) is ``base_url``; the admin token, when the
        server was started with one, goes with every call."""
        return cls(HttpTransport(base_url, control_plane=True, admin_token=admin_token, timeout=timeout))

    @classmethod
    def in_process(cls, app: Any, *, client: Any = None) -> ControlClient:
        """A client of a Flask app in this process (through ``client`` when given, a test client)."""
        return cls(InProcessTransport(app, client=client))

    # --- raw ---------------------------------------------------------------------------------
    def request(
        self,
        operation_id: str,
        *,
        json: Any = None,
        query: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> Reply:
        """Call one route by its operationId and return the answer as it came (no status check).

        ``name`` fills a ``{name}`` path parameter; ``query`` values are sent as text.
        """
        method, path = self.route(operation_id, name)
        sent_query = {key: _query_text(value) for key, value in (query or {}).items() if value is not None}
        return self.transport.request(method, path, json=json, query=sent_query)

    @staticmethod
    def route(operation_id: str, name: str | None = None) -> tuple[str, str]:
        """The method and full path of a control-plane operation."""
        operation = CONTROL_OPERATIONS[operation_id]
        path = operation.path if name is None else operation.path.replace("{name}", name)
        return operation.method, CONTROL_PREFIX + path

    def _ok(self, operation_id: str, reply: Reply, name: str | None = None) -> Any:
        """The JSON of a successful answer; a :class:`ControlError` naming the call otherwise."""
        if reply.status >= 300:
            method, path = self.route(operation_id, name)
            raise ControlError(method, path, reply)
        return reply.body

    def _call(self, operation_id: str, **kwargs: Any) -> Any:
        return self._ok(operation_id, self.request(operation_id, **kwargs), kwargs.get("name"))

    # --- checked -----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        found: dict[str, Any] = self._call("getHealth")
        return found

    def reset(self, *, restore_settings: bool = False) -> None:
        self._call("resetSandbox", json={"restoreSettings": True} if restore_settings else None)

    def clock(self, command: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The clock's state; with a ``command`` (``{"advance": 6}``, ``{"freeze": True}``, ``{"set":
        ...}``) the state after it."""
        found: dict[str, Any] = (
            self._call("controlClock", json=dict(command)) if command else self._call("getClock")
        )
        return found

    def advance(self, seconds: float) -> dict[str, Any]:
        return self.clock({"advance": seconds})

    def config(self, changes: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The settings (faults included); with ``changes`` the settings after them."""
        found: dict[str, Any] = (
            self._call("updateConfig", json=dict(changes)) if changes else self._call("getConfig")
        )
        return found

    def faults(self, rules: Mapping[str, Any] | None) -> dict[str, Any]:
        """Replace the fault rules per operation (None clears them all); the rules in force after."""
        found: dict[str, Any] = self.config({"faults": None if rules is None else dict(rules)})["faults"]
        return found

    def export_state(self) -> dict[str, Any]:
        found: dict[str, Any] = self._call("exportState")
        return found

    def import_state(self, document: Mapping[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("importState", json=dict(document))
        return found

    def events(self, **query: Any) -> list[dict[str, Any]]:
        """The journal (``kind``, ``operation``, ``account``, ``since``, ``after``, ``limit``)."""
        found: list[dict[str, Any]] = self._call("listEvents", query=query)["events"]
        return found

    def notifications(self, **query: Any) -> list[dict[str, Any]]:
        """The notifications raised, all or one ``account``'s."""
        found: list[dict[str, Any]] = self._call("listNotifications", query=query)["notifications"]
        return found

    def personas(self, document: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Who the sandbox plays; with a ``document`` (``{}`` for nobody) the configuration after it."""
        found: dict[str, Any] = (
            self._call("getPersonas") if document is None else self._call("setPersonas", json=dict(document))
        )
        return found

    def create_namespace(self, body: Mapping[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("createNamespace", json=dict(body))
        return found

    def namespaces(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("listNamespaces")["namespaces"]
        return found

    def namespace(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("getNamespace", name=name)
        return found

    def delete_namespace(self, name: str) -> None:
        self._call("deleteNamespace", name=name)

    def close(self) -> None:
        self.transport.close()


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
