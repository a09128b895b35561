"""Start, inspect, retry and abandon SDK releases: used by the API, the CLI and the demo.

Temporal outages surface as `DependencyUnavailableError`, a 503 in the API.
A release that does not exist or is in the wrong state raises one of the
errors below, whose message names the version, its state and what to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from portal.errors import DependencyUnavailableError
from portal.sdk.config import sdk_config
from portal.sdk.languages import Language
from portal.sdk.models import (
    AbandonRequest,
    LanguageStatus,
    PublishPolicy,
    ReleaseState,
    ReleaseStatus,
    RetryRequest,
    SdkReleaseInput,
)
from portal.sdk.s3 import s3_client
from portal.sdk.staging import StagingStore
from portal.sdk.versions import check_not_lower, max_version, parse_version
from portal.settings import Settings
from portal.temporal import SA_RELEASE_STATE, SA_RELEASE_VERSION, TaskQueue
from workflows.sdk_release import SdkReleaseWorkflow, release_workflow_id

log = logging.getLogger(__name__)

TEMPORAL_TIMEOUT_SECONDS = 10.0


class ReleaseNotFoundError(LookupError):
    """No release workflow or record exists for the version."""


class ReleaseStateError(ValueError):
    """The release cannot take the request in its current state."""


class ReleaseSummary(BaseModel):
    """One line of the release list, read from visibility."""

    version: str
    state: str
    workflow_id: str
    started_at: datetime | None = None
    closed_at: datetime | None = None


def publish_policy(settings: Settings) -> PublishPolicy:
    """Return the publish retry policy a release started now copies from `settings`."""
    return PublishPolicy(
        max_attempts=settings.sdk_publish_max_attempts,
        initial_interval_seconds=settings.sdk_publish_initial_interval_seconds,
        max_interval_seconds=settings.sdk_publish_max_interval_seconds,
        heartbeat_timeout_seconds=settings.sdk_heartbeat_timeout_seconds,
    )


def staging_store(settings: Settings) -> StagingStore:
    """Return the store of staged artifacts and release records."""
    config = sdk_config(settings)
    return StagingStore(s3_client(config), config.staging_bucket, config.local_aws)


async def _temporal(call: Awaitable[Any], limit: float = TEMPORAL_TIMEOUT_SECONDS) -> Any:
    """Await a Temporal call, turning an outage into DependencyUnavailableError."""
    try:
        return await asyncio.wait_for(call, limit)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise DependencyUnavailableError("temporal", 5, exc.message) from None
        raise
    except (TimeoutError, RuntimeError) as exc:
        raise DependencyUnavailableError("temporal", 5, type(exc).__name__) from None


def _handle(client: Client, version: str) -> WorkflowHandle:
    return client.get_workflow_handle_for(SdkReleaseWorkflow.run, release_workflow_id(version))


def _initial_status(params: SdkReleaseInput, workflow_id: str) -> ReleaseStatus:
    return ReleaseStatus(
        version=params.version,
        state=ReleaseState.PUBLISHING,
        languages={language: LanguageStatus(language=language) for language in params.languages},
        requested_by=params.requested_by,
        workflow_id=workflow_id,
    )


async def latest_recorded_version(settings: Settings) -> str | None:
    """Return the highest version among recorded published or partial releases."""
    records = await asyncio.to_thread(staging_store(settings).list_records)
    counted = (ReleaseState.PUBLISHED, ReleaseState.PARTIAL)
    return max_version(record.version for record in records if record.state in counted)


async def start_release(
    client: Client,
    settings: Settings,
    version: str,
    requested_by: str,
    languages: list[Language] | None = None,
) -> tuple[ReleaseStatus, bool]:
    """Start SdkReleaseWorkflow for `version`; return its status and whether it started now.

    Starting a version whose release runs or ended (other than rejected) starts
    nothing and returns that release's status.

    Raises:
        InvalidVersionError: `version` is not an accepted release version.
        VersionTooLowError: a recorded release is higher.
    """
    parse_version(version)
    check_not_lower(version, await latest_recorded_version(settings), "recorded releases")
    params = SdkReleaseInput(
        version=version,
        requested_by=requested_by,
        languages=languages or list(Language),
        policy=publish_policy(settings),
    )
    workflow_id = release_workflow_id(version)
    try:
        await _temporal(
            client.start_workflow(
                SdkReleaseWorkflow.run,
                params,
                id=workflow_id,
                task_queue=TaskQueue.SDK,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(SA_RELEASE_VERSION, version),
                        SearchAttributePair(SA_RELEASE_STATE, ReleaseState.PUBLISHING.value),
                    ]
                ),
                static_summary=f"SDK release {version}",
                static_details=f"Publishes {version} of the Verify SDK in "
                f"{', '.join(params.languages)}; requested by {requested_by}.",
            )
        )
    except WorkflowAlreadyStartedError:
        log.info("sdk release exists version=%s; nothing started", version)
        return await release_status(client, settings, version), False
    log.info("sdk release started version=%s requested_by=%s", version, requested_by)
    return _initial_status(params, workflow_id), True


async def release_status(client: Client, settings: Settings, version: str) -> ReleaseStatus:
    """Return the state of release `version` and of each language.

    Raises:
        ReleaseNotFoundError: no workflow or record exists for `version`.
    """
    handle = _handle(client, version)
    try:
        description = await _temporal(handle.describe())
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        description = None
    if description is not None and description.status is WorkflowExecutionStatus.RUNNING:
        status = await _temporal(handle.query(SdkReleaseWorkflow.status))
        if status is not None:
            return status
    if description is not None and description.status is WorkflowExecutionStatus.COMPLETED:
        return await _temporal(handle.result())
    record = await asyncio.to_thread(staging_store(settings).get_record, version)
    if record is not None:
        return record
    if description is not None:
        return ReleaseStatus(
            version=version,
            state=ReleaseState.PUBLISHING,
            languages={},
            requested_by="unknown",
            workflow_id=handle.id,
        )
    raise ReleaseNotFoundError(
        f"no SDK release {version}; start it with POST /v1/sdk/releases or "
        f"`portal sdk release {version}`"
    )


def _rejection(exc: WorkflowUpdateFailedError) -> ReleaseStateError:
    cause = exc.cause
    message = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
    return ReleaseStateError(message)


async def _update(
    client: Client,
    settings: Settings,
    version: str,
    update: Callable[..., Awaitable[ReleaseStatus]],
    request: BaseModel,
    wait: float,
) -> ReleaseStatus:
    """Send `update` to the release; return its result, or the current state after `wait` s."""
    handle = _handle(client, version)
    try:
        update_handle = await _temporal(
            handle.start_update(update, request, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        )
    except WorkflowUpdateFailedError as exc:
        raise _rejection(exc) from None
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            status = await release_status(client, settings, version)
            raise ReleaseStateError(
                f"release {version} is {status.state}; only a partial release takes this request"
            ) from None
        raise
    try:
        return await asyncio.wait_for(update_handle.result(), wait)
    except WorkflowUpdateFailedError as exc:
        # The workflow's validator rejected the request.
        raise _rejection(exc) from None
    # Cancelled by wait_for, the result poll raises its own error instead of TimeoutError.
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # The request is accepted and continues in the workflow; return the current state.
        return await release_status(client, settings, version)


async def retry_release(
    client: Client,
    settings: Settings,
    version: str,
    requested_by: str,
    languages: list[Language] | None = None,
    wait: float = 600.0,
) -> ReleaseStatus:
    """Publish the missing languages of partial release `version` again.

    Returns the state once the retry round settles, or the current state
    after `wait` seconds while it still publishes.

    Raises:
        ReleaseNotFoundError: no release exists for `version`.
        ReleaseStateError: the release is not partial, or a language is not missing.
    """
    request = RetryRequest(languages=languages or [], requested_by=requested_by)
    log.info("sdk release retry requested version=%s by=%s", version, requested_by)
    return await _update(client, settings, version, SdkReleaseWorkflow.retry, request, wait)


async def abandon_release(
    client: Client,
    settings: Settings,
    version: str,
    reason: str,
    requested_by: str,
    wait: float = 120.0,
) -> ReleaseStatus:
    """Close partial release `version` without its missing languages.

    Raises:
        ReleaseNotFoundError: no release exists for `version`.
        ReleaseStateError: the release is not partial.
    """
    request = AbandonRequest(reason=reason, requested_by=requested_by)
    log.info("sdk release abandon requested version=%s by=%s", version, requested_by)
    return await _update(client, settings, version, SdkReleaseWorkflow.abandon, request, wait)


async def list_releases(
    client: Client, state: ReleaseState | None = None, limit: int = 50
) -> list[ReleaseSummary]:
    """Return recent SDK releases, newest first, optionally only those in `state`."""
    query = "WorkflowType = 'SdkReleaseWorkflow'"
    if state is not None:
        query += f" AND {SA_RELEASE_STATE.name} = '{state.value}'"

    async def collect() -> list[ReleaseSummary]:
        found: list[ReleaseSummary] = []
        async for execution in client.list_workflows(query, limit=limit):
            attributes = execution.typed_search_attributes
            found.append(
                ReleaseSummary(
                    version=attributes.get(SA_RELEASE_VERSION) or "?",
                    state=attributes.get(SA_RELEASE_STATE) or "?",
                    workflow_id=execution.id,
                    started_at=execution.start_time,
                    closed_at=execution.close_time,
                )
            )
        return found

    return await _temporal(collect())
