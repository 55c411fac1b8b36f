"""Helpers shared by the bench scripts: processes, ports, RSS, tables, results files, the machine.

The scripts run as ``python bench/NAME.py`` (so ``bench/`` is on the import path) and only use the
standard library here, and the operations table (pure Python); anything else they need (granian,
matplotlib, wrk, the peers) they install or look up themselves and report clearly when they cannot.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from simulator.domain.operations import CONVERSATION_OPERATIONS, api_path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
PYTHON = sys.executable
BIN = Path(PYTHON).parent

# A typical createConversation body (~220 bytes), the one every throughput figure is measured with.
CREATE_BODY = {
    "otherPartyTradingPartnerId": "aaa-bbb-ccc",
    "title": "Late order on PO 123",
    "type": {"type": "customer_care", "consumerId": "12345"},
    "context": {"type": "order", "poNumber": "123-456-789"},
    "initialMessage": {"message": "Why is my order late?"},
}

# The API's six operations (all but getHello, which measures nothing), and the four with throughput
# targets.
OPERATIONS = ("getAccessToken", *CONVERSATION_OPERATIONS)
TARGET_OPERATIONS = (
    "createConversation",
    "addConversationMessage",
    "getConversations",
    "getConversationMessages",
)

# What the bare app and the WireMock stub answer: a conversation of about 600 bytes.
ANSWER = {
    "id": "7d3c2b1a-4e5f-4a6b-8c9d-0e1f2a3b4c5d",
    "title": "Late order on PO 123",
    "type": {"type": "customer_care", "consumerId": "12345"},
    "initiatedBy": "retailer",
    "dscoRetailerId": "1000001",
    "dscoSupplierId": "2000001",
    "dscoSupplierTradingPartnerId": "aaa-bbb-ccc",
    "dscoSupplierTradingPartnerName": "Acme Supply Co",
    "status": "new",
    "context": {
        "type": "order",
        "poNumber": "123-456-789",
        "dscoOrderId": "9000001",
        "supplierOrderNumber": "ACME-5001",
    },
    "initialMessage": {"message": "Why is my order late?"},
    "isTest": False,
    "createDate": "2024-01-01T00:00:00.000Z",
    "lastUpdate": "2024-01-01T00:00:00.000Z",
}


def compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))


# A message as a supplier sees it, about the size of the sandbox's.
MESSAGE_ANSWER = {
    "type": {"type": "customer_care", "customerCareType": "message_from_consumer", "consumerId": "12345"},
    "dscoConversationId": "7d3c2b1a-4e5f-4a6b-8c9d-0e1f2a3b4c5d",
    "dscoMessageId": "0a1b2c3d-4e5f-4a6b-8c9d-0e1f2a3b4c5d",
    "message": "Why is my order late?",
    "accountType": "retailer",
    "dscoAccountId": "1000001",
    "dscoTradingPartnerId": "nw-0001",
    "dscoTradingPartnerName": "Northwind Retail",
    "recipientDscoAccountId": "2000001",
    "isTest": False,
    "createDate": "2024-01-01T00:00:00.000Z",
    "lastUpdate": "2024-01-01T00:00:00.000Z",
}


def page_answer(name: str, item: dict[str, Any], count: int = 100) -> str:
    """A full first page of ``count`` items (ids made distinct), as compact JSON text."""
    items = [
        {**item, "id" if "id" in item else "dscoMessageId": f"{i:08x}-0000-4000-8000-000000000000"}
        for i in range(count)
    ]
    return compact({"scrollId": "0" * 32, name: items})


# What the bare app answers to the list routes: pages the size of the sandbox's 100-item pages.
LIST_ANSWERS = {
    api_path("getConversations"): page_answer("conversations", ANSWER),
    api_path("getConversationMessages"): page_answer("messages", MESSAGE_ANSWER),
}


# --- the machine -------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    """nproc, CPU model, memory and Python version, as docs/performance.md reports them."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count() or 1,
        "cpu_model": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def load_average() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return []


def print_machine() -> dict[str, Any]:
    info = machine()
    info["load_average_at_start"] = load_average()
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu_model']}), {info['memory_gb']} GB, "
        f"Python {info['python']}; load average {' '.join(map(str, info['load_average_at_start']))}"
    )
    if info["load_average_at_start"] and info["load_average_at_start"][0] > 1.0:
        print("warning: the machine is busy (1-minute load average > 1): figures will be noisy and low")
    return info


