"""How long one contract validation of a typical createConversation body takes.

Prints per-call times (median and p99 over repeated runs) for a valid body, an invalid body (which
also pays for the readable explanation), and the unknown-field walk. Usage:

    python bench/validation.py [--calls N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from simulator.contract.validation import Contract

TYPICAL = {
    "otherPartyTradingPartnerId": "aaa-bbb-ccc",
    "title": "Late order complaint on Order 123",
    "type": {"type": "customer_care", "consumerId": "12345"},
    "context": {"type": "order", "poNumber": "123-456-789", "lineItem": {"sku": "SKU-RED-SHOE-9"}},
    "initialMessage": {"message": "Why is my order late?"},
    "referenceId": "ticket-1001",
}
INVALID = {**TYPICAL, "title": "x" * 51, "context": {"type": "order", "poNumber": 123}}


def measure(label: str, call: Any, calls: int) -> dict[str, float]:
    for _ in range(min(200, calls)):  # warm up
        call()
    samples = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    result = {
        "median_us": statistics.median(samples),
        "p99_us": samples[int(len(samples) * 0.99) - 1],
        "calls": calls,
    }
    print(f"{label:<44} median {result['median_us']:8.1f} us   p99 {result['p99_us']:8.1f} us")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    started = time.perf_counter()
    contract = Contract()
    load_ms = (time.perf_counter() - started) * 1000
    print(f"{'contract load (all validators compiled)':<44} {load_ms:8.1f} ms")
    results = {
        "load_ms": load_ms,
        "valid_create": measure(
            "validate a typical createConversation body",
            lambda: contract.validate_request("createConversation", TYPICAL),
            args.calls,
        ),
        "invalid_create": measure(
            "validate + explain an invalid body",
            lambda: contract.validate_request("createConversation", INVALID),
            args.calls,
        ),
        "unknown_fields": measure(
            "find unknown fields in a typical body",
            lambda: contract.unknown_fields("createConversation", TYPICAL),
            args.calls,
        ),
    }
    target = 1000.0
    verdict = "met" if results["valid_create"]["median_us"] < target else "MISSED"
    print(f"target: a typical body validates in well under {target:.0f} us -> {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
