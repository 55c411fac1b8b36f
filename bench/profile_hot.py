"""Where the time of one operation goes: cProfile over many calls through the whole Flask pipeline.

The sandbox is seeded as http_throughput.py seeds it (100 conversations with their first message at
a fixed past time, then the clock moves on), and OPERATION is called CALLS times through the Flask
test client, the same pipeline waitress drives minus the socket. Prints the top entries by own
time and by cumulative time, and writes them to bench/results/profile-OPERATION.json.

With --py-spy, profiles a real ``dsco-sandbox serve`` under wrk load instead (py-spy needs ptrace;
it is pip-installed into the venv if missing).

Usage: python bench/profile_hot.py [OPERATION] [--calls 2000] [--top 25] [--py-spy SECONDS]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    BIN,
    CREATE_BODY,
    PYTHON,
    RESULTS,
    pinned,
    start_sandbox,
    write_results,
)

from simulator.domain.operations import OPERATIONS, api_path

BODIES: dict[str, Any] = {
    "getAccessToken": None,
    "createConversation": CREATE_BODY,
    "updateConversation": "update",
    "getConversations": {"until": "2024-01-01T00:00:30.000Z"},
    "addConversationMessage": "add",
    "getConversationMessages": {"until": "2024-01-01T00:00:30.000Z"},
}
"""What each profiled operation sends; its method and path come from the operations table."""


def seeded_client() -> tuple[Any, str]:
    from simulator.domain.config import SandboxConfig
    from simulator.http import ServerConfig, create_app

    app = create_app(ServerConfig(sandbox=SandboxConfig(rate_limit=False)))
    client = app.test_client()
    auth = {"Authorization": "bearer retailer-demo-token"}
    for command in ({"freeze": True}, {"set": "2024-01-01T00:00:00.000Z"}):
        assert client.post("/_sandbox/clock", json=command).status_code == 200
    ids = [
        client.post(api_path("createConversation"), json=CREATE_BODY, headers=auth).get_json()["id"]
        for _ in range(100)
    ]
    for command in ({"set": "2024-01-01T00:01:00.000Z"}, {"freeze": False}):
        assert client.post("/_sandbox/clock", json=command).status_code == 200
    return client, ids[0]


def call_for(operation: str, client: Any, conversation_id: str) -> Any:
    method, path, body = OPERATIONS[operation].method, api_path(operation), BODIES[operation]
    auth = {"Authorization": "bearer retailer-demo-token"}
    titles = iter(())

    if operation == "getAccessToken":
        form = {
            "grant_type": "client_credentials",
            "client_id": "retailer-demo",
            "client_secret": "retailer-demo-secret",
        }
        return lambda: client.post(path, data=form)
    if body == "update":

        def update() -> Any:
            nonlocal titles
            title = next(titles, None)
            if title is None:
                titles = iter(["Late order (A)", "Late order (B)"] * 1000)
                title = next(titles)
            return client.put(
                path, json={"dscoConversationId": conversation_id, "title": title}, headers=auth
            )

        return update
    if body == "add":
        body = {"dscoConversationId": conversation_id, "message": "Sorry! It ships tomorrow."}
    return lambda: client.open(path, method=method, json=body, headers=auth)


def cprofile(operation: str, calls: int, top: int) -> dict[str, Any]:
    client, conversation_id = seeded_client()
    call = call_for(operation, client, conversation_id)
    for _ in range(50):
        response = call()
        assert response.status_code < 300, response.get_data(as_text=True)
    started = time.perf_counter()
    for _ in range(calls):
        call()
    plain_us = (time.perf_counter() - started) * 1e6 / calls
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        call()
    profile.disable()
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (filename, line, function), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{_short(filename)}:{line}({function})",
                "calls_per_request": ncalls / calls,
                "own_us_per_request": tottime * 1e6 / calls,
                "cumulative_us_per_request": cumtime * 1e6 / calls,
                "own_share": tottime / total if total else 0.0,
            }
        )
    by_own = sorted(rows, key=lambda r: r["own_us_per_request"], reverse=True)[:top]
    by_cumulative = sorted(rows, key=lambda r: r["cumulative_us_per_request"], reverse=True)[:top]
    print(f"{operation}: {plain_us:.0f} us per call through the Flask test client (unprofiled)")
    for title, chosen, key in (
        ("own time", by_own, "own_us_per_request"),
        ("cumulative time", by_cumulative, "cumulative_us_per_request"),
    ):
        print(f"\ntop {top} by {title} (us per request, profiled):")
        for row in chosen:
            print(f"  {row[key]:9.1f}  {row['calls_per_request']:7.1f} calls  {row['function']}")
    buffer = io.StringIO()
    pstats.Stats(profile, stream=buffer).sort_stats("cumulative").print_stats(top)
    return {
        "operation": operation,
        "calls": calls,
        "unprofiled_us_per_call": plain_us,
        "by_own_time": by_own,
        "by_cumulative_time": by_cumulative,
        "pstats": buffer.getvalue(),
    }


def _short(filename: str) -> str:
    for marker in ("/simulator/", "/site-packages/", "/lib/python3"):
        if marker in filename:
            return (
                filename.split(marker, 1)[1]
                if marker != "/simulator/"
                else "simulator/" + filename.split(marker, 1)[1]
            )
    return filename


def py_spy(operation: str, seconds: float, results_dir: Path) -> dict[str, Any]:
    """Sample a real server under wrk load (py-spy top-level functions, by own time)."""
    spy = BIN / "py-spy"
    if not spy.exists():  # a command, not a module: install it and look for the command
        print("installing py-spy into the venv ...", flush=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "py-spy"], check=False, timeout=600)
    wrk = shutil.which("wrk")
    if not spy.exists() or wrk is None:
        return {"problem": "py-spy could not be installed" if not spy.exists() else "wrk is not on PATH"}
    sys.path.insert(0, str(Path(__file__).parent))
    from http_throughput import LUA, seed_sandbox

    server = start_sandbox("profile-server", results_dir / "logs", "--no-rate-limit")
    base = server.base_url
    try:
        env = {**os.environ, "BENCH_LUA_DIR": str(LUA), **seed_sandbox(base)}
        load = subprocess.Popen(
            pinned(
                1, [wrk, "-t1", "-c16", f"-d{int(seconds) + 2}s", "-s", str(LUA / f"{operation}.lua"), base]
            ),
            env=env,
            stdout=subprocess.DEVNULL,
        )
        time.sleep(1)
        out = results_dir / f"py-spy-{operation}.txt"
        done = subprocess.run(
            [
                str(spy),
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(int(seconds)),
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
                "--gil",
                "--rate",
                "400",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        load.wait(timeout=seconds + 60)
        if done.returncode != 0:
            return {"problem": f"py-spy failed: {done.stderr.strip()[-300:]}"}
        return {"raw_output": str(out), **summarise_collapsed(out.read_text())}
    finally:
        server.stop()


def summarise_collapsed(text: str, top: int = 25) -> dict[str, Any]:
    """Own and inclusive sample shares per function, and per layer, from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    layers: dict[str, int] = {}
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        layer = _layer(frames[-1])
        layers[layer] = layers.get(layer, 0) + count
    if not total:
        return {"samples": 0}

    def ranked(table: dict[str, int]) -> list[dict[str, Any]]:
        best = sorted(table.items(), key=lambda item: item[1], reverse=True)[:top]
        return [{"function": name, "share": count / total} for name, count in best]

    ours = {name: count for name, count in inclusive.items() if "simulator/" in name or "(json/" in name}
    summary = {
        "samples": total,
        "by_own_samples": ranked(own),
        "by_inclusive_samples": ranked(ours),
        "by_layer_own": ranked(layers),
    }
    for title, key in (
        ("own", "by_own_samples"),
        ("inclusive (simulator and json functions)", "by_inclusive_samples"),
        ("layer (own)", "by_layer_own"),
    ):
        print(f"\npy-spy, top by {title} samples ({total} samples):")
        for row in summary[key]:
            print(f"  {row['share'] * 100:5.1f}%  {row['function']}")
    return summary


