"""``dsco-sandbox contract diff``: our contract against any OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cli_support import REPO, run_cli

from simulator.cli import main

OURS = REPO / "contracts" / "openapi.yaml"


@pytest.mark.e2e
def test_our_contract_does_not_differ_from_itself() -> None:
    result = run_cli("contract", "diff", str(OURS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "No differences."


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_an_unreadable_document_exits_2(tmp_path: Path) -> None:
    result = run_cli("contract", "diff", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_malformed_yaml_is_one_line_naming_its_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("openapi: 3.1.0\npaths:\n  /x: [\n", "utf-8")
    assert main(["contract", "diff", str(spec)]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"cannot read a document: {spec}: line 4 column 1: malformed YAML: expected the node content, "
        "but found '<stream end>'"
    ]
    assert captured.out == ""


def test_a_document_that_is_not_openapi_is_said_so_not_diffed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, text in (("empty.json", "{}"), ("swagger.yaml", "swagger: '2.0'\npaths: {}\n")):
        spec = tmp_path / name
        spec.write_text(text, "utf-8")
        assert main(["contract", "diff", str(spec)]) == 2
        captured = capsys.readouterr()
        assert "not an OpenAPI 3 document" in captured.err
        assert "removed" not in captured.out
