"""Open scrolls are capped per account: the oldest is evicted, and its scrollId then answers
exactly like an expired one. (The bench runs 30 s of list load and reports the memory.)"""

from __future__ import annotations

import pytest
import requests
from reliability_support import CREATE, RETAILER, counts
from serve_support import Served

from simulator.domain.paging import OPEN_SCROLLS_PER_ACCOUNT

pytestmark = pytest.mark.e2e


def test_the_oldest_scroll_is_evicted_past_the_cap_and_answers_like_an_expired_one(shared: Served) -> None:
    base = shared.base_url
    listing = f"{base}/api/v3/conversation/list"
    config = requests.get(f"{base}/_sandbox/config", timeout=5).json()
    clock = f"{base}/_sandbox/clock"
    try:
        changed = {"pageSize": 1, "lag": {"min": 0, "max": 0}}
        assert requests.put(f"{base}/_sandbox/config", json=changed, timeout=5).ok
        assert requests.post(clock, json={"freeze": True}, timeout=5).ok
        for _ in range(2):
            assert requests.post(f"{base}/api/v3/conversation", json=CREATE, headers=RETAILER, timeout=5).ok
        assert counts(shared) == (2, 0)
        requests.post(clock, json={"advance": 10}, timeout=5)
        session = requests.Session()
        scroll_ids = []
        for _ in range(OPEN_SCROLLS_PER_ACCOUNT + 1):
            page = session.post(listing, json={}, headers=RETAILER, timeout=5)
            assert page.status_code == 200, page.text
            scroll_ids.append(page.json()["scrollId"])
        evicted = session.post(listing, json={"scrollId": scroll_ids[0]}, headers=RETAILER, timeout=5)
        second = session.post(listing, json={"scrollId": scroll_ids[1]}, headers=RETAILER, timeout=5)
        newest = session.post(listing, json={"scrollId": scroll_ids[-1]}, headers=RETAILER, timeout=5)
        assert second.status_code == newest.status_code == 200, newest.text
        # An expired scroll, for comparison: its answer is the same, apart from the id itself.
        requests.post(clock, json={"advance": 301}, timeout=5)
        expired = session.post(listing, json={"scrollId": scroll_ids[-1]}, headers=RETAILER, timeout=5)
        assert evicted.status_code == expired.status_code == 404
        assert evicted.text.replace(scroll_ids[0], "ID") == expired.text.replace(scroll_ids[-1], "ID")
    finally:
        restored = {"pageSize": config["pageSize"], "lag": config["lag"]}
        requests.put(f"{base}/_sandbox/config", json=restored, timeout=5)
        requests.post(clock, json={"freeze": False}, timeout=5)
