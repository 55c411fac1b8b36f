"""The conversation API's five operations, as production enforces them, over one world and store.

The rules live in three modules: ``writes.py`` (create, update, add a message), ``listing.py`` (the
two lists and their scrolls) and ``lookup.py`` (how a request's fields are read, shared by both).
This puts them together over one world, store and clock; every operation returns records
(``answers.py``), never JSON, and raises an error of the domain family when it refuses.
Not thread-safe on its own: :class:`simulator.domain.sandbox.Sandbox` serialises calls.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .clock import Clock
from .config import SandboxConfig
from .listing import Listing
from .lookup import Lookup
from .models import Conversation, Message
from .paging import ScrollRegistry
from .store import Store
from .world import World
from .writes import Writes


class ConversationService:
    def __init__(
        self,
        world: World,
        store: Store,
        clock: Clock,
        config: SandboxConfig,
        ids: random.Random,
        lags: random.Random,
        scrolls: ScrollRegistry,
        on_message: Callable[[Message, Conversation], None] | None = None,
    ) -> None:
        self.world = world
        self.store = store
        self.scrolls = scrolls
        lookup = Lookup(world, store, config)
        writes = Writes(lookup, clock, config, ids, lags, on_message or (lambda message, conversation: None))
        listing = Listing(lookup, clock, config, scrolls)
        self.create_conversation = writes.create_conversation
        self.update_conversation = writes.update_conversation
        self.add_message = writes.add_message
        self.list_conversations = listing.list_conversations
        self.list_messages = listing.list_messages
