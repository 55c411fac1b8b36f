"""Throughput and latency over real HTTP on loopback, the sandbox side by side with its peers.

Every server runs pinned to CPU 0 (``taskset -c 0``) and the load generator, ``wrk -t1 -c16``, to
CPU 1, one measurement of ``--duration`` seconds repeated ``--repeat`` times (medians reported):

* the sandbox as shipped: ``dsco-sandbox serve --no-rate-limit`` (waitress, 8 threads), each of the
  six operations, with ~100 seeded conversations and messages so that list pages hold 100 items;
* bare Flask routes on the same server (parse the JSON body; answer ~600 bytes for a create, and a
  fixed page the size of the sandbox's 100-item pages for the two lists): what any Flask app costs
  to move the same bytes, so ``sandbox / bare`` is the price of the sandbox's own work (an
  operation without a bare route of its own is divided by the bare create);
* both again under granian (`dsco-sandbox serve --server granian`; the bare app under `granian
  --interface wsgi`, 1 worker, 1 blocking thread), if it can be installed;
* Prism (``prism mock contracts/openapi.yaml``) and WireMock (one stub for createConversation,
  after a 30 s warm-up), installed with npm into bench/.peers/, with their start-up time and RSS.

All stacks start first; then every (stack, operation) is measured once per round, round after
round, so a drifting background load hits every figure alike.

Usage: python bench/http_throughput.py [--duration 10] [--repeat 3] [--no-peers] [--no-granian]
                                        [--all-granian] [--waitress-threads 1,4] [--smoke]
                                        [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    ANSWER,
    BENCH,
    BIN,
    CREATE_BODY,
    LIST_ANSWERS,
    OPERATIONS,
    PYTHON,
    RESULTS,
    ROOT,
    TARGET_OPERATIONS,
    Http,
    Server,
    answers,
    bare_for,
    clean,
    compact,
    cpu_seconds,
    free_port,
    load_average,
    median,
    pinned,
    pip_install,
    print_machine,
    rss_mb,
    start_server,
    table,
    verdict,
    write_results,
)

from simulator.domain.operations import (
    API_PREFIX,
    CONVERSATION_OPERATIONS,
    LIST_OPERATIONS,
    WRITE_OPERATIONS,
    api_path,
)

WRITES = tuple(operation for operation in CONVERSATION_OPERATIONS if operation in WRITE_OPERATIONS)
LISTS = LIST_OPERATIONS
GRANIAN_OPERATIONS = (*WRITES, *LISTS)
BARE_OPERATIONS = ("createConversation", "getConversations", "getConversationMessages")
PRISM_OPERATIONS = (*WRITES, *LISTS)
LONG_OPERATIONS = ("createConversation", "addConversationMessage")
"""A long run (``--long``) loads the writes: the store grows, so its p99 spans full collections."""
LUA = BENCH / "lua"
PEERS = BENCH / ".peers"
SEED_START = "2024-01-01T00:00:00.000Z"
SEED_UNTIL = "2024-01-01T00:00:30.000Z"  # after the seeds, before anything the load creates
SEED_AFTER = "2024-01-01T00:01:00.000Z"
SEEDED = 100
RETAILER = {"Authorization": "bearer retailer-demo-token"}


@dataclass
class Stack:
    name: str
    kind: str  # sandbox, bare, prism, wiremock
    server: str  # waitress, granian, node, jvm
    operations: tuple[str, ...]
    prefix: str = API_PREFIX
    auth: str = "bearer retailer-demo-token"
    warmup: float = 2.0
    notes: list[str] = field(default_factory=list)
    options: tuple[str, ...] = ()
    """More options for ``dsco-sandbox serve`` (``--state-file`` of a preloaded state)."""


# --- tools -----------------------------------------------------------------------------------------
def find_wrk(install: bool) -> tuple[str | None, str]:
    found = shutil.which("wrk")
    if found or not install:
        return found, "" if found else "wrk is not on PATH (not installed in a smoke run)"
    apt = shutil.which("apt-get")
    if apt is None:
        return None, "wrk is not on PATH and there is no apt-get to install it with"
    print("wrk not found: trying apt-get install -y wrk ...", flush=True)
    for attempt in ([apt, "install", "-y", "wrk"], [apt, "update"], [apt, "install", "-y", "wrk"]):
        if attempt[1] == "update" and shutil.which("wrk"):
            break
        try:
            subprocess.run(attempt, capture_output=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            return None, f"apt-get failed: {error}"
    found = shutil.which("wrk")
    return found, "" if found else "wrk could not be installed with apt-get (not root? offline?)"


def ensure_peers() -> tuple[dict[str, Any], dict[str, str]]:
    """Install Prism and WireMock with npm into bench/.peers/; returns (found, why-not) per peer."""
    prism = PEERS / "node_modules" / ".bin" / "prism"
    jars = sorted((PEERS / "node_modules" / "wiremock").glob("**/wiremock-standalone-*.jar"))
    missing: dict[str, str] = {}
    if not prism.exists() or not jars:
        npm = shutil.which("npm")
        if npm is None:
            reason = "npm is not on PATH, so the peers cannot be installed"
            return {}, {"prism": reason, "wiremock": reason}
        PEERS.mkdir(parents=True, exist_ok=True)
        print(
            "installing the peers: npm install @stoplight/prism-cli wiremock into bench/.peers ...",
            flush=True,
        )
        done = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(PEERS),
                "--no-audit",
                "--no-fund",
                "@stoplight/prism-cli",
                "wiremock",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            reason = f"npm install failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}"
            missing = {"prism": reason, "wiremock": reason}
        jars = sorted((PEERS / "node_modules" / "wiremock").glob("**/wiremock-standalone-*.jar"))
    found: dict[str, Any] = {}
    if prism.exists():
        version = _package_version(PEERS / "node_modules" / "@stoplight" / "prism-cli" / "package.json")
        found["prism"] = {"command": str(prism), "version": version}
    else:
        missing.setdefault("prism", "prism was not installed")
    if not jars:
        missing.setdefault("wiremock", "the wiremock npm package holds no standalone jar")
    elif shutil.which("java") is None:
        missing["wiremock"] = "java is not on PATH, so the WireMock jar cannot run"
    else:
        found["wiremock"] = {
            "jar": str(jars[-1]),
            "version": jars[-1].stem.removeprefix("wiremock-standalone-"),
        }
    return found, missing


def _package_version(path: Path) -> str:
    try:
        return str(json.loads(path.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


# --- servers -----------------------------------------------------------------------------------------
def launch(stack: Stack, peers: dict[str, Any], log_dir: Path) -> Server:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    health_sandbox = answers("GET", "/_sandbox/health")
    create_ok = answers("POST", f"{stack.prefix}/conversation", CREATE_BODY, {"Authorization": stack.auth})
    granian = [
        str(BIN / "granian"),
        "--interface",
        "wsgi",
        "--workers",
        "1",
        "--blocking-threads",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--working-dir",
        str(BENCH),
    ]
    if stack.name == "sandbox/waitress":
        command = [str(BIN / "dsco-sandbox"), "serve", "--no-rate-limit", "--port", str(port), *stack.options]
        return start_server(stack.name, pinned(0, command), base, health_sandbox, log_dir, timeout=600)
    if stack.name.startswith("sandbox/waitress-t"):  # --waitress-threads: the same serve, fewer threads
        threads = stack.name.removeprefix("sandbox/waitress-t")
        command = [
            str(BIN / "dsco-sandbox"),
            "serve",
            "--no-rate-limit",
            "--port",
            str(port),
            "--threads",
            threads,
        ]
        return start_server(stack.name, pinned(0, command), base, health_sandbox, log_dir)
    if stack.name == "bare/waitress":
        command = [PYTHON, str(BENCH / "bare_app.py"), "--port", str(port), "--threads", "8"]
        return start_server(stack.name, pinned(0, command), base, answers("GET", "/health"), log_dir)
    if stack.name.startswith("sandbox/granian"):  # the same serve, on granian (-tN: N threads)
        command = [
            str(BIN / "dsco-sandbox"),
            "serve",
            "--server",
            "granian",
            "--no-rate-limit",
            "--port",
            str(port),
            *stack.options,
        ]
        if stack.name.startswith("sandbox/granian-t"):
            command += ["--threads", stack.name.removeprefix("sandbox/granian-t")]
        return start_server(stack.name, pinned(0, command), base, health_sandbox, log_dir, timeout=600)
    if stack.name == "bare/granian":
        return start_server(
            stack.name, pinned(0, [*granian, "bare_app:app"]), base, answers("GET", "/health"), log_dir
        )
    if stack.name == "prism":
        command = [
            peers["prism"]["command"],
            "mock",
            str(ROOT / "contracts" / "openapi.yaml"),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-v",
            "silent",
        ]
        return start_server(stack.name, pinned(0, command), base, create_ok, log_dir, timeout=90)
    if stack.name == "wiremock":
        root = PEERS / "wiremock-root"
        (root / "mappings").mkdir(parents=True, exist_ok=True)
        (root / "__files").mkdir(parents=True, exist_ok=True)
        stub = {
            "request": {"method": "POST", "url": "/api/v3/conversation"},
            "response": {
                "status": 201,
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps(ANSWER),
            },
        }
        (root / "mappings" / "create-conversation.json").write_text(json.dumps(stub, indent=2))
        command = [
            "java",
            "-jar",
            peers["wiremock"]["jar"],
            "--port",
            str(port),
            "--bind-address",
            "127.0.0.1",
            "--root-dir",
            str(root),
            "--disable-banner",
        ]
        return start_server(stack.name, pinned(0, command), base, create_ok, log_dir, timeout=120)
    raise ValueError(stack.name)


def seed_sandbox(base_url: str) -> dict[str, str]:
    """~100 conversations (each with its first message) at a fixed past time, then the clock moves on.

    Lists with ``until`` = SEED_UNTIL then hold exactly the seeded items: 100, a full first page,
    whatever the load creates meanwhile.
    """
    client = Http(base_url)
    try:
        for command in ({"freeze": True}, {"set": SEED_START}):
            status, body = client.call("POST", "/_sandbox/clock", command)
            assert status == 200, (status, body)
        ids = []
        for _ in range(SEEDED):
            status, body = client.call("POST", "/api/v3/conversation", CREATE_BODY, RETAILER)
            assert status == 201, (status, body)
            ids.append(body["id"])
        for command in ({"set": SEED_AFTER}, {"freeze": False}):
            status, body = client.call("POST", "/_sandbox/clock", command)
            assert status == 200, (status, body)
        checks = {}
        for path, key in (
            (api_path("getConversations"), "conversations"),
            (api_path("getConversationMessages"), "messages"),
        ):
            status, body = client.call("POST", path, {"until": SEED_UNTIL}, RETAILER)
            assert status == 200 and isinstance(body, dict), (path, status, body)
            checks[key] = len(body[key])
            size = len(compact(body).encode())
            print(
                f"    first page of {path}: {checks[key]} items, {size:,} bytes "
                f"(the bare app answers {len(LIST_ANSWERS[path].encode()):,}), scrollId: {'scrollId' in body}"
            )
        assert checks == {"conversations": SEEDED, "messages": SEEDED}, checks
        return {"BENCH_CONVERSATION_ID": ids[0], "BENCH_UNTIL": SEED_UNTIL}
    finally:
        client.close()


def preloaded_state(messages: int, results_dir: Path, copy_for: str) -> Path:
    """A fresh copy (one per server, named after ``copy_for``) of a SQLite state database of
    ``messages`` stored messages in conversations of 10, written straight into its tables as
    bench/persistence.py writes its start-up state, once, and kept in the results folder.

    Serving it keeps it: writes also commit there (bench/persistence.py measures what that
    costs a create); list pages do not touch it."""
    from persistence import REPLY, base_state, records

    from simulator.contract.validation import Contract
    from simulator.domain.state import conversation_from_json, message_from_json
    from simulator.storage.statedb import import_into_database
    from simulator.storage.staterows import CONVERSATIONS, MESSAGES

    database = results_dir / f"preloaded-{messages}.db"
    copy = results_dir / f"preloaded-{messages}-{copy_for}.db"
    if database.exists():
        shutil.copyfile(database, copy)
        return copy
    results_dir.mkdir(parents=True, exist_ok=True)
    print(f"writing a state of {messages:,} messages into {database} ...", flush=True)
    template = base_state()
    small = results_dir / "preloaded-template.json"
    small.write_text(json.dumps(template), "utf-8")
    partial = database.with_suffix(".partial.db")
    partial.unlink(missing_ok=True)
    import_into_database(Contract(), partial, small)
    connection = sqlite3.connect(partial)
    connection.execute("BEGIN")
    for table_name in ("conversations", "messages", "notifications"):
        connection.execute(f"DELETE FROM {table_name}")
    batch = 100_000
    for first in range(0, messages, batch):
        conversations, items = records(template, min(batch, messages - first), first, REPLY)
        connection.executemany(
            CONVERSATIONS.upsert, (CONVERSATIONS.row(conversation_from_json(c)) for c in conversations)
        )
        connection.executemany(MESSAGES.upsert, (MESSAGES.row(message_from_json(m)) for m in items))
    connection.execute("COMMIT")
    connection.close()
    partial.rename(database)
    shutil.copyfile(database, copy)
    return copy


# --- load ---------------------------------------------------------------------------------------------
def run_wrk(
    wrk: str, base_url: str, operation: str, env: dict[str, str], duration: float, server_pid: int
) -> dict[str, Any]:
    command = pinned(
        1,
        [
            wrk,
            "-t1",
            "-c16",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA / f"{operation}.lua"),
            base_url,
        ],
    )
    cpu_before = cpu_seconds(server_pid)
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_LUA_DIR": str(LUA), **env},
        timeout=duration + 120,
        check=False,
    )
    cpu_used = cpu_seconds(server_pid) - cpu_before
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-800:]} {done.stderr[-800:]}")
    run: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = run["duration_us"] / 1e6
    run["rps"] = run["requests"] / seconds if seconds else 0.0
    run["errors"] = sum(
        run[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    run["server_cpu_ms_per_request"] = cpu_used * 1000 / run["requests"] if run["requests"] else None
    return run


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rps": median(r["rps"] for r in runs),
        "rps_best": max(r["rps"] for r in runs),
        "p50_ms": median(r["p50_us"] for r in runs) / 1000,
        "p99_ms": median(r["p99_us"] for r in runs) / 1000,
        "server_cpu_ms_per_request": median(r["server_cpu_ms_per_request"] or 0 for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "runs": runs,
    }


def start_stack(
    stack: Stack, peers: dict[str, Any], args: argparse.Namespace
) -> tuple[Server | None, dict[str, Any]]:
    """Start one stack (timing it to its first good answer), note its idle RSS, seed a sandbox."""
    print(f"\n== {stack.name} ({stack.server}) ==", flush=True)
    record: dict[str, Any] = {
        "kind": stack.kind,
        "server": stack.server,
        "operations": {},
        "notes": list(stack.notes),
    }
    try:
        server = launch(stack, peers, args.results_dir / "logs")
    except RuntimeError as error:
        print(f"  cannot start {stack.name}: {error}")
        record["unavailable"] = f"cannot start: {str(error).splitlines()[0]}"
        return None, record
    time.sleep(0.3)
    record["start_s"] = server.ready_s
    record["rss_idle_mb"] = rss_mb(server.pid)
    print(
        f"  answered {server.ready_s:.2f} s after process start; RSS {record['rss_idle_mb']:.0f} MB",
        flush=True,
    )
    record["env"] = {"BENCH_PREFIX": stack.prefix, "BENCH_AUTH": stack.auth}
    if stack.kind == "sandbox":
        record["env"].update(seed_sandbox(server.base_url))
    return server, record


def bench_all(
    stacks_to_run: list[Stack], wrk: str | None, peers: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    """Start every stack, warm each up, then measure round-robin: repeat r of every (stack,
    operation) before repeat r+1 of any, so a drifting background load hits every figure alike.
    Idle servers wait on CPU 0 without using it."""
    servers: dict[str, Server] = {}
    stacks: dict[str, Any] = {}
    try:
        for stack in stacks_to_run:
            server, record = start_stack(stack, peers, args)
            stacks[stack.name] = record
            if server is not None:
                servers[stack.name] = server
        if wrk is None:
            for record in stacks.values():
                record["notes"].append("no load measured: wrk is not available")
            return stacks
        for stack in stacks_to_run:
            if stack.name not in servers or stack.warmup <= 0:
                continue
            server, record = servers[stack.name], stacks[stack.name]
            print(f"warming up {stack.name} for {stack.warmup:.0f} s (createConversation) ...", flush=True)
            warmed = run_wrk(
                wrk, server.base_url, "createConversation", record["env"], stack.warmup, server.pid
            )
            record["warmup"] = {"seconds": stack.warmup, "rps": warmed["rps"], "errors": warmed["errors"]}
            print(f"  warm-up ran at {warmed['rps']:.0f} req/s", flush=True)
        cells = [(stack, op) for stack in stacks_to_run if stack.name in servers for op in stack.operations]
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {(st.name, op): [] for st, op in cells}
        for repeat in range(args.repeat):
            print(
                f"\nround {repeat + 1} of {args.repeat} ({len(cells)} measurements of {args.duration:.0f} s)",
                flush=True,
            )
            for stack, operation in cells:
                server = servers[stack.name]
                run = run_wrk(
                    wrk, server.base_url, operation, stacks[stack.name]["env"], args.duration, server.pid
                )
                runs[(stack.name, operation)].append(run)
                flag = f"  ({run['errors']} non-2xx or socket errors!)" if run["errors"] else ""
                print(
                    f"  {stack.name:<17} {operation:<24} {run['rps']:8.0f} req/s"
                    f"   p50 {run['p50_us'] / 1000:7.2f} ms   p99 {run['p99_us'] / 1000:7.2f} ms{flag}",
                    flush=True,
                )
        for (name, operation), measured in runs.items():
            stacks[name]["operations"][operation] = summarise(measured)
        for name, server in servers.items():
            stacks[name]["rss_after_mb"] = rss_mb(server.pid)
        return stacks
    finally:
        for server in servers.values():
            server.stop()


# --- figures and targets -----------------------------------------------------------------------------
def targets(stacks: dict[str, Any], operations: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each sandbox figure against its targets.

    Writes: >= 0.7 x bare Flask on waitress, >= 1.2 x Prism on granian; lists: >= 0.6 x bare Flask
    answering the same bytes, on both servers; every operation: p99 <= 3 x p50. WireMock and
    Prism (1 x) stay as the bars they were.
    """
    found = []
    wiremock = stacks.get("wiremock", {}).get("operations", {}).get("createConversation")
    for name in ("sandbox/waitress", "sandbox/granian"):
        ops = stacks.get(name, {}).get("operations", {})
        if not ops:
            continue
        for operation in operations:
            if operation not in ops:
                continue
            bare = bare_for(stacks, name, operation)
            rps = ops[operation]["rps"]
            prism = stacks.get("prism", {}).get("operations", {}).get(operation)
            entries: list[tuple[str, float | None]] = [
                ("WireMock (createConversation stub)", wiremock["rps"] if wiremock else None),
                (f"Prism ({operation})", prism["rps"] if prism else None),
            ]
            if operation in LISTS:
                entries.append(
                    ("0.6 x bare Flask, same server and answer size", None if bare is None else 0.6 * bare)
                )
            elif name == "sandbox/waitress":
                entries.append(
                    ("0.7 x bare Flask, same server and answer size", None if bare is None else 0.7 * bare)
                )
            else:
                entries.append((f"1.2 x Prism ({operation})", 1.2 * prism["rps"] if prism else None))
            p50, p99 = ops[operation]["p50_ms"], ops[operation]["p99_ms"]
            found.append(
                {
                    "figure": f"{name} {operation} p99 ms",
                    "value": p99,
                    "target": f"<= 3 x p50 = {3 * p50:,.1f} ms",
                    "threshold": 3 * p50,
                    "ratio": p99 / p50 if p50 else None,
                    "verdict": verdict(p99 <= 3 * p50),
                }
            )
            for label, threshold in entries:
                ok = None if threshold is None else rps >= threshold
                found.append(
                    {
                        "figure": f"{name} {operation} req/s",
                        "value": rps,
                        "target": f">= {label}" + ("" if threshold is None else f" = {threshold:,.0f}"),
                        "threshold": threshold,
                        "ratio": None if not threshold else rps / threshold,
                        "verdict": verdict(ok),
                    }
                )
    return found


