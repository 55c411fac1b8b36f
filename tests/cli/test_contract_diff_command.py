"""``dsco-sandbox contract diff``: our contract against any OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from cli_support import REPO, run_cli

OURS = REPO / "contracts" / "openapi.yaml"


def test_our_contract_does_not_differ_from_itself() -> None:
    result = run_cli("contract", "diff", str(OURS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "No differences."


def test_a_document_with_a_changed_enum_is_reported_with_exit_1(tmp_path: Path) -> None:
    spec = yaml.safe_load(OURS.read_text("utf-8"))
    # A "newer vendor spec" that adds a status; the schemas are external files, so inline a copy.
    schema_dir = REPO / "contracts" / "schemas"
    query = yaml.safe_load((schema_dir / "conversation-query.json").read_text("utf-8"))
    query["properties"]["statuses"]["items"]["enum"].append("archived")
    (tmp_path / "schemas").mkdir()
    for path in schema_dir.glob("*.json"):
        (tmp_path / "schemas" / path.name).write_text(path.read_text("utf-8"), "utf-8")
    (tmp_path / "schemas" / "conversation-query.json").write_text(json.dumps(query), "utf-8")
    (tmp_path / "openapi.yaml").write_text(yaml.safe_dump(spec), "utf-8")
    result = run_cli("contract", "diff", str(tmp_path / "openapi.yaml"))
    assert result.returncode == 1
    assert "archived" in result.stdout
    assert "getConversations" in result.stdout


def test_an_unreadable_document_exits_2(tmp_path: Path) -> None:
    result = run_cli("contract", "diff", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr
