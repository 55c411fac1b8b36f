"""Every number the control plane takes is bounded: out of range is a 400 naming the field and
the range, and nothing changes. At the clock's very end a write is still answered whole, and no
write answered with a status of 400 or more is stored."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from reliability_support import CREATE, RETAILER, SERVERS, counts, serve
from serve_support import Served

pytestmark = pytest.mark.e2e

ATTACKS: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/_sandbox/clock", {"json": {"advance": 1e300}}, "advance"),
    ("POST", "/_sandbox/clock", {"json": {"set": "9999-12-31T23:59:59.999Z"}}, ""),  # in range: allowed
    ("PUT", "/_sandbox/config", {"json": {"scrollTtl": 1e306}}, "scrollTtl"),
    ("PUT", "/_sandbox/config", {"json": {"untilMargin": 1e15}}, "untilMargin"),
    ("PUT", "/_sandbox/config", {"json": {"tokenTtl": 10**30}}, "tokenTtl"),
    ("PUT", "/_sandbox/config", {"json": {"lag": {"min": 1e300, "max": 1e300}}}, "lag"),
    ("PUT", "/_sandbox/config", {"json": {"seed": 10**40}}, "seed"),
    ("PUT", "/_sandbox/config", {"json": {"rateLimit": {"perSecond": 10**30}}}, "rateLimit.perSecond"),
    ("PUT", "/_sandbox/config", {"json": {"faults": {"*": {"latency": 1e300}}}}, "faults.*.latency"),
    ("PUT", "/_sandbox/config", {"json": {"faults": {"*": {"forceCount": 10**30}}}}, "faults.*.forceCount"),
    ("GET", "/_sandbox/events", {"params": {"limit": "9" * 5000}}, "limit"),
    ("GET", "/_sandbox/events", {"params": {"after": "²"}}, "after"),
    ("GET", "/_sandbox/notifications", {"params": {"after": "²"}}, "after"),
    ("GET", "/_sandbox/notifications", {"params": {"after": "9" * 5000}}, "after"),
]


def _settings(base: str) -> tuple[Any, Any]:
    return (
        requests.get(f"{base}/_sandbox/config", timeout=5).json(),
        requests.get(f"{base}/_sandbox/clock", timeout=5).json()["frozen"],
    )


@pytest.mark.parametrize("server", SERVERS)
def test_out_of_range_numbers_are_refused_by_name_and_change_nothing(server: str) -> None:
    served = serve(server, "--no-rate-limit")
    base = served.base_url
    try:
        requests.post(f"{base}/_sandbox/clock", json={"freeze": True}, timeout=5)
        for method, path, options, field in ATTACKS:
            before = _settings(base)
            clock = requests.get(f"{base}/_sandbox/clock", timeout=5).json()
            answer = requests.request(method, f"{base}{path}", timeout=10, **options)
            if not field:
                assert answer.status_code == 200, answer.text
                continue
            assert answer.status_code == 400, (path, options, answer.status_code, answer.text[:300])
            assert answer.text.startswith(field), (field, answer.text[:300])
            assert _settings(base) == before
            assert requests.get(f"{base}/_sandbox/clock", timeout=5).json() == clock
        # After all that, the sandbox still answers lists, with and without until.
        requests.post(f"{base}/_sandbox/clock", json={"set": "2024-01-01T00:00:00Z"}, timeout=5)
        for body in ({}, {"until": "2023-12-31T00:00:00Z"}):
            listed = requests.post(f"{base}/api/v3/conversation/list", json=body, headers=RETAILER, timeout=5)
            assert listed.status_code == 200, listed.text
        _at_the_end_of_time(served)
    finally:
        served.stop()


def _at_the_end_of_time(served: Served) -> None:
    """A write is answered and stored, or refused and not stored, with the clock at its very end."""
    base = served.base_url
    requests.post(f"{base}/_sandbox/clock", json={"freeze": False}, timeout=5)
    # The clock runs on from the last representable second of year 9999.
    assert requests.post(f"{base}/_sandbox/clock", json={"set": "9999-12-31T23:59:59Z"}, timeout=5).ok
    too_far = requests.post(f"{base}/_sandbox/clock", json={"advance": 2}, timeout=5)
    assert too_far.status_code == 400 and too_far.text.startswith("advance"), too_far.text
    time.sleep(1.1)  # past the last second: the clock stands at its end
    statuses = []
    for _ in range(3):
        answer = requests.post(f"{base}/api/v3/conversation", json=CREATE, headers=RETAILER, timeout=5)
        statuses.append(answer.status_code)
        assert answer.status_code < 500, answer.text
    stored = sum(1 for status in statuses if status < 400)
    assert counts(served)[0] == stored
    assert requests.get(f"{base}/_sandbox/clock", timeout=5).json()["now"] == "9999-12-31T23:59:59.999Z"
