"""Where a scenario's requests go: :mod:`simulator.transport`, which the clients share, under the
name scenario code has always imported it by."""

from __future__ import annotations

from ..transport import (
    API_PREFIX,
    CONTROL_PREFIX,
    FORM_TYPE,
    JSON_TYPE,
    HttpTransport,
    InProcessTransport,
    Reply,
    Transport,
    TransportError,
    encode_body,
    parse_reply_body,
)

__all__ = [
    "API_PREFIX",
    "CONTROL_PREFIX",
    "FORM_TYPE",
    "JSON_TYPE",
    "HttpTransport",
    "InProcessTransport",
    "Reply",
    "Transport",
    "TransportError",
    "encode_body",
    "parse_reply_body",
]
