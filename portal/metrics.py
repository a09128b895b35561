"""Prometheus helpers: the portal's metrics live in the default registry."""

from __future__ import annotations

import logging

from aiobreaker import CircuitBreaker, CircuitBreakerListener
from aiobreaker.state import CircuitBreakerBaseState, CircuitBreakerState
from prometheus_client import Gauge, start_http_server

log = logging.getLogger(__name__)

# Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open.
DEPENDENCY_CIRCUIT_STATE = Gauge(
    "portal_dependency_circuit_state",
    "Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open.",
    ["dependency"],
)

CIRCUIT_VALUES = {
    CircuitBreakerState.CLOSED: 0,
    CircuitBreakerState.HALF_OPEN: 1,
    CircuitBreakerState.OPEN: 2,
}


class CircuitStateExporter(CircuitBreakerListener):
    """Mirrors an aiobreaker breaker's state into `portal_dependency_circuit_state` and the log.

    Args:
        dependency: The gauge's `dependency` label.
    """

    def __init__(self, dependency: str) -> None:
        self.dependency = dependency
        DEPENDENCY_CIRCUIT_STATE.labels(dependency).set(0)

    def state_change(
        self,
        breaker: CircuitBreaker,
        old: CircuitBreakerBaseState | None,
        new: CircuitBreakerBaseState,
    ) -> None:
        """Set the gauge to the new state and log the transition."""
        DEPENDENCY_CIRCUIT_STATE.labels(self.dependency).set(CIRCUIT_VALUES[new.state])
        log.warning(
            "circuit breaker state changed dependency=%s from=%s to=%s",
            self.dependency,
            old.state.name.lower() if old else "-",
            new.state.name.lower(),
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