def print_tables(stacks: dict[str, Any]) -> None:
    rows = []
    for name, record in stacks.items():
        if record.get("unavailable"):
            rows.append(
                [name, "(not measured: " + record["unavailable"] + ")", None, None, None, None, None, None]
            )
            continue
        for operation, result in record["operations"].items():
            bare = bare_for(stacks, name, operation)
            ratio = result["rps"] / bare if bare else None
            rows.append(
                [
                    name,
                    operation,
                    result["rps"],
                    result["p50_ms"],
                    result["p99_ms"],
                    result["server_cpu_ms_per_request"],
                    result["errors"],
                    ratio,
                ]
            )
    print()
    print(
        table(
            ["stack", "operation", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "errors", "/ bare"],
            rows,
            "Throughput and latency (medians; '/ bare': divided by the bare Flask app on the same server)",
        )
    )
    print()
    print(
        table(
            ["stack", "start s", "RSS idle MB", "RSS after load MB", "notes"],
            [
                [
                    name,
                    r.get("start_s"),
                    r.get("rss_idle_mb"),
                    r.get("rss_after_mb"),
                    "; ".join(r.get("notes", []) + ([r["unavailable"]] if r.get("unavailable") else [])),
                ]
                for name, r in stacks.items()
            ],
            "Start-up (process start to first successful answer) and memory",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default 10)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="measurements per figure, median reported (default 3)"
    )
    parser.add_argument(
        "--wiremock-warmup", type=float, default=30.0, help="seconds of load before WireMock is measured"
    )
    parser.add_argument("--no-peers", action="store_true", help="skip Prism and WireMock")
    parser.add_argument("--no-granian", action="store_true", help="skip the granian runs")
    parser.add_argument(
        "--all-granian",
        action="store_true",
        help="all six operations under granian (default: the four with targets)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="1 s, once, waitress only, no peers; wrk optional"
    )
    parser.add_argument(
        "--waitress-threads",
        default="",
        metavar="N,N",
        help="also measure serve with --threads N (the four operations with targets), e.g. 1,4",
    )
    parser.add_argument(
        "--granian-threads",
        default="",
        metavar="N,N",
        help="also measure serve --server granian --threads N (the four operations with targets)",
    )
    parser.add_argument(
        "--long",
        type=float,
        metavar="SECONDS",
        help="one run of SECONDS per write on each server (no peers): a p99 over several full collections",
    )
    parser.add_argument(
        "--preload",
        type=int,
        default=0,
        metavar="MESSAGES",
        help="serve the sandbox on a SQLite state of this many stored messages (e.g. 1000000)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.repeat, args.no_peers, args.no_granian = 1.0, 1, True, True
    if args.long:
        args.duration, args.repeat, args.no_peers = args.long, 1, True

    def serve_options(name: str) -> tuple[str, ...]:
        if not args.preload:
            return ()
        return ("--state-file", str(preloaded_state(args.preload, args.results_dir, name)))

    info = print_machine()
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        print("warning: fewer than 2 CPUs or no taskset: server and load generator share CPUs")
    wrk, wrk_note = find_wrk(install=not args.smoke)
    if wrk is None:
        print(f"wrk: {wrk_note}; skipping every load measurement (servers still start and are seeded)")
    notes: dict[str, str] = {} if wrk else {"wrk": wrk_note}

    sandbox_operations = LONG_OPERATIONS if args.long else OPERATIONS
    bare_operations = ("createConversation",) if args.long else BARE_OPERATIONS
    stacks_to_run = [
        Stack(
            "sandbox/waitress", "sandbox", "waitress", sandbox_operations, options=serve_options("waitress")
        ),
        Stack("bare/waitress", "bare", "waitress", bare_operations),
    ]
    for threads in filter(None, args.waitress_threads.split(",")):
        stacks_to_run.append(
            Stack(
                f"sandbox/waitress-t{int(threads)}",
                "sandbox",
                f"waitress, {int(threads)} threads",
                TARGET_OPERATIONS,
            )
        )
    if not args.no_granian:
        reason = pip_install("granian")
        if reason is None and (BIN / "granian").exists():
            granian_operations = OPERATIONS if args.all_granian else GRANIAN_OPERATIONS
            stacks_to_run += [
                Stack(
                    "sandbox/granian",
                    "sandbox",
                    "granian",
                    LONG_OPERATIONS if args.long else granian_operations,
                    options=serve_options("granian"),
                ),
                Stack("bare/granian", "bare", "granian", bare_operations),
            ]
            for threads in filter(None, args.granian_threads.split(",")):
                stacks_to_run.append(
                    Stack(
                        f"sandbox/granian-t{int(threads)}",
                        "sandbox",
                        f"granian, {int(threads)} threads",
                        TARGET_OPERATIONS,
                        options=serve_options(f"granian-t{int(threads)}"),
                    )
                )
        else:
            notes["granian"] = reason or "granian installed but its command is missing"
            print(f"granian: cannot be used ({notes['granian']}); skipping the granian runs")
    peers: dict[str, Any] = {}
    if not args.no_peers:
        peers, missing = ensure_peers()
        for peer, reason in missing.items():
            notes[peer] = reason
            print(f"{peer}: cannot be measured ({reason}); continuing without it")
        if "prism" in peers:
            stacks_to_run.append(
                Stack(
                    "prism",
                    "prism",
                    f"node, prism-cli {peers['prism']['version']}, -v silent",
                    PRISM_OPERATIONS,
                    prefix="",
                    auth="Bearer retailer-demo-token",
                    notes=["answers the contract's examples; 'Bearer' capitalised (Prism refuses 'bearer')"],
                )
            )
        if "wiremock" in peers:
            stacks_to_run.append(
                Stack(
                    "wiremock",
                    "wiremock",
                    f"JVM, WireMock {peers['wiremock']['version']}",
                    ("createConversation",),
                    warmup=args.wiremock_warmup,
                    notes=[f"one stub; {args.wiremock_warmup:.0f} s warm-up first"],
                )
            )
    started = time.perf_counter()
    if args.smoke:
        for stack in stacks_to_run:
            stack.warmup = 0
    stacks = bench_all(stacks_to_run, wrk, peers, args)
    for name, reason in notes.items():
        if name in ("prism", "wiremock"):
            stacks[name] = {"kind": name, "unavailable": reason, "operations": {}, "notes": []}
    print_tables(stacks)
    found = targets(stacks, TARGET_OPERATIONS)
    if found:
        print()
        print(
            table(
                ["figure", "value", "target", "value / target", "verdict"],
                [[t["figure"], t["value"], t["target"], t["ratio"], t["verdict"]] for t in found],
                "Targets",
            )
        )
    elapsed = time.perf_counter() - started
    print(f"\nhttp_throughput took {elapsed:.0f} s")
    write_results(
        args.results_dir,
        "http_throughput",
        clean(
            {
                "machine": info,
                "settings": {
                    "duration_s": args.duration,
                    "repeat": args.repeat,
                    "wrk": "wrk -t1 -c16" if wrk else None,
                    "pinning": "server on CPU 0, wrk on CPU 1",
                    "smoke": args.smoke,
                    "long": args.long,
                    "preloaded_messages": args.preload,
                    "request_bytes": len(json.dumps(CREATE_BODY, separators=(",", ":"))),
                    "bare_answer_bytes": len(json.dumps(ANSWER)),
                    "bare_list_answer_bytes": {path: len(text) for path, text in LIST_ANSWERS.items()},
                },
                "notes": notes,
                "stacks": stacks,
                "targets": found,
                "elapsed_s": elapsed,
                "load_average_at_end": load_average(),
            }
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
