"""The session's background server stops even while a client still holds a connection open.

A failed test's traceback keeps its responses, and so their keep-alive connections, alive; the
server must not wait for them at the end of the session.
"""

from __future__ import annotations

import socket

from simulator.harness import BackgroundServer
from simulator.http.app import create_app


def test_stop_ends_the_server_thread_with_a_connection_held_open() -> None:
    server = BackgroundServer(create_app())
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as held:
        held.sendall(b"GET /_sandbox/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = held.recv(1024)
        while b'{"status": "ok"}' not in answer:  # the head and the body may come in two segments
            more = held.recv(1024)
            assert more, answer
            answer += more
        assert answer.startswith(b"HTTP/1.1 200")  # answered, and kept alive
        server.stop()
        assert not server._thread.is_alive()
        assert held.recv(1024) == b""  # the server closed its end
