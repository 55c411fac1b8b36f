"""The sandbox's rules, in pure Python: no Flask, no jsonschema, nothing that knows about HTTP.

Everything a production rule decides (who may see what, which status follows which, when an item
becomes visible) lives here so that it can be tested without a server and reused by any front end.
"""
