"""EdgeFreshnessWorkflow: the scheduled comparison of the edge's manifest with the origin's.

A Temporal schedule (`docs-edge-freshness`) runs it every minute. Each run
sets `portal_docs_edge_stale` for the site, which the PortalDocsEdgeStale
alert watches, and nudges an open release to recheck once the edge is fresh.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.cdn import CdnActivities, EdgeCheckResult
    from activities.docs_releases import ReleaseSignalActivities
    from workflows.docs_release import QUICK_RETRY, edge_check_input, read_current_manifest

SCHEDULE_ID = "docs-edge-freshness"


class EdgeFreshnessInput(BaseModel):
    """Input of EdgeFreshnessWorkflow."""

    sample_pages: int = 4


class EdgeFreshnessResult(BaseModel):
    """Outcome of one comparison; `release_id` is None before the first release."""

    release_id: str | None = None
    check: EdgeCheckResult | None = None


@workflow.defn
class EdgeFreshnessWorkflow:
    """Compares the manifest hash the edge serves with the origin's current release."""

    @workflow.run
    async def run(self, params: EdgeFreshnessInput) -> EdgeFreshnessResult:
        found = await read_current_manifest()
        if found is None:
            workflow.logger.info("no docs release yet; nothing to compare")
            return EdgeFreshnessResult()
        current, manifest = found

        # The activity exports the gauge; the alert rule does the waiting.
        check = await workflow.execute_activity_method(
            CdnActivities.check_edge,
            edge_check_input(manifest, params.sample_pages),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=QUICK_RETRY,
        )

        # An open release stays stale until its own edge check passes.
        if check.fresh:
            await workflow.execute_activity_method(
                ReleaseSignalActivities.recheck_stale_releases,
                "freshness schedule",
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=QUICK_RETRY,
            )

        return EdgeFreshnessResult(release_id=current.release_id, check=check)
