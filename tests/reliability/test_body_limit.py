"""A body over 1 MiB is refused whole (413) by both servers, however it is sent, and never stored."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests
from reliability_support import CREATE, RETAILER, counts
from serve_support import Served

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_chunked_body_over_1_mib_is_refused_and_nothing_is_stored(shared: Served) -> None:
    # A valid request padded with spaces: its first MiB alone would parse and be stored.
    body = json.dumps(CREATE).encode() + b" " * MIB
    answer = requests.post(
        f"{shared.base_url}/api/v3/conversation",
        data=_chunks(body),  # a generator: sent with Transfer-Encoding: chunked
        headers={**RETAILER, "Content-Type": "application/json"},
        timeout=20,
    )
    assert answer.status_code == 413, answer.text
    assert counts(shared) == (0, 0)
    # Exactly 1 MiB, chunked, is read whole (and this one parses).
    exact = json.dumps(CREATE).encode()
    exact += b" " * (MIB - len(exact))
    answer = requests.post(
        f"{shared.base_url}/api/v3/conversation",
        data=_chunks(exact),
        headers={**RETAILER, "Content-Type": "application/json"},
        timeout=20,
    )
    assert answer.status_code == 201, answer.text
    assert counts(shared) == (1, 0)


def test_a_huge_content_length_is_refused_before_the_body_is_read(shared: Served) -> None:
    port = int(shared.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v3/conversation HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: bearer retailer-demo-token\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n{"
        )
        answer = sock.recv(4096)  # times out (an error) if the server waits for the 100 MB
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
