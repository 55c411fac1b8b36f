"""The Flask front end: parse, validate against the contract, call the domain, render."""

from .app import ServerConfig, create_app
from .compiled_routes import CompiledRoutes

__all__ = ["CompiledRoutes", "ServerConfig", "create_app"]
