"""DocsReleaseWorkflow: publish a docs release behind the CDN and prove the edge serves it.

Build the site, upload it to the S3 origin, switch the release pointer, purge
every CDN, then fetch through the edge until it serves the new manifest. When
purges keep failing the workflow stays open as stale, visible in the Temporal
UI and in `portal_docs_release_stale`, and finishes as soon as a later check
or a manual purge (`portal docs purge`) finds the edge fresh.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.cdn import (
        CdnActivities,
        EdgeCheckInput,
        EdgeCheckResult,
        PurgeRequest,
        PurgeResult,
        SamplePage,
        public_paths,
    )
    from activities.docs_build import BuildSiteInput, DocsBuildActivities
    from activities.s3 import (
        CurrentRelease,
        S3OriginActivities,
        SwitchReleaseInput,
        UploadBatchInput,
    )
    from portal.docs_site import MANIFEST_NAME, RELEASE_ID_PATTERN, Manifest
    from portal.docs_site.config import SITE_KEY, release_key
    from portal.settings import Settings
    from portal.temporal import SA_EDGE_STATE, SA_RELEASE_STATE

# After this many stale rechecks the workflow continues as new, so its history
# stays short however long the edge stays stale.
RECHECKS_PER_RUN = 200
QUICK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=3
)
# CloudFront returns TooManyInvalidationsInProgress for minutes at a time.
CLOUDFRONT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=10,
)
UPLOAD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["DocsBuildError"],
)


class ReleaseState(StrEnum):
    """Stages of a release; `GET /v1/docs/releases/{id}` reports them."""

    BUILDING = "building"
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    PURGED = "purged"
    FRESH = "fresh"
    STALE = "stale"
    SUPERSEDED = "superseded"
    FAILED = "failed"


class ReleaseOptions(BaseModel):
    """Tunables of a release, copied from settings by the API or CLI that starts it."""

    providers: list[str] = Field(default_factory=lambda: ["varnish", "cloudfront"])
    upload_batch_size: int = Field(4, ge=1)
    sample_pages: int = Field(4, ge=1)
    purge_rounds: int = Field(4, ge=1)
    purge_backoff_seconds: float = Field(2.0, gt=0)
    stale_recheck_seconds: int = Field(60, ge=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReleaseOptions:
        """Read the options from the `PORTAL_DOCS_*` settings."""
        from portal.docs_site.config import cdn_providers

        return cls(
            providers=cdn_providers(settings),
            upload_batch_size=settings.docs_upload_batch_size,
            sample_pages=settings.docs_verify_sample_pages,
            purge_rounds=settings.docs_purge_rounds,
            purge_backoff_seconds=settings.docs_purge_backoff_seconds,
            stale_recheck_seconds=settings.docs_stale_recheck_seconds,
        )


class ReleaseStatus(BaseModel):
    """Progress of a release, as the `status` query and the result report it."""

    release_id: str
    state: ReleaseState = ReleaseState.BUILDING
    manifest_sha256: str | None = None
    files_total: int = 0
    files_uploaded: list[str] = Field(default_factory=list)
    files_skipped: list[str] = Field(default_factory=list)
    previous_release_id: str | None = None
    purge_rounds: int = 0
    purges: list[PurgeResult] = Field(default_factory=list)
    purge_errors: list[str] = Field(default_factory=list)
    last_check: EdgeCheckResult | None = None
    last_checked_at: datetime | None = None
    stale_since: datetime | None = None
    finished_at: datetime | None = None


class DocsReleaseInput(BaseModel):
    """Input of DocsReleaseWorkflow."""

    release_id: str = Field(pattern=RELEASE_ID_PATTERN)
    spec_names: list[str] = Field(min_length=1)
    requested_by: str = "portal"
    options: ReleaseOptions = Field(default_factory=ReleaseOptions)
    # Set only when the workflow continues as new while the edge is stale.
    manifest: Manifest | None = None
    status: ReleaseStatus | None = None


def sample_pages(manifest: Manifest, count: int) -> list[SamplePage]:
    """Pick the files an edge check fetches: the index, other pages, then one asset."""
    pages = [entry for entry in manifest.files if not entry.immutable]
    pages.sort(key=lambda entry: (entry.path != "index.html", entry.path))
    chosen = pages[:count]
    assets = [entry for entry in manifest.files if entry.immutable]
    if assets:
        chosen.append(assets[0])
    return [SamplePage(path=entry.path, sha256=entry.sha256) for entry in chosen]


def edge_check_input(manifest: Manifest, count: int) -> EdgeCheckInput:
    """Return what the edge must serve for `manifest` to count as fresh."""
    return EdgeCheckInput(
        release_id=manifest.release_id,
        manifest_sha256=manifest.manifest_sha256,
        samples=sample_pages(manifest, count),
    )


async def purge_cdn(request: PurgeRequest) -> PurgeResult:
    """Run the purge activity of one CDN, with the retries that CDN needs.

    Raises:
        ActivityError: When the CDN keeps rejecting or failing the purge.
    """
    return await workflow.execute_activity_method(
        CdnActivities.purge_cdn,
        request,
        start_to_close_timeout=timedelta(minutes=20),
        heartbeat_timeout=timedelta(minutes=1),
        retry_policy=CLOUDFRONT_RETRY if request.provider == "cloudfront" else QUICK_RETRY,
    )


async def read_current_manifest() -> tuple[CurrentRelease, Manifest] | None:
    """Return the origin's current release and its manifest; None before the first release.

    Raises:
        ApplicationError: non-retryable, when the pointer names a release with no manifest.
    """
    current = await workflow.execute_activity_method(
        S3OriginActivities.read_current_release,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=QUICK_RETRY,
    )
    if current is None:
        return None
    manifest = await workflow.execute_activity_method(
        S3OriginActivities.read_release_manifest,
        current.release_id,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=QUICK_RETRY,
    )
    if manifest is None:
        raise ApplicationError(
            f"the origin's pointer names release {current.release_id}, which has no manifest",
            type="ReleaseIncomplete",
            non_retryable=True,
        )
    return current, manifest


@workflow.defn
class DocsReleaseWorkflow:
    """Publishes one docs release: build, upload, switch, purge, verify the edge."""

    def __init__(self) -> None:
        self._status: ReleaseStatus | None = None
        self._recheck_requested = False

    @workflow.query
    def status(self) -> ReleaseStatus | None:
        """Return the release's progress."""
        return self._status

    @workflow.signal
    def recheck_edge(self, reason: str) -> None:
        """Check the edge now instead of at the next timer, as after a manual purge."""
        workflow.logger.info("edge recheck requested reason=%s", reason)
        self._recheck_requested = True

    @workflow.run
    async def run(self, params: DocsReleaseInput) -> ReleaseStatus:
        self._status = params.status or ReleaseStatus(release_id=params.release_id)
        status = self._status
        options = params.options
        if params.manifest is not None and status.state == ReleaseState.STALE:
            workflow.logger.info("release continues stale wait release=%s", params.release_id)
            return await self._wait_until_fresh(params, params.manifest)
        workflow.logger.info(
            "release started release=%s specs=%s requested_by=%s",
            params.release_id,
            params.spec_names,
            params.requested_by,
        )

        # The bucket may not exist yet on a fresh stack; creating it is idempotent.
        await workflow.execute_activity_method(
            S3OriginActivities.ensure_docs_origin,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=QUICK_RETRY,
        )

        await self._set_state(ReleaseState.BUILDING, "rendering the reference pages")
        manifest = await workflow.execute_activity_method(
            DocsBuildActivities.build_docs_site,
            BuildSiteInput(release_id=params.release_id, spec_names=params.spec_names),
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(
                maximum_attempts=3, non_retryable_error_types=["DocsBuildError"]
            ),
        )
        status.manifest_sha256 = manifest.manifest_sha256
        status.files_total = len(manifest.files) + 1

        # The manifest goes last, so an origin that has it has the whole release.
        await self._set_state(ReleaseState.UPLOADING, f"uploading {status.files_total} files")
        paths = [entry.path for entry in manifest.files]
        size = options.upload_batch_size
        for batch in [paths[i : i + size] for i in range(0, len(paths), size)] + [[MANIFEST_NAME]]:
            await self._upload(params, manifest, batch)

        # One PUT of the pointer object: readers see the old release or the new one.
        pointer = await workflow.execute_activity_method(
            S3OriginActivities.switch_current_release,
            SwitchReleaseInput(
                release_id=params.release_id, manifest_sha256=manifest.manifest_sha256
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=QUICK_RETRY,
        )
        status.previous_release_id = pointer.previous_release_id
        await self._set_state(ReleaseState.UPLOADED, "origin switched; purging the CDN")

        # Purge, then prove it through the edge; back off between rounds because
        # a CDN that rejected a purge rarely accepts it a second later.
        backoff = options.purge_backoff_seconds
        for round_number in range(1, options.purge_rounds + 1):
            await self._purge(params, manifest, f"docs-release-{params.release_id}-{round_number}")
            if await self._check(manifest, options):
                return await self._finish_fresh()
            if round_number < options.purge_rounds:
                await workflow.sleep(timedelta(seconds=backoff))
                backoff *= 2

        return await self._wait_until_fresh(params, manifest)

    async def _upload(self, params: DocsReleaseInput, manifest: Manifest, batch: list[str]) -> None:
        status = self._status
        assert status is not None
        result = await workflow.execute_activity_method(
            S3OriginActivities.upload_release_files,
            UploadBatchInput(
                release_id=params.release_id,
                manifest_sha256=manifest.manifest_sha256,
                spec_names=params.spec_names,
                paths=batch,
            ),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=20),
            retry_policy=UPLOAD_RETRY,
        )
        status.files_uploaded += result.uploaded
        status.files_skipped += result.skipped
        done = len(status.files_uploaded) + len(status.files_skipped)
        workflow.set_current_details(
            f"**uploading** release {params.release_id}: {done} of {status.files_total} files"
        )

    async def _purge(self, params: DocsReleaseInput, manifest: Manifest, reference: str) -> None:
        status = self._status
        assert status is not None
        status.purge_rounds += 1
        for provider in params.options.providers:
            request = PurgeRequest(
                provider=provider,
                caller_reference=reference,
                surrogate_keys=[release_key(params.release_id), SITE_KEY],
                paths=public_paths(manifest) if provider == "cloudfront" else [],
            )
            try:
                result = await purge_cdn(request)
            except ActivityError as exc:
                message = f"{provider} purge {reference} failed: {exc.cause or exc}"
                workflow.logger.warning("purge failed release=%s %s", params.release_id, message)
                status.purge_errors = (status.purge_errors + [message])[-10:]
                continue
            status.purges = (status.purges + [result])[-10:]
        if status.stale_since is None:
            await self._set_state(ReleaseState.PURGED, f"purge round {status.purge_rounds} sent")

    async def _check(self, manifest: Manifest, options: ReleaseOptions) -> bool:
        status = self._status
        assert status is not None
        check = await workflow.execute_activity_method(
            CdnActivities.check_edge,
            edge_check_input(manifest, options.sample_pages),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=QUICK_RETRY,
        )
        status.last_check = check
        status.last_checked_at = workflow.now()
        return check.fresh

    async def _wait_until_fresh(
        self, params: DocsReleaseInput, manifest: Manifest
    ) -> ReleaseStatus:
        status = self._status
        assert status is not None
        options = params.options
        if status.stale_since is None:
            status.stale_since = workflow.now()
            await self._set_state(ReleaseState.STALE, self._stale_details())
            await self._record_stale(True)
            workflow.logger.warning(
                "edge stale after purges release=%s edge_release=%s",
                params.release_id,
                status.last_check.edge_release_id if status.last_check else None,
            )

        for _ in range(RECHECKS_PER_RUN):
            # Wake on the timer, or at once when a manual purge signals.
            try:
                await workflow.wait_condition(
                    lambda: self._recheck_requested,
                    timeout=timedelta(seconds=options.stale_recheck_seconds),
                )
            except TimeoutError:
                pass
            signalled, self._recheck_requested = self._recheck_requested, False

            # A newer release owns the edge now; this one has nothing left to prove.
            current = await self._current_release()
            if current is not None and current.release_id != params.release_id:
                await self._record_stale(False)
                status.finished_at = workflow.now()
                await self._set_state(
                    ReleaseState.SUPERSEDED, f"superseded by release {current.release_id}"
                )
                return status

            if await self._check(manifest, options):
                return await self._finish_fresh()

            # A timer wake-up tries the purge again; a signal means someone just purged.
            if not signalled:
                reference = f"docs-release-{params.release_id}-{status.purge_rounds + 1}"
                await self._purge(params, manifest, reference)
                if await self._check(manifest, options):
                    return await self._finish_fresh()
            await self._set_state(ReleaseState.STALE, self._stale_details())

        workflow.logger.info("release continues as new while stale release=%s", params.release_id)
        workflow.continue_as_new(
            DocsReleaseInput(
                release_id=params.release_id,
                spec_names=params.spec_names,
                requested_by=params.requested_by,
                options=options,
                manifest=manifest,
                status=status,
            )
        )

    async def _current_release(self) -> CurrentRelease | None:
        return await workflow.execute_activity_method(
            S3OriginActivities.read_current_release,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=QUICK_RETRY,
        )

    async def _finish_fresh(self) -> ReleaseStatus:
        status = self._status
        assert status is not None
        was_stale = status.stale_since is not None
        status.finished_at = workflow.now()
        await self._set_state(ReleaseState.FRESH, "the edge serves this release")
        if was_stale:
            await self._record_stale(False)
        workflow.logger.info(
            "release fresh at the edge release=%s purge_rounds=%d",
            status.release_id,
            status.purge_rounds,
        )
        return status

    async def _record_stale(self, stale: bool) -> None:
        await workflow.execute_activity_method(
            CdnActivities.record_release_stale,
            stale,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=QUICK_RETRY,
        )

    def _stale_details(self) -> str:
        status = self._status
        assert status is not None
        check = status.last_check
        served = check.edge_release_id if check else None
        problem = (
            check.error if check else None
        ) or f"stale paths {check.stale_paths if check else []}"
        errors = status.purge_errors[-1] if status.purge_errors else "none"
        return (
            f"**stale** since {status.stale_since:%Y-%m-%d %H:%M:%S} UTC: the edge serves release "
            f"{served}, the origin {status.release_id} ({problem}). Last purge error: {errors}. "
            f"Fix the edge, then run `portal docs purge --release {status.release_id}`."
        )

    async def _set_state(self, state: ReleaseState, details: str) -> None:
        status = self._status
        assert status is not None
        status.state = state
        edge = {ReleaseState.FRESH: "fresh", ReleaseState.STALE: "stale"}.get(state, "unknown")
        workflow.upsert_search_attributes(
            [SA_RELEASE_STATE.value_set(state.value), SA_EDGE_STATE.value_set(edge)]
        )
        workflow.set_current_details(f"**{state.value}** release {status.release_id}: {details}")
