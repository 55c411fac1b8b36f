"""dsco-sandbox: a local, stateful simulator of the Dsco v3 Conversation API."""

__version__ = "0.1.0"