def _function(frame: str) -> str:
    """``name (file:line)`` -> ``name (file)``: samples add up per function, not per line."""
    name, _, where = frame.rpartition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if name else frame


def _layer(frame: str) -> str:
    """Which part of the stack a frame belongs to, from its file name."""
    where = frame[frame.rfind("(") + 1 :].rstrip(")")
    for marker, name in (
        ("simulator/domain", "simulator.domain"),
        ("contract.py", "simulator.contract.validation (validation)"),
        ("simulator/http", "simulator.http"),
        ("jsonschema", "jsonschema"),
        ("waitress", "waitress"),
        ("werkzeug", "werkzeug"),
        ("flask", "flask"),
        ("json/", "json (stdlib)"),
    ):
        if marker in where:
            return name
    return "other: " + where.split(":")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("operation", nargs="?", default="getConversationMessages", choices=sorted(BODIES))
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--py-spy", type=float, metavar="SECONDS", help="also sample a real server under load"
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = cprofile(args.operation, args.calls, args.top)
    if args.py_spy:
        result["py_spy"] = py_spy(args.operation, args.py_spy, args.results_dir)
        print(f"\npy-spy: {result['py_spy']}")
    write_results(args.results_dir, f"profile-{args.operation}", result)


if __name__ == "__main__":
    sys.exit(main())
