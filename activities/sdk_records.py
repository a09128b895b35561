"""Activities that record release outcomes and export SDK release metrics.

Metrics change here, in activities, and never in workflow code, which
replays.
"""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity
from temporalio.client import Client

from portal.sdk.errors import SdkReleaseError
from portal.sdk.metrics import (
    LATEST_VERSION_SEEN,
    REGISTRY_UP,
    RELEASES_FINISHED,
    RELEASES_PARTIAL,
    RELEASES_PARTIAL_OPEN,
)
from portal.sdk.models import ReleaseState, ReleaseStatus, VersionSkewReport
from portal.sdk.staging import StagingStore
from portal.temporal import SA_RELEASE_STATE

log = logging.getLogger(__name__)


class SdkRecordActivities:
    """Release records in the staging bucket, metrics, and visibility counts."""

    def __init__(self, staging: StagingStore, temporal: Client) -> None:
        self._staging = staging
        self._temporal = temporal
        self._latest_seen: dict[str, str] = {}

    @activity.defn
    async def record_release(self, status: ReleaseStatus) -> None:
        """Store the release's outcome so it outlives the workflow's history."""
        try:
            await asyncio.to_thread(self._staging.put_record, status)
        except SdkReleaseError as exc:
            log.warning("recording failed version=%s error=%s", status.version, exc.message)
            raise exc.to_application_error() from None
        log.info("release recorded version=%s state=%s", status.version, status.state)

    @activity.defn
    async def report_release_state(self, status: ReleaseStatus) -> None:
        """Count a release that turned partial or finished."""
        if status.state is ReleaseState.PARTIAL:
            RELEASES_PARTIAL.inc()
            log.warning(
                "release partial version=%s missing=%s workflow_id=%s",
                status.version,
                ",".join(status.missing()),
                status.workflow_id,
            )
        else:
            RELEASES_FINISHED.labels(status.state.value).inc()
            log.info("release finished version=%s state=%s", status.version, status.state)

    @activity.defn
    async def export_version_skew(self, report: VersionSkewReport) -> None:
        """Export the latest version per registry and the number of partial releases."""
        now = activity.info().current_attempt_scheduled_time.timestamp()
        for reading in report.readings:
            language = reading.language.value
            REGISTRY_UP.labels(language).set(1 if reading.reachable else 0)
            if not reading.reachable:
                continue
            # A registry without any release reports "none", which differs from
            # every version, so a language never published also counts as skew.
            latest = reading.latest or "none"
            previous = self._latest_seen.get(language)
            if previous is not None and previous != latest:
                LATEST_VERSION_SEEN.remove(language, previous)
            LATEST_VERSION_SEEN.labels(language, latest).set(now)
            self._latest_seen[language] = latest
        RELEASES_PARTIAL_OPEN.set(report.partial_releases)
        log.info(
            "version skew exported skewed=%s latest=%s partial_releases=%d",
            report.skewed,
            ",".join(f"{r.language}={r.latest}" for r in report.readings),
            report.partial_releases,
        )

    @activity.defn
    async def count_partial_releases(self) -> int:
        """Return how many release workflows wait in the partial state, from visibility."""
        query = (
            f"WorkflowType = 'SdkReleaseWorkflow' AND ExecutionStatus = 'Running' "
            f"AND {SA_RELEASE_STATE.name} = '{ReleaseState.PARTIAL.value}'"
        )
        count = await self._temporal.count_workflows(query)
        return count.count
