"""A body over 1 MiB is refused whole (413) by both servers, however it is sent, and never stored."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests
from reliability_support import CREATE, RETAILER, SERVERS, counts, serve

MIB = 1024 * 1024


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("server", SERVERS)
def test_a_chunked_body_over_1_mib_is_refused_and_nothing_is_stored(server: str) -> None:
    served = serve(server, "--no-rate-limit")
    try:
        # A valid request padded with spaces: its first MiB alone would parse and be stored.
        body = json.dumps(CREATE).encode() + b" " * MIB
        answer = requests.post(
            f"{served.base_url}/api/v3/conversation",
            data=_chunks(body),  # a generator: sent with Transfer-Encoding: chunked
            headers={**RETAILER, "Content-Type": "application/json"},
            timeout=20,
        )
        assert answer.status_code == 413, answer.text
        assert counts(served) == (0, 0)
    finally:
        served.stop()


@pytest.mark.parametrize("server", SERVERS)
def test_a_huge_content_length_is_refused_before_the_body_is_read(server: str) -> None:
    served = serve(server)
    port = int(served.base_url.rsplit(":", 1)[1])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /api/v3/conversation HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: bearer retailer-demo-token\r\nContent-Type: application/json\r\n"
                b"Content-Length: 104857600\r\n\r\n{"
            )
            answer = sock.recv(4096)  # times out (an error) if the server waits for the 100 MB
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    finally:
        served.stop()
