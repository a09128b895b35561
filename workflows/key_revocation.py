"""KeyRevocationWorkflow: revoke an API key in the auth-service, however long it is down.

`DELETE /v1/keys/{id}` starts it (id `revoke-key-<key id>`, so a second
request joins the running one) before returning 202. From the first step
on, the portal's own API refuses the key; the workflow then retries the
auth-service with capped exponential backoff and no attempt limit, through
outages of hours and worker restarts, and clears the pending state once the
revocation lands.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.auth_service import KEY_NOT_FOUND, AuthServiceActivities, RevokeKeyInput
    from activities.key_store import (
        KeyStateActivities,
        RevocationOutcomeInput,
        RevocationPendingInput,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=15)


class KeyRevocationInput(BaseModel):
    """Input of KeyRevocationWorkflow. Ids only: no secret ever enters the history."""

    key_id: str
    tenant_id: str
    requested_by: str = Field(..., description="Portal user id of the requester.")
    requested_at: datetime
    initial_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 300.0


class KeyRevocationResult(BaseModel):
    """Outcome of a revocation: `revoked`, or `not_found` when the tenant has no such key."""

    key_id: str
    outcome: str
    revoked_at: datetime | None = None


@workflow.defn
class KeyRevocationWorkflow:
    """Revokes one API key in the auth-service and keeps the portal refusing it meanwhile."""

    @workflow.run
    async def run(self, params: KeyRevocationInput) -> KeyRevocationResult:
        workflow.logger.info(
            "key revocation started key_id=%s tenant=%s requested_by=%s",
            params.key_id,
            params.tenant_id,
            params.requested_by,
        )
        # Redis steps retry quickly and forever: Redis outages are short, and
        # the key must be refused before anything else happens.
        redis_retry = RetryPolicy(
            initial_interval=timedelta(seconds=1),
            maximum_interval=timedelta(seconds=30),
            maximum_attempts=0,
        )
        state = RevocationPendingInput(
            key_id=params.key_id, tenant_id=params.tenant_id, requested_at=params.requested_at
        )

        # Mark the key pending again: the API's own write may have been lost with Redis.
        workflow.set_current_details(f"Marking key {params.key_id} as revocation pending.")
        await workflow.execute_activity_method(
            KeyStateActivities.mark_revocation_pending,
            state,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=redis_retry,
        )

        # The auth-service may be down for hours: no attempt limit, capped backoff.
        workflow.set_current_details(
            f"Revoking key {params.key_id} in the auth-service; retrying with backoff up to "
            f"{params.max_backoff_seconds:.0f} s until it answers. Pending since "
            f"{params.requested_at.isoformat()}."
        )
        revoked_at: datetime | None = None
        try:
            revoked_at = await workflow.execute_activity_method(
                AuthServiceActivities.revoke_key,
                RevokeKeyInput(
                    key_id=params.key_id,
                    tenant_id=params.tenant_id,
                    requested_by=params.requested_by,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=params.initial_backoff_seconds),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=params.max_backoff_seconds),
                    maximum_attempts=0,
                    non_retryable_error_types=[KEY_NOT_FOUND],
                ),
            )
            outcome = "revoked"
        except ActivityError as err:
            cause = err.cause
            if not (isinstance(cause, ApplicationError) and cause.type == KEY_NOT_FOUND):
                raise
            workflow.logger.warning(
                "auth-service has no such key key_id=%s tenant=%s", params.key_id, params.tenant_id
            )
            outcome = "not_found"

        # Clear the pending state and record the outcome for the key list and audit.
        workflow.set_current_details(f"Key {params.key_id}: {outcome}; clearing pending state.")
        await workflow.execute_activity_method(
            KeyStateActivities.record_revocation_outcome,
            RevocationOutcomeInput(
                key_id=params.key_id,
                tenant_id=params.tenant_id,
                outcome=outcome,
                revoked_at=revoked_at,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=redis_retry,
        )

        workflow.set_current_details(f"Key {params.key_id}: {outcome}.")
        workflow.logger.info("key revocation finished key_id=%s outcome=%s", params.key_id, outcome)
        return KeyRevocationResult(key_id=params.key_id, outcome=outcome, revoked_at=revoked_at)
