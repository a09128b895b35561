"""Docs releases behind the CDN: `/v1/docs/releases`.

DevRel publishes a release (`POST`), watches its state (`GET`), and purges
the CDN when the edge still serves an older reference (`POST .../purge`).
Each call starts or reads a Temporal workflow. When Temporal is down, the
API returns 503 with `Retry-After` within a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field, StringConstraints
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.deps import get_settings, get_temporal
from api.problems import DependencyUnavailable, Problem
from api.security import PortalUser, require_role
from portal.docs_site import RELEASE_ID_PATTERN
from portal.docs_site.config import SPEC_NAME_PATTERN, SpecNotFoundError, cdn_providers
from portal.docs_site.releases import (
    release_status,
    release_workflow_id,
    start_purge,
    start_release,
)
from portal.settings import Settings
from workflows.docs_release import ReleaseState, ReleaseStatus

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/docs/releases", tags=["docs"])

DEVREL = "devrel"
# Every endpoint here is for DevRel, because a release changes the reference every reader gets.
require_devrel = require_role(DEVREL)
TEMPORAL_TIMEOUT_SECONDS = 5.0
LIST_LIMIT = 50
T = TypeVar("T")


class DocsReleaseRequest(BaseModel):
    """A docs release to publish."""

    release_id: str = Field(
        ...,
        pattern=RELEASE_ID_PATTERN,
        description="New release id: 1 to 63 letters, digits, `.`, `_` or `-`.",
        examples=["2025.06.1"],
    )
    specs: list[Annotated[str, StringConstraints(pattern=SPEC_NAME_PATTERN)]] | None = Field(
        None,
        max_length=50,
        description="OpenAPI documents of the portal's spec folder to publish; all by default.",
        examples=[["twilio_verify_v2.json"]],
    )


class PurgeRequestBody(BaseModel):
    """Paths to purge; an empty list purges every cached object of the release."""

    paths: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Public paths such as `/reference/twilio-verify-v2.html`; `*` at the end "
        "matches a prefix.",
    )


class DocsReleaseView(BaseModel):
    """A docs release as the API reports it."""

    release_id: str
    workflow_id: str
    state: ReleaseState
    edges: dict[str, str] = Field(
        default_factory=dict, description="State per CDN: pending, purged, purge failed, fresh."
    )
    manifest_sha256: str | None = None
    previous_release_id: str | None = None
    files_total: int = 0
    files_uploaded: int = 0
    files_skipped: int = 0
    purge_rounds: int = 0
    edge_release_id: str | None = Field(None, description="Release the edge served last check.")
    edge_manifest_sha256: str | None = None
    stale_paths: list[str] = Field(default_factory=list)
    last_checked_at: str | None = None
    stale_since: str | None = None
    purge_errors: list[str] = Field(default_factory=list)


class PurgeStarted(BaseModel):
    """A manual purge that started."""

    workflow_id: str
    release_id: str


def release_view(status: ReleaseStatus, providers: list[str]) -> DocsReleaseView:
    """Turn the workflow's status into the API's view of a release."""
    check = status.last_check
    purged = {result.provider for result in status.purges}
    failed = {error.split(" ", 1)[0] for error in status.purge_errors}
    edges = {}
    for provider in providers:
        if status.state == ReleaseState.FRESH:
            edges[provider] = "fresh"
        elif provider in failed and status.state == ReleaseState.STALE:
            edges[provider] = "purge failed"
        elif provider in purged:
            edges[provider] = "purged"
        else:
            edges[provider] = "pending"
    return DocsReleaseView(
        release_id=status.release_id,
        workflow_id=release_workflow_id(status.release_id),
        state=status.state,
        edges=edges,
        manifest_sha256=status.manifest_sha256,
        previous_release_id=status.previous_release_id,
        files_total=status.files_total,
        files_uploaded=len(status.files_uploaded),
        files_skipped=len(status.files_skipped),
        purge_rounds=status.purge_rounds,
        edge_release_id=check.edge_release_id if check else None,
        edge_manifest_sha256=check.edge_manifest_sha256 if check else None,
        stale_paths=check.stale_paths if check else [],
        last_checked_at=status.last_checked_at.isoformat() if status.last_checked_at else None,
        stale_since=status.stale_since.isoformat() if status.stale_since else None,
        purge_errors=status.purge_errors,
    )


async def _temporal(call: Awaitable[T]) -> T:
    """Await a Temporal call, turning an outage into a fast 503."""
    try:
        return await asyncio.wait_for(call, TEMPORAL_TIMEOUT_SECONDS)
    except (TimeoutError, RPCError, RuntimeError) as exc:
        log.warning("temporal unavailable for docs releases error=%r", exc)
        raise DependencyUnavailable("temporal", retry_after=5) from None


def invalid_body(field: str, message: str) -> Problem:
    """Return the 400 problem for one invalid body field, in the shape of validation errors."""
    return Problem(
        400,
        "Invalid request",
        f"Invalid value for {field}: {message}",
        type_="invalid-request",
        errors=[{"field": field, "in": "body", "message": message}],
    )


def _not_found(release_id: str) -> Problem:
    return Problem(
        404,
        "Release not found",
        f"No docs release has id {release_id!r}. List releases with GET /v1/docs/releases.",
        type_="docs-release-not-found",
        release_id=release_id,
    )


@router.post(
    "",
    status_code=202,
    summary="Publish a docs release",
    responses={409: {"description": "The release id is taken"}},
)
async def publish_release(
    body: DocsReleaseRequest,
    response: Response,
    user: PortalUser = Depends(require_devrel),
    temporal: Client = Depends(get_temporal),
    settings: Settings = Depends(get_settings),
) -> DocsReleaseView:
    """Build, upload, switch, purge and verify a release; poll its `Location` for the state."""
    names = body.specs or []
    try:
        await _temporal(
            start_release(temporal, settings, body.release_id, names, requested_by=user.user_id)
        )
    except SpecNotFoundError as exc:
        raise invalid_body("specs", str(exc)) from None
    except WorkflowAlreadyStartedError:
        raise Problem(
            409,
            "Release exists",
            f"Docs release {body.release_id!r} was already published or is in progress. "
            f"Read it with GET /v1/docs/releases/{body.release_id}, or pick a new release id.",
            type_="docs-release-exists",
            release_id=body.release_id,
        ) from None
    log.info("docs release requested release=%s user=%s", body.release_id, user.user_id)
    response.headers["Location"] = f"/v1/docs/releases/{body.release_id}"
    return release_view(ReleaseStatus(release_id=body.release_id), cdn_providers(settings))


@router.get("", summary="List recent docs releases")
async def list_releases(
    user: PortalUser = Depends(require_devrel),
    temporal: Client = Depends(get_temporal),
    settings: Settings = Depends(get_settings),
) -> dict[str, list[DocsReleaseView]]:
    """Return the most recent releases, newest first, with their state."""
    query = "WorkflowType = 'DocsReleaseWorkflow'"

    async def collect() -> list[str]:
        ids = []
        async for execution in temporal.list_workflows(query, limit=LIST_LIMIT):
            if execution.status in (
                WorkflowExecutionStatus.RUNNING,
                WorkflowExecutionStatus.COMPLETED,
                WorkflowExecutionStatus.FAILED,
            ):
                ids.append(execution.id.removeprefix("docs-release-"))
        return list(dict.fromkeys(ids))

    views = []
    for release_id in await _temporal(collect()):
        status = await _temporal(release_status(temporal, release_id))
        if status is not None:
            views.append(release_view(status, cdn_providers(settings)))
    return {"releases": views}


@router.get("/{release_id}", summary="Read a docs release's state")
async def read_release(
    release_id: str = Path(..., pattern=RELEASE_ID_PATTERN),
    temporal: Client = Depends(get_temporal),
    settings: Settings = Depends(get_settings),
    user: PortalUser = Depends(require_devrel),
) -> DocsReleaseView:
    """Return the state of a release: uploaded, purged, fresh at the edge, or stale."""
    status = await _temporal(release_status(temporal, release_id))
    if status is None:
        raise _not_found(release_id)
    return release_view(status, cdn_providers(settings))


@router.post("/{release_id}/purge", status_code=202, summary="Purge a release from the CDN")
async def purge_release(
    body: PurgeRequestBody | None = None,
    release_id: str = Path(..., pattern=RELEASE_ID_PATTERN),
    temporal: Client = Depends(get_temporal),
    settings: Settings = Depends(get_settings),
    user: PortalUser = Depends(require_devrel),
) -> PurgeStarted:
    """Start a manual purge of the release's objects at every CDN and verify the edge after."""
    from activities.cdn import plan_invalidation_paths

    paths = body.paths if body else []
    try:
        plan_invalidation_paths(paths)
    except ValueError as exc:
        raise invalid_body("paths", str(exc)) from None
    if await _temporal(release_status(temporal, release_id)) is None:
        raise _not_found(release_id)
    handle = await _temporal(
        start_purge(temporal, settings, release_id, paths, requested_by=user.user_id)
    )
    log.info("docs purge requested release=%s user=%s", release_id, user.user_id)
    return PurgeStarted(workflow_id=handle.id, release_id=release_id)
