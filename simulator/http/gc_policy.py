"""How a served sandbox runs Python's cycle collector: on, but off the stored records' backs.

Why. Every stored conversation and message is an object the cycle collector tracks, and a full
(generation-2) collection walks every tracked object alive. Under a write load the store grows,
so each full collection walks more, and those walks are the long tail of the latency: the same 8 s
createConversation load on waitress measured p99 108 ms with the collector as CPython sets it,
9.9 ms with it off. Turning it off is not an answer: Flask, Werkzeug and the servers make
reference cycles now and then, and a sandbox left running for days would keep every one of them.

What. :class:`CollectorPolicy`, installed by ``serve`` (waitress in its process, granian in its
forked worker) and by nothing else (tests and the pytest plugin keep CPython's defaults):

* after start-up (the world, a loaded state) everything alive is collected once and then
  *frozen* (``gc.freeze``): moved to the permanent generation, which no collection walks;
* after every full collection the survivors are frozen too, so a full collection walks what was
  made since the last one, not the whole store;
* the young generations keep CPython's thresholds (700, 10, 10): measured, larger ones made
  fewer but longer pauses and no less collector time in all (``GEN0_THRESHOLD``).

Frozen objects are still freed by reference counting the moment nothing refers to them, and the
records are acyclic (frozen dataclasses of strings, numbers and dicts of them), so a reset or an
import hands their memory back at once (``tests/http/test_gc_policy.py`` checks it). What a freeze
cannot free is a reference *cycle* among frozen objects that becomes garbage later; only objects
alive at the moment of a full collection can be in one (a request in flight, say), so such leaks
are bounded by what is in flight, and :meth:`CollectorPolicy.uninstall` unfreezes everything.
"""

from __future__ import annotations

import gc
from typing import Any

GEN0_THRESHOLD = 700
"""Allocations (minus deallocations) between young collections: CPython's own, kept by measurement.

``bench/collector.py`` (20,000 creates through the test client over 10^5 stored messages, CPU
time, docs/performance.md *The cycle collector*): with the freezes, the longest pause was 45 ms at
700, 37 ms at 5,000 and 120 ms at 20,000, and the collector's total time 0.90, 0.95 and 1.12 s;
without them (CPython as it comes) 306 ms and 2.01 s. A larger threshold trades many short pauses
for few long ones, and under 16 concurrent connections a long pause delays every request queued
behind it, which is what a p99 sees.
"""
GEN1_THRESHOLD = 10
GEN2_THRESHOLD = 10
"""CPython's own: how many younger collections run before an older one is considered."""


class CollectorPolicy:
    """The collector settings of one served process; install once, after start-up."""

    def __init__(self, gen0: int | None = None) -> None:
        self.gen0 = gen0
        self.full_collections = 0
        """Full collections seen since install (each one followed by a freeze)."""
        self._previous: tuple[int, int, int] | None = None

    @property
    def installed(self) -> bool:
        return self._after_collection in gc.callbacks

    def install(self) -> None:
        """Collect what start-up left behind, freeze the rest, and follow every full collection."""
        if self.installed:
            return
        self._previous = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(self.gen0 or GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)
        gc.callbacks.append(self._after_collection)

    def uninstall(self) -> None:
        """Back to the thresholds found at install, with nothing frozen (for a server that stops)."""
        if not self.installed:
            return
        gc.callbacks.remove(self._after_collection)
        if self._previous is not None:
            gc.set_threshold(*self._previous)
        gc.unfreeze()

    def _after_collection(self, phase: str, info: dict[str, Any]) -> None:
        # Called by the collector itself around each collection; "stop" comes once it is done, so
        # what is still in the oldest generation survived a full walk: it is long-lived, freeze it.
        if phase == "stop" and info.get("generation") == 2:
            self.full_collections += 1
            gc.freeze()
