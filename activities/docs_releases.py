"""Activities that find and nudge open docs releases through Temporal's visibility API."""

from __future__ import annotations

import logging

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError

log = logging.getLogger(__name__)

# Releases that wait for the edge: state `stale` in the portal's search attributes.
STALE_RELEASES_QUERY = (
    "WorkflowType = 'DocsReleaseWorkflow' AND ExecutionStatus = 'Running' "
    "AND PortalEdgeState = 'stale'"
)


class ReleaseSignalActivities:
    """Signals DocsReleaseWorkflow executions with the worker's Temporal client."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn
    async def recheck_stale_releases(self, reason: str) -> list[str]:
        """Ask every release that waits for a fresh edge to check it now.

        Returns:
            The workflow ids signalled.
        """
        signalled = []
        async for execution in self._client.list_workflows(STALE_RELEASES_QUERY, limit=100):
            handle = self._client.get_workflow_handle(execution.id)
            try:
                await handle.signal("recheck_edge", reason)
            except RPCError as exc:
                # It finished between the listing and the signal.
                log.info("release not signalled workflow_id=%s error=%s", execution.id, exc)
                continue
            signalled.append(execution.id)
        if signalled:
            log.info("stale releases asked to recheck ids=%s reason=%s", signalled, reason)
        return signalled
