"""The SDK release part of the worker: activities, workflows and the version skew schedule."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from activities.issue_tracker import IssueTrackerActivities
from activities.registries import RegistryActivities
from activities.sdk_artifacts import SdkArtifactActivities
from activities.sdk_records import SdkRecordActivities
from portal.sdk.config import sdk_config
from portal.sdk.models import VersionSkewInput
from portal.sdk.s3 import s3_client
from portal.sdk.staging import StagingStore
from portal.sdk.tracker import IssueTracker
from portal.settings import Settings
from portal.temporal import TaskQueue, ensure_schedule
from workflows.sdk_release import SdkReleaseWorkflow
from workflows.version_skew import VERSION_SKEW_SCHEDULE_ID, VersionSkewWorkflow

if TYPE_CHECKING:
    from workers.registry import Registration, WorkerContext

log = logging.getLogger(__name__)

SDK_WORKFLOWS: list[type] = [SdkReleaseWorkflow, VersionSkewWorkflow]


def sdk_activities(settings: Settings, temporal: Client, tracker: IssueTracker) -> list:
    """Create every SDK release activity bound to its clients."""
    config = sdk_config(settings)
    staging = StagingStore(s3_client(config), config.staging_bucket, config.local_aws)
    artifacts = SdkArtifactActivities(config, staging)
    registries = RegistryActivities(config, staging)
    issues = IssueTrackerActivities(tracker)
    records = SdkRecordActivities(staging, temporal)
    return [
        artifacts.build_and_stage_artifact,
        registries.publish_artifact,
        registries.confirm_published,
        registries.read_latest_version,
        registries.check_release_version,
        issues.file_partial_release_issue,
        issues.note_on_release_issue,
        records.record_release,
        records.report_release_state,
        records.export_version_skew,
        records.count_partial_releases,
    ]


def build_tracker(settings: Settings) -> IssueTracker:
    """Create the GitHub Issues REST client the settings point at."""
    config = sdk_config(settings)
    return IssueTracker(config.tracker_url, config.tracker_repository, config.tracker_token)


async def sdk_registration(ctx: WorkerContext) -> Registration:
    """Create the SDK release activities and schedule the version skew check."""
    from workers.registry import Registration

    tracker = build_tracker(ctx.settings)
    ctx.exit_stack.push_async_callback(tracker.aclose)
    await ensure_version_skew_schedule(ctx.temporal, ctx.settings)
    return Registration(
        TaskQueue.SDK,
        workflows=list(SDK_WORKFLOWS),
        activities=sdk_activities(ctx.settings, ctx.temporal, tracker),
    )


async def ensure_version_skew_schedule(client: Client, settings: Settings) -> None:
    """Create the version skew schedule, or align its interval with the settings."""
    every = timedelta(seconds=settings.sdk_skew_check_interval_seconds)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            VersionSkewWorkflow.run,
            VersionSkewInput(),
            id=f"{VERSION_SKEW_SCHEDULE_ID}-run",
            task_queue=TaskQueue.SDK,
            static_summary="Compare the latest SDK version across registries",
            static_details="Reads PyPI, npm, the Go module tags and the Maven metadata; "
            "exports each latest version for the PortalSdkVersionSkew alert.",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    if await ensure_schedule(client, VERSION_SKEW_SCHEDULE_ID, schedule):
        log.info("version skew check scheduled every=%s", every)
