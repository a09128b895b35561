"""Fast lookups of keys whose revocation is pending, kept in Redis.

Temporal is the durable record: a pending revocation is a running
`KeyRevocationWorkflow` with id `revoke-key-<key id>`. Redis contains a copy
for lookups on every API request: one marker per key, which
`require_api_key` checks, and one set per tenant, which the key list reads.
The workflow writes both before it calls the auth-service and clears them
after, so a marker lost with Redis comes back on the workflow's next run
of that step, and the key list also asks Temporal's visibility store.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError

from portal.errors import DependencyUnavailableError
from portal.settings import Settings
from portal.temporal import SA_KEY_ID, SA_TENANT, TaskQueue

log = logging.getLogger(__name__)

WORKFLOW_TYPE = "KeyRevocationWorkflow"
_MARKER = "portal:keys:revocation-pending:{key_id}"
_TENANT_SET = "portal:keys:revocation-pending-by-tenant:{tenant_id}"
# Running revocations of one tenant that the key list reads from visibility.
VISIBILITY_LIST_LIMIT = 1000
# Temporal must accept the start quickly, or the API returns 503.
START_TIMEOUT = timedelta(seconds=3)


def revocation_workflow_id(key_id: str) -> str:
    """Return the id of the workflow that revokes `key_id`, which makes a second start a no-op."""
    return f"revoke-key-{key_id}"


def _unavailable(exc: Exception) -> DependencyUnavailableError:
    return DependencyUnavailableError("redis", 5, f"revocation markers: {type(exc).__name__}")


async def mark_pending(redis: Redis, tenant_id: str, key_id: str, requested_at: datetime) -> None:
    """Record that `key_id` of `tenant_id` is being revoked.

    Raises:
        DependencyUnavailableError: Redis is down.
    """
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.set(_MARKER.format(key_id=key_id), requested_at.isoformat())
            pipe.sadd(_TENANT_SET.format(tenant_id=tenant_id), key_id)
            await pipe.execute()
    except (RedisError, OSError) as exc:
        raise _unavailable(exc) from exc


async def clear_pending(redis: Redis, tenant_id: str, key_id: str) -> None:
    """Forget the pending revocation of `key_id`, once it landed or cannot land.

    Raises:
        DependencyUnavailableError: Redis is down.
    """
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.delete(_MARKER.format(key_id=key_id))
            pipe.srem(_TENANT_SET.format(tenant_id=tenant_id), key_id)
            await pipe.execute()
    except (RedisError, OSError) as exc:
        raise _unavailable(exc) from exc


async def is_pending(redis: Redis, key_id: str) -> bool:
    """Return True when a revocation of `key_id` is pending.

    Raises:
        DependencyUnavailableError: Redis is down, so the state is unknown.
    """
    try:
        return bool(await redis.exists(_MARKER.format(key_id=key_id)))
    except (RedisError, OSError) as exc:
        raise _unavailable(exc) from exc


async def pending_in_redis(redis: Redis, tenant_id: str) -> set[str]:
    """Return the ids of the tenant's keys whose revocation Redis records as pending.

    Raises:
        DependencyUnavailableError: Redis is down.
    """
    try:
        members = await redis.smembers(_TENANT_SET.format(tenant_id=tenant_id))
    except (RedisError, OSError) as exc:
        raise _unavailable(exc) from exc
    return {member.decode() for member in members}


async def pending_in_temporal(client: Client, tenant_id: str) -> set[str]:
    """Return the ids of the tenant's keys with a running revocation workflow.

    Visibility is eventually consistent: a workflow started a moment ago may
    be missing, which is why Redis is asked too.

    Raises:
        DependencyUnavailableError: Temporal is unreachable.
    """
    query = (
        f"WorkflowType = '{WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' "
        f"AND PortalTenant = '{tenant_id}'"
    )
    key_ids: set[str] = set()
    try:
        async for execution in client.list_workflows(query, limit=VISIBILITY_LIST_LIMIT):
            key_ids.add(execution.id.removeprefix(revocation_workflow_id("")))
    except (RPCError, RuntimeError) as exc:
        raise DependencyUnavailableError("temporal", 5, f"visibility: {exc}") from exc
    return key_ids


async def start_revocation(
    client: Client,
    settings: Settings,
    *,
    tenant_id: str,
    key_id: str,
    requested_by: str,
    requested_at: datetime,
) -> str:
    """Start the key's `KeyRevocationWorkflow`, or join the one already running; return its id.

    Raises:
        DependencyUnavailableError: Temporal cannot accept the start, so nothing was queued.
    """
    from workflows.key_revocation import KeyRevocationInput, KeyRevocationWorkflow

    workflow_id = revocation_workflow_id(key_id)
    try:
        await client.start_workflow(
            KeyRevocationWorkflow.run,
            KeyRevocationInput(
                key_id=key_id,
                tenant_id=tenant_id,
                requested_by=requested_by,
                requested_at=requested_at,
                initial_backoff_seconds=settings.revocation_initial_backoff_seconds,
                max_backoff_seconds=settings.revocation_max_backoff_seconds,
            ),
            id=workflow_id,
            task_queue=TaskQueue.KEYS,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(SA_KEY_ID, key_id), SearchAttributePair(SA_TENANT, tenant_id)]
            ),
            static_summary=f"Revoke API key {key_id} of tenant {tenant_id}",
            static_details=(
                f"Requested by portal user {requested_by} at {requested_at.isoformat()}. "
                "Retries the auth-service with capped exponential backoff until it lands."
            ),
            rpc_timeout=START_TIMEOUT,
        )
    except (RPCError, RuntimeError) as exc:
        log.warning("revocation not started key_id=%s error=%r", key_id, exc)
        raise DependencyUnavailableError(
            "temporal", 5, f"could not queue the revocation: {exc}"
        ) from exc
    log.info("revocation workflow started workflow_id=%s tenant=%s", workflow_id, tenant_id)
    return workflow_id
