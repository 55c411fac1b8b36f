"""The app serves no folder of the directory the sandbox was started from.

Flask gives every app a ``/static/<path>`` route over a ``static`` folder beside its root path; for
an app named after no module that root is the working directory, so a ``static`` folder there
(an integrator's own project, say) would be served. Only the console's own stylesheet folder is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.http import ServerConfig, create_app


def test_a_static_folder_in_the_working_directory_is_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "secret.txt").write_text("not for the network")
    monkeypatch.chdir(tmp_path)
    app = create_app(ServerConfig())
    assert app.test_client().get("/static/secret.txt", headers={"Host": "127.0.0.1"}).status_code == 404
    assert [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == "static"] == []
