"""Durable state on SQLite (``serve --state-file F.db``): speed at any size, and no lost writes.

Three parts, each printing its figures (``--part`` picks one; all run by default):

* ``throughput``: createConversation calls per second, one client, with a SQLite state file and
  without persistence, at three sizes of state (default 0.3, 13 and 100 MB of exported JSON). Each
  sandbox is built in this process through the Flask test client (the whole HTTP pipeline minus
  the socket, which would add the same cost to both sides and flatter the ratio); the six are
  measured side by side, in rounds, each round visiting every one in a rotating order, so the
  machine's drift (other tenants) hits them alike. Target: at every size at least 0.5x the figure
  without persistence, and flat (not falling as the state grows).
* ``kills``: ``serve`` on a database under a concurrent write load (several client threads
  creating conversations), killed with SIGKILL at a random moment, restarted, checked, again and
  again. Every write answered 201 must be in the restarted sandbox with its message, every record
  in the database must be whole, and the database must always open (``PRAGMA integrity_check``).
* ``startup``: a database holding 10^6 messages of a typical length (written straight into its tables, from a
  generated state), then the time from ``serve`` to a healthy answer, and an export -> import ->
  export round trip through ``dsco-sandbox state`` that must give the same document (its export
  time aside).

Everything binds to 127.0.0.1, runs a bounded number of calls and kills, and stops by itself.

Usage: python bench/persistence.py [--part throughput|kills|startup] [--kills 20] [--sizes 0.3,13,100]
       [--messages 1000000] [--rounds 5] [--smoke] [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import BIN, RESULTS, ROOT, clean, free_port, median, print_machine, table, verdict, write_results

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.domain.state import conversation_from_json, message_from_json
from simulator.http.app import ServerConfig, create_app
from simulator.storage.statedb import import_into_database
from simulator.storage.staterows import CONVERSATIONS, MESSAGES

FORM = {
    "grant_type": "client_credentials",
    "client_id": "retailer-demo",
    "client_secret": "retailer-demo-secret",
}
CREATE = {
    "title": "Late order",
    "otherPartyTradingPartnerId": "aaa-bbb-ccc",
    "initialMessage": {"message": "Why?"},
}
REPLY = "Sorry for the wait! It ships tomorrow; the tracking number follows."
"""A typical message (as bench/scaling.py stores), for the start-up part: a count of messages."""
TEXT = "Sorry for the wait! It ships tomorrow; the tracking number follows in a separate message. " * 6
"""A long message, for the throughput part: sizes in megabytes with fewer records to build."""
PER_CONVERSATION = 10


# --- a state of a given size --------------------------------------------------------------------
def base_state() -> dict[str, Any]:
    """An empty sandbox's state document with one conversation and message as templates."""
    app = create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False)))
    client = app.test_client()
    token = client.post("/api/v3/oauth2/token", data=FORM).json["access_token"]  # type: ignore[index]
    client.post("/api/v3/conversation", json=CREATE, headers={"Authorization": f"Bearer {token}"})
    document: dict[str, Any] = app.extensions["dsco_sandbox"].export_state()
    return document


