"""One sandbox: a world, a store, a clock, settings and the services over them.

Everything that would otherwise be a module global lives on this object, so several sandboxes can
run side by side in one process (one per test, or one per namespace later). Its single re-entrant
lock serialises every operation: simple, and enough for a local fake, with no lost or torn writes
when many client threads call at once.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from typing import Any

from .auth import Authenticator, IssuedToken
from .clock import ControllableClock
from .config import SandboxConfig
from .models import Account
from .paging import ScrollRegistry
from .ratelimit import RateLimiter
from .service import ConversationService
from .store import MemoryStore, Store
from .world import World

OPERATIONS = (
    "createConversation",
    "updateConversation",
    "getConversations",
    "addConversationMessage",
    "getConversationMessages",
)


class Sandbox:
    def __init__(
        self,
        world: World,
        config: SandboxConfig | None = None,
        clock: ControllableClock | None = None,
        store: Store | None = None,
    ) -> None:
        self.world = world
        self.config = config or SandboxConfig()
        self.clock = clock or ControllableClock()
        self.store: Store = store or MemoryStore()
        self.lock = threading.RLock()
        self.auth = Authenticator(world, random.Random(f"{self.config.seed}:tokens"), self.config.token_ttl)
        self.rate_limiter = RateLimiter(self.config.rate_limit_per_second)
        self._seed_generators()

    def _seed_generators(self) -> None:
        seed = self.config.seed
        self._scrolls: ScrollRegistry[Any] = ScrollRegistry(random.Random(f"{seed}:scrolls"))
        self.conversations = ConversationService(
            self.world,
            self.store,
            self.clock,
            self.config,
            ids=random.Random(f"{seed}:ids"),
            lags=random.Random(f"{seed}:lags"),
            scrolls=self._scrolls,
        )
        service = self.conversations
        self._handlers: dict[str, Callable[[Account, Mapping[str, Any]], dict[str, Any]]] = {
            "createConversation": service.create_conversation,
            "updateConversation": service.update_conversation,
            "getConversations": service.list_conversations,
            "addConversationMessage": service.add_message,
            "getConversationMessages": service.list_messages,
        }

    def reset(self) -> None:
        """Back to the loaded world with no conversations; the clock and issued tokens stay."""
        with self.lock:
            self.store.clear()
            self.rate_limiter.clear()
            self._seed_generators()

    # --- entry points used by every front end ---------------------------------------------
    def issue_token(self, form: dict[str, str]) -> IssuedToken:
        with self.lock:
            return self.auth.issue(form, self.clock.now())

    def authenticate(self, token: str) -> Account:
        with self.lock:
            return self.auth.authenticate(token, self.clock.now())

    def admit(self, caller: Account, operation: str) -> None:
        """Count a call against the rate limit, as production's gateway does before anything else."""
        if not self.config.rate_limit:
            return
        with self.lock:
            self.rate_limiter.per_second = self.config.rate_limit_per_second
            self.rate_limiter.check(caller.id, operation, self.clock.now())

    def call(self, operation: str, caller: Account, body: Mapping[str, Any]) -> dict[str, Any]:
        """Run one API operation for ``caller`` with a schema-valid body."""
        with self.lock:
            return self._handlers[operation](caller, body)
