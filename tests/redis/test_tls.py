"""``--store rediss://``: the shared store over TLS, trusting a CA given in the URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from http_support import NORTHWIND, Api
from redis_support import RedisServer, free_port, self_signed_certificate
from shared_support import SharedApi, shared_app

from simulator.contract.validation import Contract
from simulator.storage.shared.errors import SharedStoreError


def test_a_sandbox_is_shared_through_a_redis_that_speaks_tls_only(
    tmp_path: Path, contract: Contract, redis_prefix: str
) -> None:
    server = RedisServer(tmp_path, free_port(), tls=self_signed_certificate(tmp_path))
    server.start()
    try:
        assert server.url.startswith("rediss://") and "?ssl_ca_certs=" in server.url
        with pytest.raises(SharedStoreError, match="cannot reach Redis"):  # an unknown CA is refused
            shared_app(contract, server.url.split("?")[0], redis_prefix)
        apps = [shared_app(contract, server.url, redis_prefix) for _ in range(2)]
        made = Api(apps[0].test_client(), apps[0].extensions["dsco_sandbox"]).conversation(NORTHWIND)
        other = SharedApi(apps[1].test_client(), apps[1].extensions["dsco_sandbox"])
        other.settle()
        assert other.conversation_ids(NORTHWIND, {"createdSince": "2023-01-01T00:00:00Z"}) == [made["id"]]
    finally:
        server.stop()
