"""Errors of registries, toolchains and the tracker, classified as retryable or not.

Activities turn them into Temporal `ApplicationError`s whose `type` is the
class name, so the release workflow can tell a registry that is down (retry
it) from a version conflict (never retry).
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError


class SdkReleaseError(Exception):
    """Base class of SDK release errors; `retryable` means the same call may succeed later."""

    retryable = True

    def __init__(self, message: str, *, maybe_exists: bool = False) -> None:
        super().__init__(message)
        self.message = message
        # True when a registry refused an upload in a way that may mean the
        # version exists already; the publisher then reads the registry again.
        self.maybe_exists = maybe_exists

    def to_application_error(self) -> ApplicationError:
        """Return the Temporal error an activity raises for this failure."""
        return ApplicationError(
            self.message, type=type(self).__name__, non_retryable=not self.retryable
        )


class RegistryUnavailableError(SdkReleaseError):
    """The registry could not be reached or returned a server error."""


class NotYetVisibleError(SdkReleaseError):
    """The registry accepted the upload but does not list the version yet."""


class PublishConflictError(SdkReleaseError):
    """The registry contains this version with different content, which no retry can fix."""

    retryable = False


class PublishRejectedError(SdkReleaseError):
    """The registry rejected the upload for a reason retrying cannot fix (auth, bad package)."""

    retryable = False


class BuildFailedError(SdkReleaseError):
    """A toolchain failed to build an artifact from source."""

    retryable = False


class TrackerUnavailableError(SdkReleaseError):
    """The issue tracker could not be reached or returned a server error."""


class TrackerRejectedError(SdkReleaseError):
    """The issue tracker rejected the request (bad token, unknown repository)."""

    retryable = False


# Error types the workflow must not retry; kept beside the classes they name.
NON_RETRYABLE_TYPES = [
    PublishConflictError.__name__,
    PublishRejectedError.__name__,
    BuildFailedError.__name__,
    TrackerRejectedError.__name__,
]
