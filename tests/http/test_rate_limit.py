"""The documented limit: 5 calls per second per account per operation, counted in sandbox time."""

from __future__ import annotations

import pytest
from http_support import ACME, NORTHWIND, OPERATIONS, Api, error_lines


@pytest.fixture
def limited(api: Api) -> Api:
    api.sandbox.config.rate_limit = True
    for who in (NORTHWIND, ACME):
        api.token(who)  # the token endpoint is not rate limited, but fetch tokens up front anyway
    return api


def list_calls(api: Api, who: str, count: int) -> list[int]:
    return [api.list_conversations(who).status_code for _ in range(count)]


def test_the_fixtures_app_has_the_rate_limit_off(api: Api) -> None:
    assert api.sandbox.config.rate_limit is False
    assert set(list_calls(api, NORTHWIND, 30)) == {200}


def test_the_sixth_call_in_one_second_is_429_with_retry_after(limited: Api) -> None:
    assert list_calls(limited, NORTHWIND, 5) == [200] * 5
    response = limited.list_conversations(NORTHWIND)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.mimetype == "text/plain"
    assert error_lines(response)[0].startswith("rate limit: getConversations allows 5 calls per second")


def test_another_operation_has_its_own_budget(limited: Api) -> None:
    list_calls(limited, NORTHWIND, 5)
    assert limited.list_messages(NORTHWIND).status_code == 200
    assert limited.conversation(NORTHWIND)["status"] == "new"


def test_another_account_has_its_own_budget(limited: Api) -> None:
    list_calls(limited, NORTHWIND, 5)
    assert list_calls(limited, ACME, 5) == [200] * 5
    assert limited.list_conversations(ACME).status_code == 429


def test_advancing_one_second_lets_calls_through(limited: Api) -> None:
    list_calls(limited, NORTHWIND, 6)
    limited.advance(0.999)
    assert limited.list_conversations(NORTHWIND).status_code == 429
    limited.advance(0.001)
    assert list_calls(limited, NORTHWIND, 5) == [200] * 5
    assert limited.list_conversations(NORTHWIND).status_code == 429


def test_the_window_slides(limited: Api) -> None:
    """Three calls at t, two at t+0.5 s: at t+1 s the first three have left the window."""
    list_calls(limited, NORTHWIND, 3)
    limited.advance(0.5)
    list_calls(limited, NORTHWIND, 2)
    assert limited.list_conversations(NORTHWIND).status_code == 429
    limited.advance(0.5)
    assert list_calls(limited, NORTHWIND, 3) == [200, 200, 200]
    assert limited.list_conversations(NORTHWIND).status_code == 429


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_operation_is_limited_and_a_refused_call_changes_nothing(limited: Api, operation: str) -> None:
    cid = limited.conversation(ACME)["id"]
    limited.advance(1)
    body = {
        "createConversation": {"title": "x", "otherPartyTradingPartnerId": "aaa-bbb-ccc"},
        "updateConversation": {"dscoConversationId": cid, "status": "closed"},
        "getConversations": {},
        "addConversationMessage": {"dscoConversationId": cid, "message": "m"},
        "getConversationMessages": {},
    }[operation]
    statuses = [limited.call(operation, NORTHWIND, body).status_code for _ in range(5)]
    assert all(s < 400 for s in statuses)
    counts = limited.sandbox.store.counts()
    stored = limited.sandbox.store.conversation(cid)
    response = limited.call(operation, NORTHWIND, body)
    assert response.status_code == 429
    assert limited.sandbox.store.counts() == counts
    assert limited.sandbox.store.conversation(cid) == stored


def test_the_limit_follows_the_config(limited: Api) -> None:
    limited.sandbox.config.rate_limit_per_second = 2
    assert list_calls(limited, NORTHWIND, 3) == [200, 200, 429]


def test_turned_off_no_call_is_refused(limited: Api) -> None:
    list_calls(limited, NORTHWIND, 6)
    limited.sandbox.config.rate_limit = False
    assert set(list_calls(limited, NORTHWIND, 20)) == {200}


def test_unauthenticated_calls_do_not_use_an_accounts_budget(limited: Api) -> None:
    for _ in range(10):
        response = limited.client.post(
            "/api/v3/conversation/list", json={}, headers={"Authorization": "bearer x"}
        )
        assert response.status_code == 401
    assert list_calls(limited, NORTHWIND, 5) == [200] * 5
