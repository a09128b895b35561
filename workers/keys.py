"""The API keys area on the worker: `TaskQueue.KEYS` and the pending-revocation gauges."""

from __future__ import annotations

import asyncio
import contextlib

from activities.auth_service import AuthServiceActivities
from activities.key_store import KeyStateActivities
from portal.auth_service_client import AuthServiceClient
from portal.keys.revocation_metrics import run_revocation_gauges
from portal.temporal import TaskQueue
from workers.registry import Registration, WorkerContext
from workflows.key_revocation import KeyRevocationWorkflow


async def keys_registration(ctx: WorkerContext) -> Registration:
    """Create the area's activities and start the gauge refresher; both end with the worker."""
    client = AuthServiceClient(ctx.settings)
    ctx.exit_stack.push_async_callback(client.close)

    gauges = asyncio.create_task(
        run_revocation_gauges(ctx.temporal, ctx.settings.revocation_metrics_interval_seconds)
    )

    async def stop_gauges() -> None:
        gauges.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gauges

    ctx.exit_stack.push_async_callback(stop_gauges)

    auth_service = AuthServiceActivities(client)
    key_state = KeyStateActivities(ctx.redis, ctx.settings)
    return Registration(
        TaskQueue.KEYS,
        workflows=[KeyRevocationWorkflow],
        activities=[
            auth_service.revoke_key,
            key_state.mark_revocation_pending,
            key_state.record_revocation_outcome,
        ],
    )
