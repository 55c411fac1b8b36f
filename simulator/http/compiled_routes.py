"""Compiled URL maps shared between apps of the same shape.

Building an app is mostly Werkzeug compiling its URL rules (about 36 of them, each turned into a
matcher and a URL builder), far more than the sandbox or the views cost. Apps with the same routes
can use one compiled map: a map names endpoints only, and each app keeps its own view functions
(bound to its own sandbox) in ``app.view_functions``. Matching and building never change a map
once its rules are in, so one map serves any number of apps at once.

:class:`CompiledRoutes` is that sharing, as an object its owner passes to ``create_app`` (a
namespace registry, a test session): there is no cache in a module global. It never guesses that
two apps have the same shape: each app's rules are collected uncompiled, and the compiled map is
reused only for exactly the same rules (path, endpoint, methods and every other option); any other
set of rules is compiled into a map of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from werkzeug.routing import Map, Rule, RuleFactory

RouteShape = tuple[tuple[Any, ...], ...]
"""What makes two sets of rules the same: every rule's options, in the order they were added."""


class RuleCollector(Map):
    """Stands in for an app's URL map while its blueprints register: keeps the rules it is given
    without compiling them (compiling is the cost being saved)."""

    def __init__(self) -> None:
        super().__init__()
        self.collected: list[Rule] = []

    def add(self, rulefactory: RuleFactory) -> None:
        self.collected.extend(rulefactory.get_rules(self))


def route_shape(rules: Iterable[Rule]) -> RouteShape:
    """Every option of every rule that changes what a map matches or builds."""
    return tuple(
        (
            rule.rule,
            rule.endpoint,
            tuple(sorted(rule.methods)) if rule.methods is not None else None,
            repr(sorted(rule.defaults.items())) if rule.defaults else None,
            rule.subdomain,
            rule.host,
            rule.strict_slashes,
            rule.merge_slashes,
            repr(rule.redirect_to),
            rule.alias,
            rule.build_only,
            rule.websocket,
            getattr(rule, "provide_automatic_options", None),
        )
        for rule in rules
    )


class CompiledRoutes:
    """The compiled URL maps, one per shape of app, for the apps built with this object."""

    def __init__(self) -> None:
        self._maps: dict[RouteShape, Map] = {}
        self._lock = threading.Lock()

    def url_map(self, fresh: Map, rules: list[Rule]) -> Map:
        """The compiled map for ``fresh`` (a new app's own map, maybe holding rules already) plus
        ``rules``: one compiled earlier for the same rules, else ``fresh`` with ``rules`` added,
        kept for the next app of that shape."""
        shape = route_shape([*fresh.iter_rules(), *rules])
        with self._lock:
            found = self._maps.get(shape)
            if found is not None:
                return found
            for rule in rules:
                fresh.add(rule)
            self._maps[shape] = fresh
            return fresh

    def shared_maps(self) -> list[Map]:
        """The compiled maps held (for measuring what apps share)."""
        with self._lock:
            return list(self._maps.values())
