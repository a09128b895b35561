"""SDK releases in every language: `/v1/sdk/releases`.

DevRel starts a release (`POST`), reads each language's state (`GET`), and
finishes a partial release by retrying the missing languages or abandoning
it. Each call starts, queries or updates the release's Temporal workflow.
When Temporal or the staging bucket is down, the API returns 503 with
`Retry-After`.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field
from temporalio.client import Client

from api.deps import get_settings, get_temporal
from api.problems import DependencyUnavailable, Problem
from api.security import PortalUser, require_role
from portal.sdk.errors import SdkReleaseError
from portal.sdk.languages import Language
from portal.sdk.models import ReleaseState, ReleaseStatus
from portal.sdk.releases import (
    ReleaseNotFoundError,
    ReleaseStateError,
    ReleaseSummary,
    abandon_release,
    list_releases,
    release_status,
    retry_release,
    start_release,
)
from portal.sdk.versions import VERSION_PATTERN, VersionTooLowError
from portal.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/sdk/releases", tags=["sdk"])

# Every endpoint is for DevRel: a release changes what every SDK user installs.
require_devrel = require_role("devrel")
VersionPath = Path(
    ...,
    pattern=VERSION_PATTERN,
    description="Release version: MAJOR.MINOR.PATCH, optionally -alpha.N, -beta.N or -rc.N.",
    examples=["1.4.0"],
)
# Seconds retry and abandon wait for the workflow's result before returning the current state.
RETRY_WAIT_SECONDS = 120.0
ABANDON_WAIT_SECONDS = 30.0


class ReleaseRequest(BaseModel):
    """An SDK release to publish."""

    version: str = Field(
        ...,
        pattern=VERSION_PATTERN,
        description="Version to publish: MAJOR.MINOR.PATCH, optionally with -alpha.N, -beta.N "
        "or -rc.N, and not lower than the latest release.",
        examples=["1.4.0"],
    )
    languages: list[Language] | None = Field(
        None, min_length=1, description="Languages to publish; every language by default."
    )


class RetryBody(BaseModel):
    """Missing languages to publish again."""

    languages: list[Language] | None = Field(
        None, description="Languages to retry; every missing language by default."
    )


class AbandonBody(BaseModel):
    """Reason for closing a partial release without its missing languages."""

    reason: str = Field(
        ...,
        min_length=3,
        max_length=2000,
        description="Why, for the issue and the record.",
        examples=["npm scope lost; shipping 1.4.1 instead"],
    )


class ReleaseList(BaseModel):
    """Recent releases, newest first."""

    releases: list[ReleaseSummary]


def _unavailable(exc: SdkReleaseError) -> DependencyUnavailable:
    log.warning("staging bucket unavailable error=%s", exc.message)
    return DependencyUnavailable("s3", retry_after=5, detail=exc.message)


def _not_found(version: str, exc: Exception) -> Problem:
    return Problem(
        404, "Release not found", str(exc), type_="sdk-release-not-found", version=version
    )


def _wrong_state(version: str, exc: Exception) -> Problem:
    return Problem(
        409,
        "Release state conflict",
        f"{exc}. Read the release with GET /v1/sdk/releases/{version}.",
        type_="sdk-release-state",
        version=version,
    )


@router.post(
    "",
    status_code=202,
    summary="Publish an SDK release in every language",
    responses={
        200: {"description": "The release exists already; nothing new started"},
        409: {"description": "The version is lower than the latest release"},
    },
)
async def create_release(
    body: ReleaseRequest,
    response: Response,
    user: PortalUser = Depends(require_devrel),
    temporal: Client = Depends(get_temporal),
    settings: Settings = Depends(get_settings),
) -> ReleaseStatus:
    """Start the release workflow; poll the `Location` for each language's state."""
    try:
        status, started = await start_release(
            temporal, settings, body.version, user.user_id, body.languages
        )
    except VersionTooLowError as exc:
        raise Problem(
            409,
            "Version too low",
            str(exc),
            type_="sdk-version-too-low",
            version=body.version,
            latest=exc.latest,
        ) from None
    except SdkReleaseError as exc:
        raise _unavailable(exc) from None
    response.headers["Location"] = f"/v1/sdk/releases/{body.version}"
    if not started:
        response.status_code = 200
    log.info(
        "sdk release requested version=%s user=%s started=%s", body.version, user.user_id, started
    )
    return status


@router.get("", summary="List recent SDK releases")
async def read_releases(
    state: ReleaseState | None = Query(None, description="Only releases in this state."),
    user: PortalUser = Depends(require_devrel),
    temporal: Client = Depends(get_temporal),
) -> ReleaseList:
    """Return recent releases with their state, newest first."""
    return ReleaseList(releases=await list_releases(temporal, state))


@router.get("/{version}", summary="Read an SDK release's state per language")
async def read_release(
    version: str = VersionPath,
    user: PortalUser = Depends(require_devrel),
    temporal: Client = Depends(get_temporal),
    settings: Settings = Depends(get_settings),
) -> ReleaseStatus:
    """Return the release's state and, per language, its state, location and last error."""
    try:
        return await release_status(temporal, settings, version)
    except ReleaseNotFoundError as exc:
        raise _not_found(version, exc) from None
    except SdkReleaseError as exc:
        raise _unavailable(exc) from None


@router.post("/{version}/retry", summary="Publish a partial release's missing languages again")
async def retry(
    body: RetryBody | None = None,
    version: str = VersionPath,
    user: PortalUser = Depends(require_devrel),
    temporal: Client = Depends(get_temporal),
    settings: Settings = Depends(get_settings),
) -> ReleaseStatus:
    """Retry the missing languages and return the resulting state.

    When the retry is still publishing after two minutes, the response is the
    current state (`publishing`), so poll the release for the outcome.
    """
    languages = body.languages if body else None
    try:
        status = await retry_release(
            temporal, settings, version, user.user_id, languages, wait=RETRY_WAIT_SECONDS
        )
    except ReleaseNotFoundError as exc:
        raise _not_found(version, exc) from None
    except ReleaseStateError as exc:
        raise _wrong_state(version, exc) from None
    log.info("sdk release retried version=%s user=%s state=%s", version, user.user_id, status.state)
    return status


@router.post("/{version}/abandon", summary="Close a partial release without its missing languages")
async def abandon(
    body: AbandonBody,
    version: str = VersionPath,
    user: PortalUser = Depends(require_devrel),
    temporal: Client = Depends(get_temporal),
    settings: Settings = Depends(get_settings),
) -> ReleaseStatus:
    """Abandon the release, close its issue with the reason, and return the final state."""
    try:
        status = await abandon_release(
            temporal, settings, version, body.reason, user.user_id, wait=ABANDON_WAIT_SECONDS
        )
    except ReleaseNotFoundError as exc:
        raise _not_found(version, exc) from None
    except ReleaseStateError as exc:
        raise _wrong_state(version, exc) from None
    log.info("sdk release abandoned version=%s user=%s", version, user.user_id)
    return status
