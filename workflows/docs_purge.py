"""DocsPurgeWorkflow: the manual purge on-call runs when the edge serves an old reference.

It records the edge's manifest hash before, purges every CDN, checks the edge
again until it serves the origin's current release, and signals that release's
DocsReleaseWorkflow to recheck, so a release left open as stale completes.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.cdn import (
        CdnActivities,
        EdgeCheckInput,
        EdgeCheckResult,
        PurgeRequest,
        PurgeResult,
        public_paths,
    )
    from activities.docs_releases import ReleaseSignalActivities
    from portal.docs_site import RELEASE_ID_PATTERN
    from portal.docs_site.config import POINTER_SURROGATE_KEY, SITE_KEY, release_key
    from workflows.docs_release import (
        QUICK_RETRY,
        edge_check_input,
        purge_cdn,
        read_current_manifest,
    )


class DocsPurgeInput(BaseModel):
    """Input of DocsPurgeWorkflow."""

    release_id: str | None = Field(
        None,
        pattern=RELEASE_ID_PATTERN,
        description="Release whose objects to purge; None purges the whole docs site.",
    )
    paths: list[str] = Field(
        default_factory=list, description="Public paths to purge; a trailing `*` is a prefix."
    )
    providers: list[str] = Field(default_factory=lambda: ["varnish", "cloudfront"])
    requested_by: str = "portal"
    sample_pages: int = Field(4, ge=1)
    verify_attempts: int = Field(5, ge=1)
    verify_interval_seconds: float = Field(2.0, gt=0)


class DocsPurgeResult(BaseModel):
    """The edge before and after the purge."""

    current_release_id: str
    manifest_sha256: str
    before: EdgeCheckResult
    after: EdgeCheckResult
    purges: list[PurgeResult] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)

    @property
    def fresh(self) -> bool:
        """True when the edge serves the origin's current release after the purge."""
        return self.after.fresh


def purge_request(
    params: DocsPurgeInput, provider: str, reference: str, pages: list[str]
) -> PurgeRequest:
    """Return what to purge at `provider` for a manual purge.

    Varnish purges by surrogate key (the release's, or the whole site's) and bans
    explicit paths; CloudFront invalidates explicit paths, else the release's pages.
    The release pointer is always purged, because every public path resolves through it.
    """
    if params.paths:
        keys = [POINTER_SURROGATE_KEY]
    elif params.release_id:
        keys = [release_key(params.release_id), POINTER_SURROGATE_KEY]
    else:
        keys = [SITE_KEY]
    if provider == "cloudfront":
        paths = params.paths or (pages if params.release_id else ["/*"])
        return PurgeRequest(provider=provider, caller_reference=reference, paths=paths)
    return PurgeRequest(
        provider=provider, caller_reference=reference, surrogate_keys=keys, paths=params.paths
    )


@workflow.defn
class DocsPurgeWorkflow:
    """Purges the CDN on request and reports the edge's manifest hash before and after."""

    @workflow.run
    async def run(self, params: DocsPurgeInput) -> DocsPurgeResult:
        workflow_id = workflow.info().workflow_id
        workflow.logger.info(
            "manual purge started release=%s paths=%d requested_by=%s",
            params.release_id,
            len(params.paths),
            params.requested_by,
        )

        # The edge is fresh when it serves what the origin's pointer names.
        found = await read_current_manifest()
        if found is None:
            raise ApplicationError(
                "the docs origin has no current release; publish one first",
                type="NoCurrentRelease",
                non_retryable=True,
            )
        current, manifest = found
        expected = edge_check_input(manifest, params.sample_pages)

        before = await self._check(expected)
        workflow.set_current_details(
            f"**purging**: edge serves {before.edge_release_id} "
            f"({before.edge_manifest_sha256}), origin {current.release_id}"
        )

        # One caller reference per purge workflow: a retried activity purges once.
        result = DocsPurgeResult(
            current_release_id=current.release_id,
            manifest_sha256=current.manifest_sha256,
            before=before,
            after=before,
        )
        pages = public_paths(manifest)
        for provider in params.providers:
            request = purge_request(params, provider, workflow_id, pages)
            try:
                purged = await purge_cdn(request)
            except ActivityError as exc:
                message = f"{provider}: {exc.cause or exc}"
                workflow.logger.warning("manual purge failed %s", message)
                result.errors.append(message)
                continue
            result.purges.append(purged)

        # CDNs apply purges within seconds, not at once: check a few times.
        for attempt in range(params.verify_attempts):
            result.after = await self._check(expected)
            if result.after.fresh:
                break
            if attempt + 1 < params.verify_attempts:
                await workflow.sleep(timedelta(seconds=params.verify_interval_seconds))

        # A release left open as stale finishes only after its own edge check passes.
        if result.after.fresh:
            await workflow.execute_activity_method(
                ReleaseSignalActivities.recheck_stale_releases,
                f"manual purge {workflow_id}",
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=QUICK_RETRY,
            )
        workflow.set_current_details(
            f"**{'fresh' if result.after.fresh else 'stale'}**: edge serves "
            f"{result.after.edge_release_id} ({result.after.edge_manifest_sha256})"
        )
        workflow.logger.info(
            "manual purge finished release=%s fresh=%s errors=%d",
            current.release_id,
            result.after.fresh,
            len(result.errors),
        )
        return result

    async def _check(self, expected: EdgeCheckInput) -> EdgeCheckResult:
        return await workflow.execute_activity_method(
            CdnActivities.check_edge,
            expected,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=QUICK_RETRY,
        )
