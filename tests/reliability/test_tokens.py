"""API tokens cannot be guessed: the same seed gives the same ids and lags, never the same tokens."""

from __future__ import annotations

import pytest
import requests
from reliability_support import serve

pytestmark = pytest.mark.e2e

FORM = {
    "grant_type": "client_credentials",
    "client_id": "retailer-demo",
    "client_secret": "retailer-demo-secret",
}


def _first_token() -> str:
    served = serve("waitress", "--seed", "0")
    try:
        answer = requests.post(f"{served.base_url}/api/v3/oauth2/token", data=FORM, timeout=10)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token
    finally:
        served.stop()


def test_the_first_token_after_a_start_differs_between_two_starts_with_the_same_seed() -> None:
    first, second = _first_token(), _first_token()
    assert first != second
    assert first.startswith("sbx-") and len(first) >= 40
