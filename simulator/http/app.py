"""The application factory: one Flask app around one :class:`Sandbox`.

Nothing lives in module globals; the sandbox and the contract hang off ``app.extensions``, so tests
can build as many independent apps as they like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask

from ..bootstrap import build_sandbox
from ..contract import Contract
from ..domain.config import SandboxConfig
from ..domain.sandbox import Sandbox
from .api import create_api_blueprint
from .control import create_control_blueprint
from .errors import register_error_handlers

MAX_BODY_BYTES = 1024 * 1024
API_PREFIX = "/api/v3"


@dataclass
class ServerConfig:
    """How to build an app: which world, which sandbox settings, how strict the checks are."""

    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    world_path: Path | None = None
    validate_responses: bool = True
    """Check every response against the contract; a violation is answered as a 500 (a sandbox bug)."""


def create_app(
    config: ServerConfig | None = None,
    *,
    sandbox: Sandbox | None = None,
    contract: Contract | None = None,
) -> Flask:
    config = config or ServerConfig()
    contract = contract or Contract()
    sandbox = sandbox or build_sandbox(contract, config.sandbox, config.world_path)
    app = Flask("dsco_sandbox")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["DSCO_VALIDATE_RESPONSES"] = config.validate_responses
    app.extensions["dsco_sandbox"] = sandbox
    app.extensions["dsco_contract"] = contract
    app.register_blueprint(create_api_blueprint(), url_prefix=API_PREFIX)
    app.register_blueprint(create_control_blueprint(), url_prefix="/_sandbox")
    register_error_handlers(app)
    return app
