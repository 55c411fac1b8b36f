"""A real ``redis-server`` for the shared-store tests, on a free loopback port in a temporary folder."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_redis_server() -> None:
    """Skip with a clear reason when Debian's redis-server is missing; fail under CI=true."""
    if not os.path.exists(REDIS_SERVER):
        _missing("redis-server")


def _missing(package: str) -> NoReturn:
    reason = f"{package} is not installed (apt-get install {package}; `make test` does it as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and its key, made now with the openssl command
    (skips without it, and fails under CI=true, as for redis-server)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        _missing("openssl")
    certificate, key = folder / "redis.crt", folder / "redis.key"
    request = (
        "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
    )
    files = ["-keyout", str(key), "-out", str(certificate)]
    subprocess.run([openssl, *request.split(), *files], check=True, capture_output=True, timeout=30)
    return certificate, key


@dataclass
class RedisServer:
    """One redis-server process; ``durable`` keeps an append-only file, so a restart keeps the data;
    ``tls`` (certificate, key) serves TLS only, on ``port``."""

    folder: Path
    port: int
    durable: bool = False
    tls: tuple[Path, Path] | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.tls is not None:
            return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls[0]}"
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else []
        ports = ["--port", str(self.port)]
        if self.tls is not None:
            certificate, key = self.tls
            ports = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(certificate)]
            ports += ["--tls-key-file", str(key), "--tls-auth-clients", "no"]
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                *ports,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(self.folder),
                "--protected-mode",
                "yes",
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with self._connect() as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _connect(self) -> socket.socket:
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=0.2)
        if self.tls is None:
            return connection
        context = ssl.create_default_context(cafile=str(self.tls[0]))
        return context.wrap_socket(connection, server_hostname="127.0.0.1")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Whether ``check`` holds within ``seconds`` (asked every 20 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()
