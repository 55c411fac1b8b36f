"""Slow clients (a header byte every half second) must not take the sandbox away from the others.

The short version here holds more slow connections than waitress's old limit of 100; the bench
(bench/reliability.py) holds 500 and reports the success rate and median of normal requests.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
import requests
from serve_support import Served

SLOW_CONNECTIONS = 150


@contextmanager
def slow_clients(port: int, count: int, seconds: float) -> Iterator[list[socket.socket]]:
    """``count`` connections that each send one more header byte every 0.5 s, for ``seconds`` at most."""
    sockets: list[socket.socket] = []
    stop = threading.Event()
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /_sandbox/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)

    def trickle() -> None:
        deadline = time.monotonic() + seconds
        while not stop.wait(0.5) and time.monotonic() < deadline:
            for sock in sockets:
                with suppress(OSError):
                    sock.sendall(b"X")

    worker = threading.Thread(target=trickle, daemon=True)
    worker.start()
    try:
        yield sockets
    finally:
        stop.set()
        worker.join(timeout=5)
        for sock in sockets:
            sock.close()


@pytest.mark.e2e
def test_normal_requests_are_served_while_slow_clients_hold_connections(shared: Served) -> None:
    port = int(shared.base_url.rsplit(":", 1)[1])
    with slow_clients(port, SLOW_CONNECTIONS, seconds=20):
        time.sleep(0.5)  # let the server accept them all
        answered = 0
        for _ in range(10):
            with suppress(requests.RequestException):
                if requests.get(f"{shared.base_url}/_sandbox/health", timeout=3).ok:
                    answered += 1
    assert answered == 10, f"{answered}/10 normal requests answered"


def test_waitress_closes_a_connection_whose_request_is_still_incomplete_after_the_deadline() -> None:
    """In process, with a one-second deadline (``serve`` uses ``SLOW_REQUEST_SECONDS``)."""
    from simulator.http.app import create_app
    from simulator.http.server import waitress_server

    server = waitress_server(create_app(), "127.0.0.1", 0, threads=2, slow_request_seconds=1)
    runner = threading.Thread(target=server.run, daemon=True)
    runner.start()
    try:
        port = server.effective_port
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /_sandbox/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            started = time.monotonic()
            closed = False
            while time.monotonic() - started < 6:
                time.sleep(0.25)
                try:
                    slow.sendall(b"X")  # still trickling: never idle
                except OSError:
                    closed = True
                    break
                slow.settimeout(0.01)
                try:
                    if slow.recv(1) == b"":
                        closed = True
                        break
                except TimeoutError:
                    pass
            assert closed, "the slow connection was never closed"
            assert 0.9 < time.monotonic() - started < 6
        # A normal request is still answered.
        assert requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=5).ok
    finally:
        server.close()
