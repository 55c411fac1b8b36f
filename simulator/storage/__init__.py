"""Where a sandbox's state is kept beyond its process: a JSON state file (``statefile``), a SQLite
state database (``statedb`` with ``staterows``), saved namespaces (``namespace_store``,
``namespace_db``) and one sandbox shared by many worker processes on Redis (``shared``)."""
