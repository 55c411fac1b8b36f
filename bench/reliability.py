"""Trust under attack: the full figures of the attacks tests/reliability replays in short.

* second bind: a second ``serve`` on a port in use, for each pair of servers: refused (exit 2,
  one line naming the port) or not;
* slow clients: ``--slow`` connections (default 500) sending one header byte every 0.5 s to the
  default server (waitress) while a client makes normal requests: their success rate and median,
  beside the same requests with no slow clients;
* scroll load: ``--list-seconds`` (default 30) of list calls that each open a scroll (4 threads),
  over enough conversations that every scroll holds a sizeable result: RSS before and after;
* failed writes: a battery of write requests answered with a status of 400 or more (contract
  violations, rule violations, forced faults, an oversized chunked body, the clock at its end):
  how many of them left a conversation or message stored (the target is 0).

Everything runs on 127.0.0.1, bounded in count and time, and stops by itself.

Usage: python bench/reliability.py [--slow 500] [--slow-seconds 20] [--list-seconds 30]
                                   [--conversations 1000] [--smoke] [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import (
    BIN,
    CREATE_BODY,
    RESULTS,
    Http,
    clean,
    free_port,
    median,
    percentile,
    print_machine,
    rss_mb,
    start_sandbox,
    table,
    write_results,
)

from simulator.domain.paging import OPEN_SCROLLS_PER_ACCOUNT

RETAILER = {"Authorization": "bearer retailer-demo-token"}
SERVERS = ("waitress", "granian")


# --- a second bind ---------------------------------------------------------------------------------
def second_bind(log_dir: Path, smoke: bool) -> list[dict[str, Any]]:
    rows = []
    kinds = [kind for kind in SERVERS if kind == "waitress" or importlib.util.find_spec("granian")]
    for first in kinds[:1] if smoke else kinds:
        port = free_port()
        server = start_sandbox(f"bind-{first}", log_dir, "--server", first, port=port)
        try:
            for second in kinds:
                done = subprocess.run(
                    [str(BIN / "dsco-sandbox"), "serve", "--server", second, "--port", str(port)],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                rows.append(
                    {
                        "first": first,
                        "second": second,
                        "exit": done.returncode,
                        "refused": done.returncode == 2 and "in use" in done.stderr,
                        "message": done.stderr.strip(),
                    }
                )
        finally:
            server.stop()
    return rows


# --- slow clients -------------------------------------------------------------------------------------
@contextlib.contextmanager
def slow_clients(port: int, count: int, seconds: float) -> Iterator[list[socket.socket]]:
    """``count`` connections trickling one header byte every 0.5 s, for ``seconds`` at most."""
    sockets: list[socket.socket] = []
    stop = threading.Event()
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /_sandbox/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            sockets.append(sock)
        except OSError:
            break

    def trickle() -> None:
        deadline = time.monotonic() + seconds
        while not stop.wait(0.5) and time.monotonic() < deadline:
            for sock in sockets:
                with contextlib.suppress(OSError):
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


def normal_requests(base_url: str, seconds: float) -> dict[str, Any]:
    """A new connection per request (as a fresh client would make), for ``seconds``."""
    latencies, failures = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        client = Http(base_url, timeout=5.0)
        started = time.perf_counter()
        try:
            status, _ = client.call("POST", "/api/v3/conversation/list", {}, RETAILER)
            if status == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failures += 1
        except OSError:
            failures += 1
        finally:
            client.close()
        time.sleep(0.05)
    total = len(latencies) + failures
    ordered = sorted(latencies)
    return {
        "requests": total,
        "succeeded": len(latencies),
        "success_rate": len(latencies) / total if total else None,
        "p50_ms": median(ordered),
        "p99_ms": percentile(ordered, 0.99),
    }


def slow_client_load(count: int, seconds: float, log_dir: Path) -> dict[str, Any]:
    server = start_sandbox("slow-clients", log_dir, "--no-rate-limit")
    port = int(server.base_url.rsplit(":", 1)[1])
    try:
        quiet = normal_requests(server.base_url, min(5.0, seconds))
        with slow_clients(port, count, seconds + 5) as held:
            time.sleep(1.0)  # let the server accept them
            loaded = normal_requests(server.base_url, seconds)
            opened = len(held)
    finally:
        server.stop()
    return {"slow_connections": opened, "seconds": seconds, "without": quiet, "with": loaded}


# --- scroll load ----------------------------------------------------------------------------------------
def scroll_load(conversations: int, seconds: float, log_dir: Path) -> dict[str, Any]:
    server = start_sandbox("scroll-load", log_dir, "--no-rate-limit", "--lag", "0,0")
    try:
        client = Http(server.base_url)
        for _ in range(conversations):
            status, _ = client.call("POST", "/api/v3/conversation", CREATE_BODY, RETAILER)
            assert status == 201, status
        client.call("POST", "/_sandbox/clock", {"advance": 10})
        client.close()
        time.sleep(1.0)
        before = rss_mb(server.pid)
        calls = [0]
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def lister() -> None:
            own = Http(server.base_url)
            done = 0
            while time.monotonic() < deadline:
                status, _ = own.call("POST", "/api/v3/conversation/list", {}, RETAILER)
                assert status == 200, status
                done += 1
            own.close()
            with lock:
                calls[0] += done

        workers = [threading.Thread(target=lister) for _ in range(4)]
        for worker in workers:
            worker.start()
        samples = []  # RSS every tenth of the run: a plateau, not a slope, shows the cap holds
        for step in range(1, 11):
            time.sleep(max(0.0, deadline - (10 - step) * seconds / 10 - time.monotonic()))
            samples.append(rss_mb(server.pid))
        for worker in workers:
            worker.join()
        after = rss_mb(server.pid)
    finally:
        server.stop()
    return {
        "conversations": conversations,
        "seconds": seconds,
        "list_calls": calls[0],
        "scrolls_opened": calls[0],
        "rss_before_mb": before,
        "rss_samples_mb": samples,
        "rss_after_mb": after,
    }


# --- failed writes ---------------------------------------------------------------------------------
def failed_writes(log_dir: Path) -> dict[str, Any]:
    """Send writes that must fail; count the ones that changed the store anyway."""
    server = start_sandbox("failed-writes", log_dir, "--no-rate-limit", "--lag", "0,0")
    client = Http(server.base_url)

    def counts() -> tuple[int, int]:
        _, state = client.call("GET", "/_sandbox/state")
        return len(state["conversations"]), len(state["messages"])

    try:
        status, created = client.call("POST", "/api/v3/conversation", CREATE_BODY, RETAILER)
        assert status == 201, created
        conversation = created["id"]
        status, _ = client.call(
            "PUT", "/api/v3/conversation", {"dscoConversationId": conversation, "status": "closed"}, RETAILER
        )
        assert status == 200
        big = json.dumps(CREATE_BODY).encode() + b" " * (1024 * 1024)
        attacks: list[tuple[str, str, str, Any]] = [
            ("contract violation", "POST", "/api/v3/conversation", {"title": 5}),
            (
                "unknown partner",
                "POST",
                "/api/v3/conversation",
                {**CREATE_BODY, "otherPartyTradingPartnerId": "x"},
            ),
            ("supplier creates customer care", "POST", "/api/v3/conversation", "supplier"),
            (
                "message to a closed one",
                "POST",
                "/api/v3/conversation/message",
                {"dscoConversationId": conversation, "message": "hello"},
            ),
            ("update naming nothing", "PUT", "/api/v3/conversation", {"dscoConversationId": conversation}),
            ("malformed JSON", "POST", "/api/v3/conversation", "{"),
            ("oversized chunked body", "POST", "/api/v3/conversation", big),
        ]
        results = []
        for name, method, path, body in attacks:
            before = counts()
            status = _send(server.base_url, method, path, body)
            results.append({"attack": name, "status": status, "stored": counts() != before})
        # Forced faults: every write answered 503 before the handler runs.
        client.call("PUT", "/_sandbox/config", {"faults": {"*": {"forceStatus": 503, "forceCount": 3}}})
        before = counts()
        statuses = [_send(server.base_url, "POST", "/api/v3/conversation", CREATE_BODY) for _ in range(3)]
        forced = {"attack": "forced 503 (injected)", "status": statuses[-1], "stored": counts() != before}
        results.append({**forced, "injected": True})
        # The clock at its end: an advance past it is refused; writes there are answered whole.
        client.call("POST", "/_sandbox/clock", {"set": "9999-12-31T23:59:59Z"})
        before = counts()
        status, _ = client.call("POST", "/_sandbox/clock", {"advance": 5})
        results.append({"attack": "advance past the end", "status": status, "stored": counts() != before})
        time.sleep(1.1)
        before = counts()
        status = _send(server.base_url, "POST", "/api/v3/conversation", CREATE_BODY)
        changed = counts() != before
        results.append({"attack": "create at the clock's end", "status": status, "stored": changed})
    finally:
        client.close()
        server.stop()
    results = [{"injected": False, **r} for r in results]
    refused = [r for r in results if r["status"] >= 400]
    return {
        "attacks": results,
        "answered_400_or_more": len(refused),
        "stored_by_400_or_more": sum(1 for r in refused if r["stored"]),
        "unexpected_500_or_more": sum(1 for r in results if r["status"] >= 500 and not r["injected"]),
    }


def _send(base_url: str, method: str, path: str, body: Any) -> int:
    """One call on a fresh connection; a bytes body goes chunked, as a streaming client sends it."""
    host_port = base_url.split("://", 1)[1]
    host, _, port = host_port.partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {**RETAILER, "Content-Type": "application/json"}
    if body == "supplier":  # a rule only the retailer may break: customer care from the supplier
        headers["Authorization"] = "bearer supplier-demo-token"
        body = {**CREATE_BODY, "otherPartyTradingPartnerId": "NW-RETAIL"}
    try:
        if isinstance(body, bytes):
            chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
            connection.request(method, path, body=chunks, headers=headers, encode_chunked=True)
        else:
            text = body if isinstance(body, str) else json.dumps(body)
            connection.request(method, path, body=text.encode(), headers=headers)
        response = connection.getresponse()
        response.read()
        return int(response.status)
    finally:
        connection.close()


# --- the report --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=500, help="slow connections (default: %(default)s)")
    parser.add_argument("--slow-seconds", type=float, default=20, help="seconds of normal requests")
    parser.add_argument("--list-seconds", type=float, default=30, help="seconds of list load")
    parser.add_argument("--conversations", type=int, default=1000, help="conversations behind the lists")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, ~1 s loads (for the test suite)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.slow, args.slow_seconds, args.list_seconds, args.conversations = 20, 1.0, 1.0, 120
    info = print_machine()
    log_dir = args.results_dir / "logs"

    binds = second_bind(log_dir, args.smoke)
    print(
        table(
            ("first", "second", "exit", "refused", "message"),
            [
                (b["first"], b["second"], b["exit"], "yes" if b["refused"] else "NO", b["message"])
                for b in binds
            ],
            title="\nA second serve on a port in use",
        )
    )

    slow = slow_client_load(args.slow, args.slow_seconds, log_dir)
    print(
        table(
            ("slow connections", "requests", "success rate", "p50 ms", "p99 ms"),
            [
                (
                    0,
                    slow["without"]["requests"],
                    slow["without"]["success_rate"],
                    slow["without"]["p50_ms"],
                    slow["without"]["p99_ms"],
                ),
                (
                    slow["slow_connections"],
                    slow["with"]["requests"],
                    slow["with"]["success_rate"],
                    slow["with"]["p50_ms"],
                    slow["with"]["p99_ms"],
                ),
            ],
            title=f"\nNormal requests (getConversations, a new connection each) on waitress, "
            f"{args.slow_seconds:g} s",
        )
    )

    scrolls = scroll_load(args.conversations, args.list_seconds, log_dir)
    print(
        table(
            ("conversations", "seconds", "list calls", "RSS before MB", "RSS after MB"),
            [
                (
                    scrolls["conversations"],
                    scrolls["seconds"],
                    scrolls["list_calls"],
                    scrolls["rss_before_mb"],
                    scrolls["rss_after_mb"],
                )
            ],
            title="\nList load, each call opening a scroll (4 threads)",
        )
    )
    print("RSS every tenth of the run, MB: " + ", ".join(f"{mb:.0f}" for mb in scrolls["rss_samples_mb"]))
    print(
        "(the journal keeps its last 1000 answers, each page up to 64 KB, which is most of the growth; "
        f"open scrolls are capped at {OPEN_SCROLLS_PER_ACCOUNT} per account)"
    )

    writes = failed_writes(log_dir)
    print(
        table(
            ("attack", "status", "stored"),
            [(r["attack"], r["status"], "YES" if r["stored"] else "no") for r in writes["attacks"]],
            title="\nWrites that must not be stored",
        )
    )
    print(
        f"writes stored by answers >= 400: {writes['stored_by_400_or_more']} "
        f"of {writes['answered_400_or_more']}; unexpected answers >= 500: {writes['unexpected_500_or_more']}"
    )

    document = {
        "machine": info,
        "second_bind": binds,
        "slow_clients": slow,
        "scroll_load": scrolls,
        "failed_writes": writes,
        "smoke": args.smoke,
    }
    write_results(args.results_dir, "reliability", clean(document))
    ok = all(b["refused"] for b in binds) and writes["stored_by_400_or_more"] == 0
    ok = ok and writes["unexpected_500_or_more"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
