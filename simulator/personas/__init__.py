"""Counterparts that act: the sandbox plays retailers and suppliers of its world.

A layer of its own, above the domain and the contract and below HTTP: personas decide what to do and
when, and do it through the same domain calls an API request makes (see ``engine``). ``config``
holds what they do, ``templates`` fills their texts, ``loader`` reads persona files and options.
"""

from __future__ import annotations

from .config import PersonaRole, PersonaSettings
from .engine import Personas
from .loader import (
    PersonaFileError,
    attach_personas,
    default_document,
    parse_option,
    read_document,
    requested_settings,
)

__all__ = [
    "PersonaFileError",
    "PersonaRole",
    "PersonaSettings",
    "Personas",
    "attach_personas",
    "default_document",
    "parse_option",
    "read_document",
    "requested_settings",
]
