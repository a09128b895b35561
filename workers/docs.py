"""The docs task queue: release, purge and freshness workflows with their activities."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from activities.cdn import CdnActivities
from activities.docs_build import DocsBuildActivities
from activities.docs_releases import ReleaseSignalActivities
from activities.s3 import S3OriginActivities
from portal.temporal import TaskQueue
from workflows.docs_purge import DocsPurgeWorkflow
from workflows.docs_release import DocsReleaseWorkflow
from workflows.edge_freshness import EdgeFreshnessWorkflow

if TYPE_CHECKING:
    from workers.registry import Registration, WorkerContext

log = logging.getLogger(__name__)

DOCS_WORKFLOWS: list[type] = [DocsReleaseWorkflow, DocsPurgeWorkflow, EdgeFreshnessWorkflow]


async def build_docs_registration(ctx: WorkerContext) -> Registration:
    """Create the docs activities and bootstrap the origin and the freshness schedule.

    The bootstrap is best effort: a release creates the bucket itself, and a
    worker must start even while S3 or Temporal's schedules are briefly down.
    """
    from portal.docs_site.releases import bootstrap
    from workers.registry import Registration

    settings = ctx.settings
    origin = S3OriginActivities(settings)
    builder = DocsBuildActivities(settings)
    cdn = CdnActivities(settings)
    ctx.exit_stack.push_async_callback(cdn.aclose)
    signals = ReleaseSignalActivities(ctx.temporal)
    try:
        for line in await bootstrap(settings, ctx.temporal):
            log.info("docs bootstrap: %s", line)
    except Exception as exc:  # noqa: BLE001 - the worker must start; releases retry this
        log.warning("docs bootstrap failed, releases will retry it error=%r", exc)
    return Registration(
        TaskQueue.DOCS,
        workflows=list(DOCS_WORKFLOWS),
        activities=[
            origin.ensure_docs_origin,
            origin.upload_release_files,
            origin.switch_current_release,
            origin.read_current_release,
            origin.read_release_manifest,
            builder.build_docs_site,
            cdn.ensure_cloudfront_distribution,
            cdn.purge_cdn,
            cdn.check_edge,
            cdn.record_release_stale,
            signals.recheck_stale_releases,
        ],
    )
