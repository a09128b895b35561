"""Prometheus helpers: the portal's metrics live in the default registry."""

from __future__ import annotations

import logging

from prometheus_client import Gauge, start_http_server

log = logging.getLogger(__name__)

# Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open.
DEPENDENCY_CIRCUIT_STATE = Gauge(
    "portal_dependency_circuit_state",
    "Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open.",
    ["dependency"],
)

DEPENDENCY_UP = Gauge(
    "portal_dependency_up",
    "1 when the last readiness probe reached the dependency, else 0.",
    ["dependency"],
)


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:
    """Start a background HTTP server exposing /metrics on `port`."""
    start_http_server(port, addr=host)
    log.info("metrics server started port=%d", port)
