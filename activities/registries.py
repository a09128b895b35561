"""Activities that publish SDK artifacts to package registries and read them back.

Each activity delegates to the language's `Publisher`: PyPI with twine, npm
with the npm CLI, Go with git tags and Maven on S3. It turns the publisher's
classified errors into Temporal errors, so the workflow's retry policy
retries registry outages but never conflicts or rejections.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from portal.sdk.config import SdkConfig
from portal.sdk.errors import (
    PublishConflictError,
    PublishRejectedError,
    SdkReleaseError,
)
from portal.sdk.languages import Language
from portal.sdk.metrics import PUBLISH_FAILURES, PUBLISH_SECONDS
from portal.sdk.models import PublishOutcome, RegistryReading, StagedArtifact, VersionCheck
from portal.sdk.publishers import Publisher, build_publisher
from portal.sdk.staging import StagingStore
from portal.sdk.versions import VersionTooLowError, check_not_lower

log = logging.getLogger(__name__)


def _failure_reason(exc: SdkReleaseError) -> str:
    if isinstance(exc, PublishConflictError):
        return "conflict"
    if isinstance(exc, PublishRejectedError):
        return "rejected"
    return "unavailable"


class RegistryActivities:
    """Publish, confirm and read-latest activities for every registry."""

    def __init__(self, config: SdkConfig, staging: StagingStore) -> None:
        self._config = config
        self._staging = staging
        self._publishers: dict[Language, Publisher] = {}

    def _publisher(self, language: Language) -> Publisher:
        if language not in self._publishers:
            self._publishers[language] = build_publisher(language, self._config)
        return self._publishers[language]

    async def _with_files(self, artifact: StagedArtifact, action):
        folder = Path(tempfile.mkdtemp(prefix=f"sdk-publish-{artifact.language}-"))
        try:
            files = await asyncio.to_thread(self._staging.download, artifact, folder)
            return await action(files)
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    @activity.defn
    async def publish_artifact(self, artifact: StagedArtifact) -> PublishOutcome:
        """Publish the staged artifact to its registry; success when already there."""
        info = activity.info()
        publisher = self._publisher(artifact.language)
        log.info(
            "publish started language=%s version=%s workflow_id=%s attempt=%d",
            artifact.language,
            artifact.version,
            info.workflow_id,
            info.attempt,
        )
        started = time.monotonic()
        try:
            outcome = await self._with_files(
                artifact, lambda files: publisher.publish(artifact, files)
            )
        except SdkReleaseError as exc:
            PUBLISH_FAILURES.labels(artifact.language, _failure_reason(exc)).inc()
            log.warning(
                "publish failed language=%s version=%s workflow_id=%s attempt=%d "
                "retryable=%s error=%s",
                artifact.language,
                artifact.version,
                info.workflow_id,
                info.attempt,
                exc.retryable,
                exc.message,
            )
            raise exc.to_application_error() from None
        PUBLISH_SECONDS.labels(artifact.language).observe(time.monotonic() - started)
        log.info(
            "publish finished language=%s version=%s workflow_id=%s already_present=%s",
            artifact.language,
            artifact.version,
            info.workflow_id,
            outcome.already_present,
        )
        return outcome

    @activity.defn
    async def confirm_published(self, artifact: StagedArtifact) -> None:
        """Fail (retryably) until the registry serves the version with the staged content."""
        publisher = self._publisher(artifact.language)
        try:
            await self._with_files(artifact, lambda files: publisher.confirm(artifact, files))
        except SdkReleaseError as exc:
            log.info(
                "not confirmed yet language=%s version=%s workflow_id=%s error=%s",
                artifact.language,
                artifact.version,
                activity.info().workflow_id,
                exc.message,
            )
            raise exc.to_application_error() from None

    @activity.defn
    async def read_latest_version(self, language: Language) -> RegistryReading:
        """Return the highest release version the language's registry holds.

        An unreachable registry is reported in the reading instead of raised,
        so one registry that is down does not hide the others.
        """
        try:
            latest = await self._publisher(language).latest_version()
        except SdkReleaseError as exc:
            log.warning("registry unreadable language=%s error=%s", language, exc.message)
            return RegistryReading(language=language, reachable=False, error=exc.message)
        return RegistryReading(language=language, latest=latest)

    @activity.defn
    async def check_release_version(self, version: str) -> VersionCheck:
        """Reject `version` when it is lower than the latest release in any reachable registry.

        Raises:
            ApplicationError: `VersionTooLowError`, not retryable.
        """
        readings = await asyncio.gather(
            *(self.read_latest_version(language) for language in Language)
        )
        for reading in readings:
            try:
                check_not_lower(version, reading.latest, f"the {reading.language} registry")
            except VersionTooLowError as exc:
                log.warning("version rejected version=%s reason=%s", version, exc)
                raise ApplicationError(
                    str(exc), type="VersionTooLowError", non_retryable=True
                ) from None
        return VersionCheck(version=version, readings=list(readings))
