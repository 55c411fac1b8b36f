"""``serve --store redis://... --workers N``: refusals at start, and workers that share one sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from redis_support import RedisServer, free_port
from serve_support import start


def serve_exit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_workers_without_a_shared_store_are_refused() -> None:
    done = serve_exit("--workers", "2")
    assert done.returncode == 2
    assert "--workers needs a shared store" in done.stderr


def test_a_shared_store_and_a_state_file_are_exclusive(tmp_path: Path) -> None:
    done = serve_exit("--store", "redis://127.0.0.1:1/0", "--state-file", str(tmp_path / "s.db"))
    assert done.returncode == 2
    assert "exclusive" in done.stderr


def test_a_negative_snapshot_interval_is_refused() -> None:
    done = serve_exit(
        "--store", "redis://127.0.0.1:1/0", "--max-namespaces", "0", "--redis-snapshot-every", "-1"
    )
    assert done.returncode == 2
    assert "--redis-snapshot-every -1: expected 0 (never) or more" in done.stderr


def test_an_unreachable_redis_is_one_line_and_exit_2() -> None:
    done = serve_exit("--store", f"redis://127.0.0.1:{free_port()}/0")
    assert done.returncode == 2
    assert "cannot reach Redis" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_redis_that_may_evict_keys_is_refused(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, free_port())
    server.start()
    try:
        import redis

        redis.Redis.from_url(server.url).config_set("maxmemory-policy", "allkeys-lru")
        done = serve_exit("--store", server.url)
        assert done.returncode == 2
        assert "maxmemory-policy is allkeys-lru" in done.stderr
    finally:
        server.stop()


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if not path.exists():
        pytest.skip("no /proc here to find the workers")
    return {int(child) for child in path.read_text().split()}


def test_two_workers_serve_one_sandbox_and_its_namespaces_and_a_killed_worker_is_restarted(
    redis_server: RedisServer,
) -> None:
    served = start(
        "--store",
        redis_server.url,
        "--redis-prefix",
        f"serve-{os.getpid()}:",
        "--workers",
        "2",
        "--no-rate-limit",
        "--threads",
        "2",
    )
    try:
        base = served.base_url
        headers = {"Authorization": "Bearer retailer-demo-token"}  # the default world's legacy token
        made = set()
        for i in range(10):  # new connections each time: the two workers take turns accepting them
            answer = requests.post(
                f"{base}/api/v3/conversation",
                json={"title": f"t{i}", "otherPartyTradingPartnerId": "aaa-bbb-ccc"},
                headers=headers,
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
            made.add(answer.json()["id"])
        workers = _children(served.process.pid)
        assert len(workers) == 2
        os.kill(next(iter(workers)), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (_children(served.process.pid) - workers) == set():
            time.sleep(0.1)
        assert len(_children(served.process.pid)) == 2
        requests.post(f"{base}/_sandbox/clock", json={"advance": 60}, timeout=10).raise_for_status()
        listed = requests.post(
            f"{base}/api/v3/conversation/list",
            json={"createdSince": "2000-01-01T00:00:00Z"},
            headers=headers,
            timeout=10,
        )
        assert listed.status_code == 200, listed.text
        assert made <= {c["id"] for c in listed.json()["conversations"]}
        # Namespaces too: created through one worker, used, listed and deleted through either.
        created = requests.post(f"{base}/_sandbox/namespaces", json={"name": "ci-1"}, timeout=10)
        assert created.status_code == 201, created.text
        for i in range(6):
            answer = requests.post(
                f"{base}/ns/ci-1/api/v3/conversation",
                json={"title": f"t{i}", "otherPartyTradingPartnerId": "aaa-bbb-ccc"},
                headers=headers,
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
        namespaces = requests.get(f"{base}/_sandbox/namespaces", timeout=10).json()["namespaces"]
        assert [(n["name"], n["conversations"]) for n in namespaces] == [("ci-1", 6)]
        assert requests.delete(f"{base}/_sandbox/namespaces/ci-1", timeout=10).status_code == 200
        for _ in range(4):
            assert requests.get(f"{base}/ns/ci-1/_sandbox/health", timeout=10).status_code == 404
    finally:
        assert served.stop() == 0
