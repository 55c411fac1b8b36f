"""Apps built with one :class:`CompiledRoutes` share a compiled URL map, and nothing else.

An app built with it must route exactly as one built without it, and two apps sharing a map must
still answer each from its own sandbox; a different set of rules must never get another's map.
"""

from __future__ import annotations

from flask import Flask
from http_support import plain_client
from werkzeug.routing import Map, Rule

from simulator.contract.validation import Contract
from simulator.domain.config import SandboxConfig
from simulator.http import CompiledRoutes, ServerConfig, create_app
from simulator.http.compiled_routes import route_shape


def _app(contract: Contract, routes: CompiledRoutes | None, seed: int = 7) -> Flask:
    config = ServerConfig(sandbox=SandboxConfig(seed=seed, rate_limit=False))
    return create_app(config, contract=contract, routes=routes)


def test_an_app_with_shared_routes_routes_exactly_as_one_built_alone(contract: Contract) -> None:
    alone = _app(contract, None)
    routes = CompiledRoutes()
    first, second = _app(contract, routes), _app(contract, routes)
    assert route_shape(first.url_map.iter_rules()) == route_shape(alone.url_map.iter_rules())
    assert len(list(alone.url_map.iter_rules())) > 30
    assert second.url_map is first.url_map
    assert set(second.view_functions) == set(alone.view_functions)


def test_apps_sharing_a_map_answer_from_their_own_sandbox(contract: Contract) -> None:
    routes = CompiledRoutes()
    one, other = _app(contract, routes, seed=1), _app(contract, routes, seed=2)
    assert one.url_map is other.url_map
    one.extensions["dsco_sandbox"].clock.freeze()
    one.extensions["dsco_sandbox"].clock.set(1_000_000)
    other.extensions["dsco_sandbox"].clock.freeze()
    other.extensions["dsco_sandbox"].clock.set(2_000_000)
    answers = [plain_client(app).get("/_sandbox/clock") for app in (one, other)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].get_json() != answers[1].get_json()


def test_different_rules_get_a_map_of_their_own() -> None:
    routes = CompiledRoutes()
    a = routes.url_map(Map(), [Rule("/a", endpoint="a")])
    b = routes.url_map(Map(), [Rule("/a", endpoint="a", methods=["POST"])])
    again = routes.url_map(Map(), [Rule("/a", endpoint="a")])
    assert b is not a
    assert again is a
    assert [r.rule for r in a.iter_rules()] == ["/a"]
    assert routes.shared_maps() == [a, b]
