"""Loading OpenAPI 3.x and Swagger 2.0 documents and resolving their local `$ref`s."""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from portal.snippets.errors import SpecError

# A chain of `$ref`s that point at further `$ref`s longer than this is treated
# as a loop: real documents nest a handful at most.
MAX_REF_CHAIN = 64


def _reject_constant(name: str) -> None:
    raise SpecError(f"invalid JSON number {name}: JSON documents may not contain NaN or Infinity")


def _normalize(value: Any, memo: dict[int, Any]) -> Any:
    """Copy a parsed YAML tree into plain JSON types.

    YAML turns unquoted dates into `date` objects and allows integer mapping
    keys (response codes). The memo keeps aliased nodes shared, so an alias
    bomb is not expanded and a recursive anchor stays a finite graph.
    """
    key = id(value)
    if key in memo:
        return memo[key]
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        memo[key] = result
        for item_key, item in value.items():
            result[_scalar_key(item_key)] = _normalize(item, memo)
        return result
    if isinstance(value, list):
        items: list[Any] = []
        memo[key] = items
        items.extend(_normalize(item, memo) for item in value)
        return items
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"invalid number {value!r}: examples must be finite JSON numbers")
    if isinstance(value, bytes):
        raise SpecError("binary YAML values (!!binary) are not supported in examples")
    return value


def _scalar_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, datetime.datetime | datetime.date):
        return key.isoformat()
    return str(key)


def parse_document(text: str, source: str = "<string>") -> dict[str, Any]:
    """Parse the text of an API description written in JSON or YAML.

    Args:
        text: The document text.
        source: File name used in error messages; a `.json` suffix selects the
            JSON parser, anything else YAML (a superset of JSON).

    Returns:
        The document as plain dicts, lists and scalars.

    Raises:
        SpecError: If the text is not valid JSON or YAML or its root is not a mapping.
    """
    try:
        if source.endswith(".json"):
            raw = json.loads(text, parse_constant=_reject_constant)
        else:
            raw = yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{source}: invalid JSON or YAML: {exc}") from None
    document = _normalize(raw, {})
    if not isinstance(document, dict):
        raise SpecError(f"{source}: the document root must be a mapping, got {type(raw).__name__}")
    return document


class Document:
    """An API description with local `$ref` resolution.

    Args:
        root: The parsed document.
        source: Where the document came from, for error messages.

    Raises:
        SpecError: If the document is neither OpenAPI 3.x nor Swagger 2.0.
    """

    def __init__(self, root: dict[str, Any], source: str = "<document>") -> None:
        self.root = root
        self.source = source
        openapi = root.get("openapi")
        swagger = root.get("swagger")
        if isinstance(openapi, str) and openapi.startswith("3."):
            self.version = 3
        elif str(swagger) == "2.0":
            self.version = 2
        else:
            raise SpecError(
                f"{source}: unsupported document: expected `openapi: 3.x` or `swagger: '2.0'`, "
                f"got openapi={openapi!r} swagger={swagger!r}"
            )

    @classmethod
    def load(cls, path: str | Path) -> Document:
        """Read and parse the document at `path`.

        Raises:
            SpecError: If the file cannot be read or parsed.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"cannot read API description {path}: {exc}") from None
        return cls(parse_document(text, path.name), str(path))

    def pointer(self, ref: str) -> Any:
        """Return the node that the local reference `ref` (`#/a/b`) points at.

        Raises:
            SpecError: If `ref` is not local or names no node.
        """
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SpecError(
                f"{self.source}: unsupported $ref {ref!r}: only references inside the same "
                "document (starting with '#') are resolved"
            )
        fragment = unquote(ref[1:])
        node: Any = self.root
        if fragment in ("", "/"):
            return node if fragment == "" else self._step(node, "", ref)
        if not fragment.startswith("/"):
            raise SpecError(f"{self.source}: invalid $ref {ref!r}: a JSON pointer starts with '/'")
        for token in fragment[1:].split("/"):
            node = self._step(node, token.replace("~1", "/").replace("~0", "~"), ref)
        return node

    def _step(self, node: Any, token: str, ref: str) -> Any:
        if isinstance(node, dict) and token in node:
            return node[token]
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            return node[int(token)]
        raise SpecError(f"{self.source}: $ref {ref!r} points at nothing (no {token!r})")

    def deref(self, node: Any) -> tuple[Any, tuple[str, ...]]:
        """Follow `node`'s `$ref` chain to a node that is not a reference.

        Returns:
            The target node and the references followed, in order. Callers that
            walk schemas keep these on a stack to stop at recursive schemas.

        Raises:
            SpecError: If the chain loops or a reference is invalid.
        """
        chain: list[str] = []
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in chain or len(chain) >= MAX_REF_CHAIN:
                loop = " -> ".join([*chain, ref])
                raise SpecError(f"{self.source}: $ref loop with no schema in it: {loop}")
            chain.append(ref)
            node = self.pointer(ref)
        return node, tuple(chain)

    def resolve(self, node: Any) -> Any:
        """Return `node` with its `$ref` chain followed (see `deref`)."""
        return self.deref(node)[0]
