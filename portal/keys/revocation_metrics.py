"""Pending-revocation gauges, refreshed by the worker from Temporal's visibility store.

Visibility is the durable record of pending revocations (running
`KeyRevocationWorkflow`s), so the gauges stay right even if Redis lost its
markers. The alert `PortalKeyRevocationStuck` fires on the oldest age.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.service import RPCError

from portal.keys.metrics import REVOCATION_OLDEST_PENDING_AGE, REVOCATIONS_PENDING
from portal.keys.revocations import WORKFLOW_TYPE

log = logging.getLogger(__name__)

# Upper bound of workflows read per refresh; past it the count is a lower bound.
SCAN_LIMIT = 10000


async def refresh_revocation_gauges(client: Client) -> tuple[int, float]:
    """Count running revocations and the age of the oldest; set and return both."""
    query = f"WorkflowType = '{WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'"
    count = 0
    oldest: datetime | None = None
    async for execution in client.list_workflows(query, limit=SCAN_LIMIT):
        count += 1
        if oldest is None or execution.start_time < oldest:
            oldest = execution.start_time
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
    REVOCATIONS_PENDING.set(count)
    REVOCATION_OLDEST_PENDING_AGE.set(age)
    return count, age


async def run_revocation_gauges(client: Client, interval_seconds: float) -> None:
    """Refresh the gauges every `interval_seconds` until cancelled."""
    log.info("revocation gauges started interval=%.0fs", interval_seconds)
    try:
        while True:
            try:
                count, age = await refresh_revocation_gauges(client)
                log.debug("revocation gauges refreshed pending=%d oldest_age=%.0fs", count, age)
            except (RPCError, RuntimeError) as exc:
                # Keep the last values: a visibility outage is not a recovery.
                log.warning("revocation gauges not refreshed error=%r", exc)
            await asyncio.sleep(interval_seconds)
    finally:
        log.info("revocation gauges stopped")
