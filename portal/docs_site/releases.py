"""Start and inspect docs workflows: used by the API, the CLI, the demo and the worker."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from portal.docs_site.config import available_specs, cdn_providers
from portal.settings import Settings
from portal.temporal import SA_RELEASE_VERSION, TaskQueue, ensure_schedule
from workflows.docs_purge import DocsPurgeInput, DocsPurgeWorkflow
from workflows.docs_release import (
    DocsReleaseInput,
    DocsReleaseWorkflow,
    ReleaseOptions,
    ReleaseState,
    ReleaseStatus,
)
from workflows.edge_freshness import SCHEDULE_ID, EdgeFreshnessInput, EdgeFreshnessWorkflow

log = logging.getLogger(__name__)


def release_workflow_id(release_id: str) -> str:
    """Return the workflow id of a release: `docs-release-<release id>`."""
    return f"docs-release-{release_id}"


async def start_release(
    client: Client,
    settings: Settings,
    release_id: str,
    spec_names: list[str] | None,
    requested_by: str,
) -> WorkflowHandle:
    """Start DocsReleaseWorkflow for `release_id`.

    Args:
        client: Temporal client.
        settings: Portal settings; the release copies its tunables from them.
        release_id: New release id; a release id is used once, unless its release failed.
        spec_names: Documents of the spec folder to publish; all of them when None or empty.
        requested_by: Who asked, for logs and the workflow's summary.

    Raises:
        temporalio.exceptions.WorkflowAlreadyStartedError: If the release id exists.
        portal.docs_site.config.SpecNotFoundError: If no document is available.
    """
    from portal.docs_site.config import SpecNotFoundError, resolve_specs

    names = list(spec_names or available_specs(settings))
    if not names:
        raise SpecNotFoundError(f"no OpenAPI documents in {settings.docs_spec_dir}")
    resolve_specs(settings, names)
    params = DocsReleaseInput(
        release_id=release_id,
        spec_names=names,
        requested_by=requested_by,
        options=ReleaseOptions.from_settings(settings),
    )
    handle = await client.start_workflow(
        DocsReleaseWorkflow.run,
        params,
        id=release_workflow_id(release_id),
        task_queue=TaskQueue.DOCS,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(SA_RELEASE_VERSION, release_id)]
        ),
        static_summary=f"Docs release {release_id}",
        static_details=(
            f"Publish {', '.join(names)} as docs release {release_id} behind "
            f"{', '.join(params.options.providers)}; requested by {requested_by}."
        ),
    )
    log.info("docs release started release=%s workflow_id=%s", release_id, handle.id)
    return handle


async def start_purge(
    client: Client,
    settings: Settings,
    release_id: str | None,
    paths: list[str],
    requested_by: str,
) -> WorkflowHandle:
    """Start DocsPurgeWorkflow, id `docs-purge-<release id or site>-<8 hex digits>`."""
    params = DocsPurgeInput(
        release_id=release_id,
        paths=paths,
        providers=cdn_providers(settings),
        requested_by=requested_by,
        sample_pages=settings.docs_verify_sample_pages,
    )
    target = release_id or "site"
    handle = await client.start_workflow(
        DocsPurgeWorkflow.run,
        params,
        id=f"docs-purge-{target}-{uuid.uuid4().hex[:8]}",
        task_queue=TaskQueue.DOCS,
        search_attributes=TypedSearchAttributes(
            [SearchAttributePair(SA_RELEASE_VERSION, release_id)] if release_id else []
        ),
        static_summary=f"Manual docs purge of {target}",
        static_details=(
            f"Purge {', '.join(paths) or 'every cached object'} of {target} at "
            f"{', '.join(params.providers)}; requested by {requested_by}."
        ),
    )
    log.info("docs purge started target=%s workflow_id=%s", target, handle.id)
    return handle


async def release_status(client: Client, release_id: str) -> ReleaseStatus | None:
    """Return the state of a release, or None when no release has that id.

    Raises:
        RPCError: If the Temporal call fails.
    """
    handle = client.get_workflow_handle_for(
        DocsReleaseWorkflow.run, release_workflow_id(release_id)
    )
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if description.status == WorkflowExecutionStatus.RUNNING:
        status = await handle.query(DocsReleaseWorkflow.status)
        return status or ReleaseStatus(release_id=release_id)
    if description.status == WorkflowExecutionStatus.COMPLETED:
        return await handle.result()
    return ReleaseStatus(release_id=release_id, state=ReleaseState.FAILED)


async def ensure_freshness_schedule(client: Client, settings: Settings) -> None:
    """Create the schedule that compares the edge with the origin, or update its interval."""
    interval = timedelta(seconds=settings.docs_freshness_interval_seconds)
    action = ScheduleActionStartWorkflow(
        EdgeFreshnessWorkflow.run,
        EdgeFreshnessInput(sample_pages=settings.docs_verify_sample_pages),
        id="docs-edge-freshness-check",
        task_queue=TaskQueue.DOCS,
        execution_timeout=interval * 3,
        static_summary="Edge freshness check",
        static_details="Compare the CDN edge's manifest hash with the S3 origin's current release.",
    )
    schedule = Schedule(
        action=action,
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    if await ensure_schedule(client, SCHEDULE_ID, schedule):
        log.info("edge freshness schedule set every=%ss", interval.total_seconds())


async def bootstrap(settings: Settings, client: Client | None) -> list[str]:
    """Create what docs releases need: the bucket, the local distribution, the schedule.

    Every step is idempotent. Returns one line per step for the CLI to print.
    """
    from activities.cdn import create_cloudfront_client, ensure_local_distribution
    from activities.s3 import S3OriginActivities

    done = []
    await S3OriginActivities(settings).ensure_docs_origin()
    done.append(f"bucket {settings.docs_bucket} ready")
    if "cloudfront" in cdn_providers(settings):
        cloudfront = create_cloudfront_client(settings)
        distribution = await asyncio.to_thread(ensure_local_distribution, settings, cloudfront)
        done.append(f"CloudFront distribution {distribution} ready")
    if client is not None:
        await ensure_freshness_schedule(client, settings)
        done.append(
            f"schedule {SCHEDULE_ID} runs every {settings.docs_freshness_interval_seconds} s"
        )
    return done
