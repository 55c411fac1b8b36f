"""Open scrolls are capped per account: the oldest is evicted, and its scrollId then answers
exactly like an expired one. (The bench runs 30 s of list load and reports the memory.)"""

from __future__ import annotations

import requests
from reliability_support import CREATE, RETAILER, counts, serve

from simulator.domain.paging import OPEN_SCROLLS_PER_ACCOUNT


def test_the_oldest_scroll_is_evicted_past_the_cap_and_answers_like_an_expired_one() -> None:
    served = serve("waitress", "--no-rate-limit", "--lag", "0,0", "--page-size", "1")
    base = served.base_url
    listing = f"{base}/api/v3/conversation/list"
    try:
        for _ in range(2):
            assert requests.post(f"{base}/api/v3/conversation", json=CREATE, headers=RETAILER, timeout=5).ok
        assert counts(served) == (2, 0)
        requests.post(f"{base}/_sandbox/clock", json={"advance": 10}, timeout=5)
        session = requests.Session()
        scroll_ids = []
        for _ in range(OPEN_SCROLLS_PER_ACCOUNT + 1):
            page = session.post(listing, json={}, headers=RETAILER, timeout=5)
            assert page.status_code == 200, page.text
            scroll_ids.append(page.json()["scrollId"])
        evicted = session.post(listing, json={"scrollId": scroll_ids[0]}, headers=RETAILER, timeout=5)
        newest = session.post(listing, json={"scrollId": scroll_ids[-1]}, headers=RETAILER, timeout=5)
        assert newest.status_code == 200, newest.text
        # An expired scroll, for comparison: its answer is the same, apart from the id itself.
        requests.post(f"{base}/_sandbox/clock", json={"advance": 301}, timeout=5)
        expired = session.post(listing, json={"scrollId": scroll_ids[-1]}, headers=RETAILER, timeout=5)
        assert evicted.status_code == expired.status_code == 404
        assert evicted.text.replace(scroll_ids[0], "ID") == expired.text.replace(scroll_ids[-1], "ID")
    finally:
        served.stop()
