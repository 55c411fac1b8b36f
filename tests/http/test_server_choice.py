"""Choosing the server: granian refuses by name, with what to do instead, where it cannot run."""

from __future__ import annotations

import sys

import pytest
from flask import Flask

from simulator.http.server import ServerUnavailable, serve_granian


def test_granian_missing_is_refused_with_the_extra_to_install_and_the_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "granian", None)  # makes ``import granian`` fail
    with pytest.raises(ServerUnavailable) as refused:
        serve_granian(Flask("unused"), host="127.0.0.1", port=8080)
    message = str(refused.value)
    assert "granian is not installed" in message
    assert "dsco-sandbox[fast]" in message and "--server waitress" in message
