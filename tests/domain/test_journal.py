"""The journal keeps a call's record as it is and makes its details only when it is read."""

from __future__ import annotations

from typing import Any

from simulator.domain.journal import Journal


class _Call:
    def __init__(self) -> None:
        self.made = 0

    def details(self) -> dict[str, Any]:
        self.made += 1
        return {"method": "POST", "status": 201}


def test_deferred_details_are_made_only_when_read() -> None:
    journal = Journal(size=10)
    call = _Call()
    entry = journal.record_deferred("request", 5, call, account="1000001", operation="createConversation")
    assert call.made == 0  # recording did no work for the details
    assert journal.entries(operation="createConversation") == [entry]
    assert call.made == 0  # neither did filtering
    assert entry.to_json()["status"] == 201
    assert entry.details == {"method": "POST", "status": 201}
    assert call.made == 2


def test_plain_details_read_back_as_recorded() -> None:
    journal = Journal(size=10)
    entry = journal.record("webhook", 7, account="2000001", url="http://127.0.0.1/hook", attempt=1)
    assert entry.details == {"url": "http://127.0.0.1/hook", "attempt": 1}
    assert entry.to_json()["attempt"] == 1
