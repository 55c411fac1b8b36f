"""Helpers shared by the contract tests: walking and resolving ``$ref``s the way any tool would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml


def iter_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


def ref_target_exists(source: Path, document: Any, reference: str) -> bool:
    file_part, _, fragment = reference.partition("#")
    if file_part:
        target_file = (source.parent / unquote(file_part)).resolve()
        if not target_file.is_file():
            return False
        text = target_file.read_text(encoding="utf-8")
        target = json.loads(text) if target_file.suffix == ".json" else yaml.safe_load(text)
    else:
        target = document
    for token in [t for t in unquote(fragment).split("/") if t]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and token in target:
            target = target[token]
        elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
            target = target[int(token)]
        else:
            return False
    return True
