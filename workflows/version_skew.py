"""VersionSkewWorkflow: read the latest SDK version from every registry and export it.

A Temporal schedule (`sdk-version-skew`) runs it every few minutes. The
worker's metrics then carry one latest-version series per language, and the
alert `PortalSdkVersionSkew` fires when the languages disagree for longer
than a release takes.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.registries import RegistryActivities
    from activities.sdk_records import SdkRecordActivities
    from portal.sdk.models import VersionSkewInput, VersionSkewReport

VERSION_SKEW_SCHEDULE_ID = "sdk-version-skew"
_READ_RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1))


@workflow.defn
class VersionSkewWorkflow:
    """Compares the latest version of every registry once."""

    @workflow.run
    async def run(self, params: VersionSkewInput) -> VersionSkewReport:
        workflow.logger.info("version skew check started languages=%s", ",".join(params.languages))

        # Read every registry at once; an unreachable one is reported in its
        # reading, so the others still count.
        readings = await asyncio.gather(
            *(
                workflow.execute_activity_method(
                    RegistryActivities.read_latest_version,
                    language,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=_READ_RETRY,
                )
                for language in params.languages
            )
        )

        # Partial releases come from visibility, so the gauge survives worker restarts.
        partial = await workflow.execute_activity_method(
            SdkRecordActivities.count_partial_releases,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_READ_RETRY,
        )

        # A reachable registry without any release differs from one with a release.
        latest = {reading.latest for reading in readings if reading.reachable}
        report = VersionSkewReport(
            readings=list(readings), skewed=len(latest) > 1, partial_releases=partial
        )
        workflow.set_current_details(
            ", ".join(f"{reading.language}: {reading.latest or '-'}" for reading in readings)
        )

        # Metrics change in an activity: workflow code replays.
        await workflow.execute_activity_method(
            SdkRecordActivities.export_version_skew,
            report,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_READ_RETRY,
        )
        workflow.logger.info("version skew check finished skewed=%s", report.skewed)
        return report
