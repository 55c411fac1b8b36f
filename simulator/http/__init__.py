"""The Flask front end: parse, validate against the contract, call the domain, render."""

from .app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]