def records(
    template: dict[str, Any], messages: int, first: int = 0, text: str = TEXT
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Messages ``first`` to ``first + messages`` of a state: in conversations of 10 (``first`` a
    multiple of 10), with unique ids and sequence numbers and rising times."""
    conversation, message = template["conversations"][0], template["messages"][0]
    t0 = conversation["createTime"]
    conversations: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for n in range(first, first + messages):
        at = t0 + n * 1000
        k = n // PER_CONVERSATION
        if n % PER_CONVERSATION == 0:
            current = {
                **conversation,
                "id": f"c{k:08d}",
                "seq": 11 * k + 1,
                "createTime": at,
                "lastUpdate": at,
            }
            conversations.append(current)
        seq = 11 * k + 2 + n % PER_CONVERSATION
        items.append(
            {
                **message,
                "id": f"m{n:08d}",
                "conversationId": current["id"],
                "seq": seq,
                "createTime": at,
                "text": text,
                "visibleAt": at,
            }
        )
    return conversations, items


def state_of(megabytes: float, template: dict[str, Any]) -> dict[str, Any]:
    one = len(json.dumps(records(template, PER_CONVERSATION)[1])) / PER_CONVERSATION  # bytes per message
    count = max(PER_CONVERSATION, int(megabytes * 1e6 / one) // PER_CONVERSATION * PER_CONVERSATION)
    conversations, messages = records(template, count)
    # The template's one notification is about a message these replace.
    return {**template, "conversations": conversations, "messages": messages, "notifications": []}


# --- throughput ---------------------------------------------------------------------------------
class Subject:
    def __init__(self, name: str, document: dict[str, Any], database: Path | None) -> None:
        self.name = name
        contract = Contract()
        if database is not None:
            source = database.with_suffix(".import.json")
            source.write_text(json.dumps(document), "utf-8")
            import_into_database(contract, database, source)
            source.unlink()
        config = ServerConfig(sandbox=SandboxConfig(rate_limit=False), state_file=database)
        self.app = create_app(config, contract=contract)
        if database is None:
            answer = self.app.test_client().put("/_sandbox/state", json=document)
            assert answer.status_code == 200, answer.text
        self.client = self.app.test_client()
        token = self.client.post("/api/v3/oauth2/token", data=FORM).json["access_token"]  # type: ignore[index]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.rates: list[float] = []

    def measure(self, calls: int) -> None:
        post, headers = self.client.post, self.headers
        started = time.perf_counter()
        for _ in range(calls):
            response = post("/api/v3/conversation", json=CREATE, headers=headers)
            assert response.status_code == 201, response.text
        self.rates.append(calls / (time.perf_counter() - started))


def throughput(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    template = base_state()
    subjects: list[tuple[float, Subject, Subject]] = []
    for size in args.sizes:
        started = time.perf_counter()
        document = state_of(size, template)
        megabytes = len(json.dumps(document)) / 1e6
        memory = Subject(f"{megabytes:.1f} MB in memory", document, None)
        sqlite = Subject(f"{megabytes:.1f} MB SQLite", document, work / f"state-{size}.db")
        del document
        stored = memory.app.extensions["dsco_sandbox"].store.counts()[1]
        print(
            f"built {megabytes:.1f} MB of state ({stored} messages) twice in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        subjects.append((megabytes, memory, sqlite))
    everyone = [s for _, memory, sqlite in subjects for s in (memory, sqlite)]
    for subject in everyone:
        subject.measure(max(5, args.calls // 5))  # warm up
        subject.rates.clear()
    for round_number in range(args.rounds):
        shift = round_number % len(everyone)
        for subject in everyone[shift:] + everyone[:shift]:
            subject.measure(args.calls)
    rows, figures = [], []
    for megabytes, memory, sqlite in subjects:
        ratios = [s / m for s, m in zip(sqlite.rates, memory.rates, strict=True)]
        ratio = median(ratios)
        figures.append(
            {
                "megabytes": round(megabytes, 1),
                "memory_per_s": median(memory.rates),
                "sqlite_per_s": median(sqlite.rates),
                "ratio": ratio,
            }
        )
        rows.append(
            [
                f"{megabytes:.1f}",
                f"{median(memory.rates):.0f}",
                f"{median(sqlite.rates):.0f}",
                f"{ratio:.2f}",
                verdict(ratio >= 0.5),
            ]
        )
    print(
        table(
            ["state MB", "creates/s memory", "creates/s SQLite", "ratio", ">= 0.5x"],
            rows,
            title=f"createConversation, one client, in process ({args.rounds} rounds x {args.calls} calls)",
        )
    )
    return {"sizes": figures, "rounds": args.rounds, "calls": args.calls}


# --- kill -9 under load ---------------------------------------------------------------------------
class Load:
    """Client threads creating conversations until the server dies; what got a 201 is recorded."""

    def __init__(self, base: str, threads: int) -> None:
        import requests

        self.base = base
        self.acknowledged: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        session = requests.Session()
        session.trust_env = False
        token = session.post(f"{base}/api/v3/oauth2/token", data=FORM, timeout=10).json()["access_token"]
        self.threads = [
            threading.Thread(target=self._run, args=(token,), daemon=True) for _ in range(threads)
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, token: str) -> None:
        import requests

        session = requests.Session()
        session.trust_env = False
        headers = {"Authorization": f"Bearer {token}"}
        while not self.stop.is_set():
            try:
                response = session.post(
                    f"{self.base}/api/v3/conversation", json=CREATE, headers=headers, timeout=10
                )
            except requests.RequestException:
                return  # the server is gone
            if response.status_code == 201:
                with self.lock:
                    self.acknowledged.append(response.json()["id"])

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


def serve(database: Path, log: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        str(BIN / "dsco-sandbox"),
        "serve",
        "--port",
        str(port),
        "--no-rate-limit",
        "--state-file",
        str(database),
    ]
    started = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    import requests

    deadline = started + 120
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if requests.get(f"{base}/_sandbox/health", timeout=1).status_code == 200:
                return process, base, time.perf_counter() - started
        except requests.RequestException:
            pass
        time.sleep(0.01)
    process.kill()
    raise RuntimeError(f"serve did not answer within 120 s:\n{log.read_text()[-2000:]}")


def check_database(database: Path, acknowledged: set[str]) -> list[str]:
    """What is wrong with the database after a kill: missing acknowledged writes, torn records."""
    problems: list[str] = []
    connection = sqlite3.connect(database)
    try:
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            problems.append(f"integrity_check: {integrity}")
        # Every row must make a whole record (a torn one would not), every conversation its message.
        stored = {conversation.id for conversation in CONVERSATIONS.read(connection)}
        with_message = {message.conversation_id for message in MESSAGES.read(connection)}
    finally:
        connection.close()
    missing = acknowledged - set(stored)
    if missing:
        problems.append(f"{len(missing)} acknowledged conversations missing, e.g. {sorted(missing)[:3]}")
    if set(stored) - with_message:
        problems.append(f"{len(set(stored) - with_message)} conversations without their first message")
    return problems


def kills(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    database, log = work / "kills.db", work / "kills.log"
    acknowledged: set[str] = set()
    process, base, _ = serve(database, log)
    running = [process]
    try:
        rounds = kill_rounds(args, database, log, running, base, acknowledged)
    finally:  # whatever happened, no server is left behind
        for started in running:
            if started.poll() is None:
                started.kill()
                started.wait(timeout=15)
    failed = [r for r in rounds if r["problems"]]
    print(
        f"{args.kills} kills under {args.writers} writers: {len(acknowledged)} acknowledged writes, "
        f"{sum(len(r['problems']) for r in rounds)} problems -> {verdict(not failed)}"
    )
    return {
        "kills": args.kills,
        "writers": args.writers,
        "acknowledged": len(acknowledged),
        "rounds": rounds,
        "lost": 0 if not failed else None,
        "ok": not failed,
    }


def kill_rounds(
    args: argparse.Namespace,
    database: Path,
    log: Path,
    running: list[subprocess.Popen[bytes]],
    base: str,
    acknowledged: set[str],
) -> list[dict[str, Any]]:
    process = running[0]
    rng = random.Random(args.seed)
    rounds: list[dict[str, Any]] = []
    for number in range(1, args.kills + 1):
        load = Load(base, args.writers)
        time.sleep(rng.uniform(0.2, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=15)
        load.join()
        acknowledged.update(load.acknowledged)
        # The restart must succeed (the database always opens); it then serves the next round.
        process, base, ready_s = serve(database, log)
        running.append(process)
        import requests

        exported = requests.get(f"{base}/_sandbox/state", timeout=60).json()
        held = {c["id"] for c in exported["conversations"]}
        problems = check_database(database, acknowledged)
        lost = len(acknowledged - held)
        if lost:
            problems.append(f"{lost} acknowledged conversations not served after the restart")
        rounds.append(
            {
                "kill": number,
                "acknowledged_this_round": len(load.acknowledged),
                "acknowledged_total": len(acknowledged),
                "held": len(held),
                "restart_s": ready_s,
                "problems": problems,
            }
        )
        print(
            f"kill {number}: {len(load.acknowledged)} writes acknowledged before SIGKILL, {len(held)} held "
            f"after restart ({ready_s:.2f} s), {'OK' if not problems else '; '.join(problems)}",
            flush=True,
        )
    return rounds


# --- start-up and round trip at 10^6 messages ------------------------------------------------------
def startup(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    template = base_state()
    template["clock"]["frozen"] = True  # a running clock would make each export differ in "clock"
    small = work / "startup.json"
    small.write_text(json.dumps(template), "utf-8")
    database = work / "startup.db"
    import_into_database(Contract(), database, small)
    started = time.perf_counter()
    connection = sqlite3.connect(database)
    connection.execute("BEGIN")
    connection.execute("DELETE FROM conversations")
    connection.execute("DELETE FROM messages")
    connection.execute("DELETE FROM notifications")  # the template's is about a message gone now
    batch = 100_000
    for first in range(0, args.messages, batch):
        conversations, messages = records(template, min(batch, args.messages - first), first, REPLY)
        connection.executemany(
            CONVERSATIONS.upsert, (CONVERSATIONS.row(conversation_from_json(c)) for c in conversations)
        )
        connection.executemany(MESSAGES.upsert, (MESSAGES.row(message_from_json(m)) for m in messages))
    connection.execute("COMMIT")
    connection.close()
    size_mb = database.stat().st_size / 1e6
    print(
        f"wrote {args.messages} messages into {database.name} ({size_mb:.0f} MB) in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    process, _, ready_s = serve(database, work / "startup.log")
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    print(
        f"serve with {args.messages} stored messages: healthy after {ready_s:.2f} s "
        f"(target under 10 s: {verdict(ready_s < 10)})",
        flush=True,
    )

    cli = str(BIN / "dsco-sandbox")
    first, second, copy = work / "export-1.json", work / "export-2.json", work / "copy.db"
    timings = {}
    for name, command in (
        ("export", [cli, "state", "export", str(database), "-o", str(first)]),
        ("import", [cli, "state", "import", str(copy), str(first)]),
        ("export_again", [cli, "state", "export", str(copy), "-o", str(second)]),
    ):
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, timeout=1800)
        timings[name] = time.perf_counter() - started
    documents = [json.loads(path.read_text("utf-8")) for path in (first, second)]
    for document in documents:
        document.pop("exportedAt", None)
    same = documents[0] == documents[1]
    if not same:
        print("differing sections:", [k for k in documents[0] if documents[0][k] != documents[1].get(k)])
    count = len(documents[0]["messages"])
    print(
        f"export -> import -> export of {count} messages ({first.stat().st_size / 1e6:.0f} MB): "
        f"{'the same document' if same else 'DIFFERENT documents'} "
        f"(export {timings['export']:.1f} s, import {timings['import']:.1f} s, "
        f"export {timings['export_again']:.1f} s) -> {verdict(same and count == args.messages)}"
    )
    return {
        "messages": args.messages,
        "database_mb": size_mb,
        "ready_s": ready_s,
        "round_trip_same": same,
        "round_trip_s": timings,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("throughput", "kills", "startup"), action="append")
    parser.add_argument("--sizes", default="0.3,13,100", help="MB of state for the throughput part")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200, help="creates per subject per round")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 2 kills, 10^3 messages")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.rounds, args.calls, args.kills, args.messages = "0.05,0.2", 2, 20, 2, 1000
    args.sizes = [float(size) for size in args.sizes.split(",")]
    parts = args.part or ["throughput", "kills", "startup"]
    document: dict[str, Any] = {"machine": print_machine()}
    with tempfile.TemporaryDirectory(prefix="dsco-persistence-") as folder:
        work = Path(folder)
        for part in parts:
            document[part] = {"throughput": throughput, "kills": kills, "startup": startup}[part](args, work)
    path = write_results(args.results_dir, "persistence", clean(document))
    print(f"results: {path}")
    failed = (
        document.get("kills", {}).get("ok") is False
        or document.get("startup", {}).get("round_trip_same") is False
    )
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