# --- processes ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cpu: int, command: Sequence[str]) -> list[str]:
    """``taskset -c CPU command`` when the machine has a CPU for the server and one for the load."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu), *command]
    return list(command)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            found.extend(int(child) for child in text)
    except OSError:
        pass
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


def rss_mb(pid: int) -> float:
    """VmRSS of a process and all its descendants (granian's workers, a JVM's children), in MB."""
    total_kb = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return round(total_kb / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree so far (from /proc/PID/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


@dataclass
class Server:
    """A server process this bench started (in its own session, so it stops with its children)."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    started: float
    ready_s: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # our own session: the server and its workers
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)


def start_server(
    name: str,
    command: Sequence[str],
    base_url: str,
    ready: Callable[[str], bool],
    log_dir: Path,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Server:
    """Start ``command`` and poll ``ready(base_url)`` until it answers; ``ready_s`` is start-up time."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name.replace('/', '-')}.log"
    log: IO[bytes] = log_path.open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
        cwd=cwd or ROOT,
    )
    log.close()
    server = Server(name, process, base_url, log_path, started)
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.log_tail()}")
        try:
            if ready(base_url):
                server.ready_s = time.perf_counter() - started
                return server
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.005)
    server.stop()
    raise RuntimeError(f"{name} did not answer within {timeout:.0f} s:\n{server.log_tail()}")


# --- a small keep-alive HTTP client --------------------------------------------------------------
class Http:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        host_port = base_url.split("://", 1)[1].rstrip("/")
        host, _, port = host_port.partition(":")
        self._connection = http.client.HTTPConnection(host, int(port or 80), timeout=timeout)

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data: bytes | None = None
        sent = dict(headers or {})
        if isinstance(body, str | bytes):
            data = body.encode() if isinstance(body, str) else body
        elif body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        try:
            self._connection.request(method, path, body=data, headers=sent)
            response = self._connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self._connection.close()
            raise
        text = raw.decode("utf-8", "replace")
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text

    def close(self) -> None:
        self._connection.close()


def answers(
    method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> Callable[[str], bool]:
    """A readiness probe: one call that must come back with a 2xx status."""

    def probe(base_url: str) -> bool:
        client = Http(base_url, timeout=2.0)
        try:
            status, _ = client.call(method, path, body, headers)
            return 200 <= status < 300
        finally:
            client.close()

    return probe


# --- figures and output --------------------------------------------------------------------------
def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> str:
    """A plain-text table: text columns left-aligned, numbers right-aligned."""
    raw = [list(row) for row in rows]
    cells = [[_cell(value) for value in row] for row in raw]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in raw if i < len(row))
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if numeric[i] else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=False))
        ).rstrip()

    lines = [title] if title else []
    lines += [line(list(headers)), "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def write_results(results_dir: Path, name: str, document: dict[str, Any]) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, default=_jsonable, allow_nan=False) + "\n", "utf-8")
    print(f"results written to {path}")
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {value!r}")


def clean(document: Any) -> Any:
    """NaN and infinities become None, so the results are strict JSON."""
    if isinstance(document, float):
        return None if document != document or document in (float("inf"), float("-inf")) else document
    if isinstance(document, dict):
        return {key: clean(value) for key, value in document.items()}
    if isinstance(document, list | tuple):
        return [clean(value) for value in document]
    return document


def pip_install(module: str, package: str | None = None) -> str | None:
    """Import ``module``, pip-installing ``package`` into this venv first if needed.

    Returns None when it is available, else the reason it could not be installed.
    """
    import importlib

    try:
        importlib.import_module(module)
        return None
    except ImportError:
        pass
    print(f"installing {package or module} into {Path(PYTHON).parent.parent} ...", flush=True)
    done = subprocess.run(
        [PYTHON, "-m", "pip", "install", "--quiet", package or module],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        return f"pip install {package or module} failed: {done.stderr.strip().splitlines()[-1:]}"
    importlib.invalidate_caches()
    try:
        importlib.import_module(module)
    except ImportError as error:
        return f"{package or module} installed but cannot be imported: {error}"
    return None


def bare_for(stacks: dict[str, Any], name: str, operation: str) -> float | None:
    """The bare app's req/s on the same server for a same-sized answer (the create's otherwise)."""
    bare = "bare/granian" if name.endswith("granian") else "bare/waitress"
    measured = stacks.get(bare, {}).get("operations", {})
    op = measured.get(operation) or measured.get("createConversation")
    return op["rps"] if op else None


def start_sandbox(
    name: str, log_dir: Path, *options: str, timeout: float = 60.0, port: int | None = None
) -> Server:
    """``dsco-sandbox serve OPTIONS`` on a loopback port (a free one unless given), pinned to CPU 0,
    once it is healthy."""
    port = port or free_port()
    return start_server(
        name,
        pinned(0, [str(BIN / "dsco-sandbox"), "serve", *options, "--port", str(port)]),
        f"http://127.0.0.1:{port}",
        answers("GET", "/_sandbox/health"),
        log_dir,
        timeout=timeout,
    )
