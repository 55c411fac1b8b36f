"""The vendor API opens no session; the console's pages keep theirs."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from http_support import API

from simulator.http.console import SESSION_COOKIE


def _count_openings(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    sessions = app.session_interface
    signing = sessions.get_signing_serializer  # type: ignore[attr-defined]

    def counted(given: Flask) -> Any:
        opened.append("signing serializer")
        return signing(given)

    monkeypatch.setattr(sessions, "get_signing_serializer", counted)
    return opened


def test_an_api_call_opens_no_session_and_sets_no_cookie(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = _count_openings(app, monkeypatch)
    client.set_cookie(SESSION_COOKIE, "anything")  # even a cookie sent along is not read
    answer = client.get(f"{API}/hello")
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
    assert opened == []


def test_the_console_still_opens_its_session(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = _count_openings(app, monkeypatch)
    assert client.get("/console/settings").status_code == 200
    assert opened
