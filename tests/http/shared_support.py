"""Two in-process "workers" (two apps, each with its own replica of one sandbox in one Redis),
and clients that send each request to the next worker in turn."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask
from http_support import LAG, START, Api, CheckedClient

from simulator.contract.validation import Contract
from simulator.domain.clock import format_rfc3339
from simulator.domain.config import SandboxConfig
from simulator.domain.sandbox import Sandbox
from simulator.http import ServerConfig, create_app
from simulator.http.workers import share_app
from simulator.storage.shared.options import SNAPSHOT_EVERY

LEAD_MILLIS = 1000
"""A short lease, so that a test sees another worker take the lead within a second or two."""


def shared_app(
    contract: Contract,
    url: str,
    prefix: str,
    server: ServerConfig | None = None,
    snapshot_every: int = SNAPSHOT_EVERY,
    **settings: Any,
) -> Flask:
    """One worker: an app whose sandbox starts frozen at START, then shares the store (``server``:
    the app's other settings; leads only once a test starts its leadership, as a worker does)."""
    config = SandboxConfig(**{"rate_limit": False, "lag_min": LAG, "lag_max": LAG, **settings})
    app = create_app(dataclasses.replace(server or ServerConfig(), sandbox=config), contract=contract)
    app.test_client_class = CheckedClient
    sandbox: Sandbox = app.extensions["dsco_sandbox"]
    sandbox.clock.restore(START, frozen=True)
    share_app(app, url, prefix, snapshot_every, LEAD_MILLIS)
    return app


class AlternatingClient(CheckedClient):
    """Sends each request to the next worker in turn."""

    workers: tuple[Flask, ...] = ()
    turn = 0

    def open(self, *args: Any, **kwargs: Any) -> Any:
        self.application = self.workers[self.turn % len(self.workers)]
        self.turn += 1
        return super().open(*args, **kwargs)


_CONFIG_FIELDS = {"page_size": "pageSize", "scroll_ttl": "scrollTtl", "token_ttl": "tokenTtl"}


class _SharedConfig:
    """A sandbox's settings where a test's ``config.page_size = 3`` becomes the config command,
    which every worker follows (a plain assignment would change one worker's replica only)."""

    def __init__(self, sandbox: Sandbox) -> None:
        object.__setattr__(self, "_sandbox", sandbox)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sandbox.config, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("lag_min", "lag_max"):
            lag = {"min": self._sandbox.config.lag_min, "max": self._sandbox.config.lag_max}
            lag[name[4:]] = value
            if lag["min"] > lag["max"]:  # `lag_min = lag_max = 8`: the first assignment lands alone
                lag["max"] = lag["min"]
            self._sandbox.update_config({"lag": lag})
        else:
            self._sandbox.update_config({_CONFIG_FIELDS[name]: value})


class _SharedSandbox:
    """The first worker's sandbox as a test sees it, with settings changed through commands."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self.config = _SharedConfig(sandbox)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sandbox, name)


class SharedApi(Api):
    """:class:`Api` whose time and settings go through the sandbox's commands (so every worker
    follows them), as a client of a real shared server would."""

    def __init__(self, client: Any, sandbox: Sandbox) -> None:
        super().__init__(client, _SharedSandbox(sandbox))  # type: ignore[arg-type]

    def advance(self, secs: float) -> None:
        self.sandbox.control_clock({"advance": secs})

    def now(self) -> int:
        with self.sandbox.lock:  # caught up first
            return self.sandbox.clock.now()

    def set_clock(self, instant: int) -> None:
        self.sandbox.control_clock({"set": format_rfc3339(instant)})


def pair(contract: Contract, url: str, prefix: str, **settings: Any) -> tuple[Flask, Flask]:
    return shared_app(contract, url, prefix, **settings), shared_app(contract, url, prefix, **settings)


def alternating_api(workers: tuple[Flask, Flask]) -> SharedApi:
    client = AlternatingClient(workers[0])
    client.workers = workers
    return SharedApi(client, workers[0].extensions["dsco_sandbox"])
