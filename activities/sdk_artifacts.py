"""Activities that build SDK artifacts with each toolchain and stage them in S3."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from pathlib import Path

from temporalio import activity

from portal.sdk.builds import build_artifact, package_name
from portal.sdk.config import SdkConfig
from portal.sdk.errors import SdkReleaseError
from portal.sdk.models import BuildInput, StagedArtifact
from portal.sdk.staging import StagingStore
from portal.sdk.versions import registry_version

log = logging.getLogger(__name__)


class SdkArtifactActivities:
    """Build-and-stage activities sharing the SDK configuration and the staging store."""

    def __init__(self, config: SdkConfig, staging: StagingStore) -> None:
        self._config = config
        self._staging = staging

    @activity.defn
    async def build_and_stage_artifact(self, params: BuildInput) -> StagedArtifact:
        """Build one language's SDK at the release version and stage it, once per version.

        A version staged by an earlier attempt or release run is returned as
        it is, so every publish of a version uploads the same bytes.
        """
        info = activity.info()
        staged = await asyncio.to_thread(
            self._staging.load_manifest, params.language, params.version
        )
        if staged is not None:
            log.info(
                "artifact already staged language=%s version=%s workflow_id=%s",
                params.language,
                params.version,
                info.workflow_id,
            )
            return staged

        log.info(
            "build started language=%s version=%s workflow_id=%s attempt=%d",
            params.language,
            params.version,
            info.workflow_id,
            info.attempt,
        )
        workdir = Path(tempfile.mkdtemp(prefix=f"sdk-{params.language}-"))
        try:
            files = await build_artifact(self._config, params.language, params.version, workdir)
            return await asyncio.to_thread(
                self._staging.stage,
                params.language,
                params.version,
                registry_version(params.language, params.version),
                package_name(params.language, self._config),
                files,
            )
        except SdkReleaseError as exc:
            log.warning(
                "build failed language=%s version=%s workflow_id=%s retryable=%s error=%s",
                params.language,
                params.version,
                info.workflow_id,
                exc.retryable,
                exc.message,
            )
            raise exc.to_application_error() from None
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)
