"""A web page the developer visits cannot drive the control plane, and DNS rebinding reads nothing.

A browser lets any page send a "simple" request (a form or text/plain body, no preflight) to
127.0.0.1, and a rebound DNS name points a foreign page's own origin at it. The sandbox refuses
requests that say they come from another site, form and text/plain bodies on the control plane,
and, bound to loopback, any ``Host`` that is not a loopback name.
"""

from __future__ import annotations

import pytest
import requests
from reliability_support import CREATE, RETAILER, counts
from serve_support import Served

pytestmark = pytest.mark.e2e


def test_cross_site_requests_are_refused_and_change_nothing(shared: Served) -> None:
    served = shared
    base = served.base_url
    assert requests.post(f"{base}/api/v3/conversation", json=CREATE, headers=RETAILER, timeout=5).ok
    attacks = [
        {"headers": {"Origin": "http://evil.example"}},
        {"headers": {"Sec-Fetch-Site": "cross-site"}},
        {"headers": {"Content-Type": "text/plain"}, "data": "x"},
        {"headers": {"Content-Type": "application/x-www-form-urlencoded"}, "data": "a=b"},
        {"headers": {"Content-Type": "multipart/form-data; boundary=x"}, "data": "--x--"},
        {"headers": {"Origin": "null"}},
    ]
    for attack in attacks:
        answer = requests.post(f"{base}/_sandbox/reset", timeout=5, **attack)  # type: ignore[arg-type]
        assert answer.status_code == 403, (attack, answer.status_code, answer.text)
        assert answer.text.strip(), attack  # says why
    assert counts(served) == (1, 0)  # nothing was reset
    # DNS rebinding: the browser sends the attacker's name as Host.
    for path in ("/_sandbox/state", "/_sandbox/health", "/api/v3/conversation/list"):
        answer = requests.get(f"{base}{path}", headers={"Host": "evil.example"}, timeout=5)
        assert answer.status_code == 403, (path, answer.text)
        assert "Host" in answer.text
    # What keeps working: the README's bodiless curl, the same origin, loopback names.
    port = base.rsplit(":", 1)[1]
    same_origin = {"Origin": base, "Sec-Fetch-Site": "same-origin"}
    assert requests.get(f"{base}/_sandbox/health", headers=same_origin, timeout=5).ok
    assert requests.get(f"{base}/_sandbox/health", headers={"Host": f"localhost:{port}"}, timeout=5).ok
    assert requests.get(f"{base}/_sandbox/health", headers={"Host": f"[::1]:{port}"}, timeout=5).ok
    assert requests.post(f"{base}/_sandbox/reset", timeout=5).ok
    assert counts(served) == (0, 0)
