"""The state database keeps every part of the state the definition (``domain/state_parts.py``) lists."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.domain.sandbox import Sandbox
from simulator.domain.state_parts import collection_names
from simulator.loading.bootstrap import read_world
from simulator.storage import statedb
from simulator.storage.statedb import open_persistence


def test_every_collection_of_the_state_has_a_table_of_rows() -> None:
    assert set(statedb.ROW_TABLES) == set(collection_names())


def make_sandbox() -> tuple[Sandbox, Contract]:
    contract = Contract()
    config = SandboxConfig(rate_limit=False, lag_min=0, lag_max=0)
    return Sandbox(read_world(contract), config), contract


def test_a_restart_numbers_new_records_after_the_saved_sequence(tmp_path: Path) -> None:
    """A restart goes on numbering after the saved ``sequence`` (the store's last number), as the
    sandbox it was saved from would have, however the records were written."""
    path = tmp_path / "state.db"
    first, contract = make_sandbox()
    persistence = open_persistence(first, contract, path, world_given=False, say=lambda line: None)
    retailer = first.world.account("1000001")
    assert retailer is not None
    created = first.call(
        "createConversation", retailer, {"title": "Parcel", "otherPartyTradingPartnerId": "aaa-bbb-ccc"}
    )
    first.call(
        "updateConversation", retailer, {"dscoConversationId": created["id"], "retailerReferenceId": "R-1"}
    )
    last = first.store.last_seq()
    assert last > 0
    persistence.database.close()

    second, contract = make_sandbox()
    reopened = open_persistence(second, contract, path, world_given=False, say=lambda line: None)
    try:
        assert second.store.last_seq() == last
        assert second.export_state()["sequence"] == last
    finally:
        with contextlib.suppress(sqlite3.ProgrammingError):
            reopened.database.close()
