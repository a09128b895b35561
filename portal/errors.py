"""Errors shared by the API, the workers and the clients of other services."""

from __future__ import annotations


class DependencyUnavailableError(Exception):
    """A dependency (auth-service, Redis, dispatch, ...) cannot serve the call now.

    The API turns it into a 503 with `Retry-After`; activities let Temporal retry.

    Args:
        dependency: Name of the dependency, as used in metrics and problem bodies.
        retry_after: Seconds after which a retry may succeed.
        reason: What failed, for logs and the problem's detail.
    """

    def __init__(self, dependency: str, retry_after: int = 5, reason: str = "") -> None:
        self.dependency = dependency
        self.retry_after = retry_after
        self.reason = reason
        super().__init__(f"{dependency} unavailable{': ' + reason if reason else ''}")
