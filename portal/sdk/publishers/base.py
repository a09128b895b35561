"""The interface every registry publisher implements, and its idempotency contract.

`publish` may run any number of times for the same artifact, including after
a worker died half-way. A version already published with the same content
is success, and the same version with different content raises
PublishConflictError. Every other failure is classified as retryable
(RegistryUnavailableError) or not (PublishRejectedError).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from pathlib import Path

import httpx

from portal.sdk.config import SdkConfig
from portal.sdk.errors import (
    NotYetVisibleError,
    PublishConflictError,
    PublishRejectedError,
    RegistryUnavailableError,
)
from portal.sdk.languages import REGISTRY_NAMES, Language
from portal.sdk.models import PublishOutcome, StagedArtifact

log = logging.getLogger(__name__)

HTTP_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class Publisher(ABC):
    """Publishes one language's artifacts to its registry and reads what it holds."""

    language: Language

    def __init__(self, config: SdkConfig) -> None:
        self.config = config

    @property
    def registry(self) -> str:
        """Human name of the registry, for messages."""
        return REGISTRY_NAMES[self.language]

    @abstractmethod
    async def holds(self, artifact: StagedArtifact, files: dict[str, Path]) -> bool:
        """Return True when the registry serves this version with the artifact's content.

        `files` maps each staged file name to a local copy, for registries whose
        content check needs more than the manifest's checksums.

        Raises:
            PublishConflictError: when it serves this version with other content.
            RegistryUnavailableError: when the registry cannot be read now.
        """

    @abstractmethod
    async def upload(self, artifact: StagedArtifact, files: dict[str, Path]) -> None:
        """Upload the artifact; `files` maps each staged file name to a local copy."""

    @abstractmethod
    async def latest_version(self) -> str | None:
        """Return the highest release version the registry holds, or None."""

    @abstractmethod
    def location(self, artifact: StagedArtifact) -> str:
        """Return where users fetch this version: a URL, tag or object key."""

    async def publish(self, artifact: StagedArtifact, files: dict[str, Path]) -> PublishOutcome:
        """Publish `artifact` unless the registry already contains it (see the module docstring)."""
        if await self.holds(artifact, files):
            log.info(
                "already published language=%s version=%s; nothing to upload",
                self.language,
                artifact.version,
            )
            return self._outcome(artifact, already_present=True)
        try:
            await self.upload(artifact, files)
        except (PublishConflictError, PublishRejectedError, RegistryUnavailableError) as exc:
            # Another attempt may have uploaded the same bytes first, and the
            # registry then refuses ours; that is success, not a conflict.
            if exc.maybe_exists and await self.holds(artifact, files):
                log.info(
                    "registry rejected a duplicate upload language=%s version=%s",
                    self.language,
                    artifact.version,
                )
                return self._outcome(artifact, already_present=True)
            raise
        log.info("published language=%s version=%s", self.language, artifact.version)
        return self._outcome(artifact, already_present=False)

    async def confirm(self, artifact: StagedArtifact, files: dict[str, Path]) -> None:
        """Raise NotYetVisibleError until the registry serves the artifact."""
        if not await self.holds(artifact, files):
            raise NotYetVisibleError(
                f"{self.registry} does not list {artifact.package} {artifact.registry_version} yet"
            )

    def _outcome(self, artifact: StagedArtifact, *, already_present: bool) -> PublishOutcome:
        return PublishOutcome(
            language=self.language,
            version=artifact.version,
            already_present=already_present,
            location=self.location(artifact),
        )

    def conflict(self, artifact: StagedArtifact, detail: str) -> PublishConflictError:
        """Return the error for a version the registry contains with other content."""
        return PublishConflictError(
            f"{self.registry} already holds {artifact.package} {artifact.registry_version} "
            f"with different content ({detail}); a published version cannot change, so "
            "release a new version or abandon this one"
        )


def http_error(registry: str, exc: httpx.HTTPError) -> RegistryUnavailableError:
    """Return the retryable error for an HTTP transport failure."""
    return RegistryUnavailableError(f"{registry} unreachable: {type(exc).__name__}: {exc}")


def status_error(registry: str, response: httpx.Response, action: str):
    """Classify an HTTP error status: 5xx and 429 retryable, other 4xx rejected."""
    message = f"{registry} returned {response.status_code} for {action}: {response.text[:300]}"
    if response.status_code >= 500 or response.status_code == 429:
        return RegistryUnavailableError(message)
    return PublishRejectedError(message)
