"""Metric names in PromQL expressions, read with the promql-parser package."""

from __future__ import annotations

import promql_parser

# Attributes of promql_parser's expression nodes that hold sub-expressions.
CHILD_ATTRIBUTES = ("lhs", "rhs", "expr", "param", "args", "vector_selector")


def metric_names(expression: str) -> set[str]:
    """Return every metric name that `expression` selects."""
    names: set[str] = set()
    pending: list[object] = [promql_parser.parse(expression)]
    while pending:
        node = pending.pop()
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            continue
        for attribute in CHILD_ATTRIBUTES:
            child = getattr(node, attribute, None)
            if isinstance(child, list):
                pending.extend(child)
            elif child is not None and type(child).__module__ == "promql_parser":
                pending.append(child)
    return names
