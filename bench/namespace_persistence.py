"""What keeping a namespace costs: createConversation calls per second inside one namespace as it
grows, without persistence, with a JSON state file (one file per namespace) and with a SQLite state
database (one row per namespace), side by side.

Each server is built in this process through the Flask test client (the HTTP pipeline minus the
socket), as ``persistence.py``'s throughput part does. A namespace's save writes its whole record
(``namespace_store.NamespaceStore.save`` takes the exported state), so the figure with persistence
is expected to fall as the namespace grows; this script says by how much. Nothing listens on a
socket; everything stops by itself.

Usage: python bench/namespace_persistence.py [--sizes 0,500,2000] [--calls 100] [--smoke]
       [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import RESULTS, print_machine, table, write_results

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.http.app import ServerConfig
from simulator.http.namespace_control import create_server_app
from simulator.http.namespaces import NamespaceOptions
from simulator.storage.namespace_db import NamespaceDatabase
from simulator.storage.namespace_store import NamespaceFolder, NamespaceStore

FORM = {
    "grant_type": "client_credentials",
    "client_id": "retailer-demo",
    "client_secret": "retailer-demo-secret",
}
BODY = {
    "title": "Measured",
    "otherPartyTradingPartnerId": "aaa-bbb-ccc",
    "initialMessage": {"message": "Where is my order? " * 10},
}
KINDS = ("none", "json", "sqlite")


def _client(kind: str, work: Path, contract: Contract) -> Any:
    state_file = None if kind == "none" else work / ("state.db" if kind == "sqlite" else "state.json")
    store: NamespaceStore | None = None
    if state_file is not None:
        store = NamespaceDatabase(state_file) if kind == "sqlite" else NamespaceFolder.beside(state_file)
    config = ServerConfig(
        sandbox=SandboxConfig(rate_limit=False, lag_min=0, lag_max=0), state_file=state_file
    )
    return create_server_app(config, NamespaceOptions(store=store), contract=contract).test_client()


def measure(kind: str, sizes: list[int], calls: int, work: Path, contract: Contract) -> dict[int, float]:
    web = _client(kind, work, contract)
    assert web.post("/_sandbox/namespaces", json={"name": "measured"}).status_code == 201
    token = web.post("/ns/measured/api/v3/oauth2/token", data=FORM).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    url = "/ns/measured/api/v3/conversation"
    held, figures = 0, {}
    for size in sizes:
        while held < size:  # grow the namespace to this size (not timed)
            assert web.post(url, json=BODY, headers=headers).status_code == 201
            held += 1
        started = time.perf_counter()
        for _ in range(calls):
            assert web.post(url, json=BODY, headers=headers).status_code == 201
        figures[size] = calls / (time.perf_counter() - started)
        held += calls
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,500,2000", help="conversations in the namespace when measured")
    parser.add_argument("--calls", type=int, default=100, help="timed creates at each size")
    parser.add_argument("--smoke", action="store_true", help="sizes 0 and 20, 10 calls each")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    sizes = [0, 20] if args.smoke else [int(s) for s in args.sizes.split(",")]
    calls = 10 if args.smoke else args.calls
    machine = print_machine()
    contract = Contract()
    figures: dict[str, dict[int, float]] = {}
    for kind in KINDS:
        with tempfile.TemporaryDirectory() as work:
            figures[kind] = measure(kind, sizes, calls, Path(work), contract)
    rows = [[kind, *(f"{figures[kind][size]:.0f}" for size in sizes)] for kind in KINDS]
    headers = ["state file", *(f"creates/s at {size}" for size in sizes)]
    print(table(headers, rows, title="Namespace persistence: creates/s in one namespace as it grows"))
    document = {
        "machine": machine,
        "calls": calls,
        "creates_per_second": {kind: {str(s): v for s, v in f.items()} for kind, f in figures.items()},
    }
    write_results(args.results_dir, "namespace_persistence", document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
