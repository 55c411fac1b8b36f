"""``dsco-sandbox world new`` writes a small commented world that loads and serves as it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli import main
from simulator.contract.validation import Contract
from simulator.http.app import ServerConfig, create_app
from simulator.loading.bootstrap import WorldFileError, read_world


def test_world_new_writes_a_commented_world_that_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["world", "new", "My Shop", "--dir", str(tmp_path)]) == 0
    path = tmp_path / "my-shop.yaml"
    assert capsys.readouterr().out.startswith(f"wrote {path}")
    text = path.read_text("utf-8")
    assert text.count("\n#") + text.count("  # ") >= 10  # explained, not just data
    app = create_app(ServerConfig(world_path=path))
    client = app.test_client()
    created = client.post(
        "/api/v3/conversation",
        json={
            "title": "Broken mug",
            "otherPartyTradingPartnerId": "SUPPLY-1",
            "type": {"type": "customer_care", "consumerId": "c-1"},
            "context": {"type": "order", "poNumber": "PO-1001", "lineItem": {"sku": "SKU-MUG-RED"}},
            "initialMessage": {"message": "It arrived broken."},
        },
        headers={"Authorization": "bearer example-retailer-token"},
    )
    assert created.status_code == 201, created.text
    assert created.json["dscoSupplierTradingPartnerId"] == "SUPPLY-1"  # type: ignore[index]
    token = client.post(
        "/api/v3/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "example-supplier",
              "client_secret": "example-supplier-secret"},
    )  # fmt: skip
    assert token.status_code == 200


def test_world_new_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["world", "new", "w", "--dir", str(tmp_path)]) == 0
    assert main(["world", "new", "w", "--dir", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_yaml_world_with_a_misspelt_key_or_an_unquoted_id_names_the_field(tmp_path: Path) -> None:
    assert main(["world", "new", "w", "--dir", str(tmp_path)]) == 0
    path = tmp_path / "w.yaml"
    text = path.read_text("utf-8")
    path.write_text(text.replace("legacyToken: example-supplier-token", "legacyTokn: x"), "utf-8")
    with pytest.raises(WorldFileError, match="legacyTokn"):
        read_world(Contract(), path)
    path.write_text(text.replace('dscoAccountId: "1000001"', "dscoAccountId: 1000001", 1), "utf-8")
    with pytest.raises(WorldFileError, match=r"accounts\[0\]\.dscoAccountId"):
        read_world(Contract(), path)
