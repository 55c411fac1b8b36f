"""Where a value sits in a YAML file: lines of nodes, and the node a JSON path points at; and the
fast parse of a whole contract document.

Files users write (scenarios, persona files) are parsed with ``yaml.compose`` so that a problem the
schema or a later check finds, named by its JSON path as the contract writes it
(``steps[2].expect.status``), can be reported at its line.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_document(text: str) -> Any:
    """Parse one of our contract documents as ``yaml.safe_load`` does, with libyaml's C loader where
    PyYAML has it: the contract is parsed whenever a server starts or a test builds one, and the
    pure-Python loader takes most of a second on openapi.yaml. Documents users give (the vendor's,
    to ``contract diff``) keep the pure-Python loader, whose error messages the commands quote."""
    return yaml.load(text, Loader=_SAFE_LOADER)


def line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def key_text(node: yaml.Node) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def locate(root: yaml.Node, path: str, *, value: bool = False) -> yaml.Node:
    """The node a JSON path (as the contract writes it: ``steps[2].expect.status``) points at.

    Keys may contain dots (``paths`` keys do), so at each mapping the longest key that fits wins.
    Where the path runs past what exists (a missing required field), the deepest node found is used.
    A path ending at a key gives the key's node (its line is where a reader looks), or with
    ``value`` the value's node.
    """
    node, rest = root, path
    if rest == "body":  # the contract's name for the document itself
        return root
    while rest:
        if rest.startswith("["):
            match = re.match(r"\[([0-9]+)\]", rest)
            if match is None or not isinstance(node, yaml.SequenceNode):
                return node
            index = int(match.group(1))
            if index >= len(node.value):
                return node
            node, rest = node.value[index], rest[match.end() :]
            continue
        rest = rest.removeprefix(".")
        if not isinstance(node, yaml.MappingNode):
            return node
        best: tuple[yaml.Node, yaml.Node, str] | None = None
        for key_node, value_node in node.value:
            key = key_text(key_node)
            if key is None:
                continue
            fits = rest == key or rest.startswith(key + ".") or rest.startswith(key + "[")
            if fits and (best is None or len(key) > len(best[2])):
                best = (key_node, value_node, key)
        if best is None:
            return node
        key_node, value_node, key = best
        rest = rest[len(key) :]
        if not rest:
            return value_node if value else key_node
        node = value_node
    return node
