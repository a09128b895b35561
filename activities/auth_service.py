"""Activities that call the auth-service."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from portal.auth_service_client import AuthServiceClient, KeyNotFoundError
from portal.errors import DependencyUnavailableError

# Error type the workflow treats as final: retrying cannot create the key.
KEY_NOT_FOUND = "KeyNotFound"


class RevokeKeyInput(BaseModel):
    """Input of `revoke_key`."""

    key_id: str
    tenant_id: str
    requested_by: str


class AuthServiceActivities:
    """Activities sharing the worker's auth-service client and its circuit breaker."""

    def __init__(self, client: AuthServiceClient) -> None:
        self._client = client

    @activity.defn
    async def revoke_key(self, params: RevokeKeyInput) -> datetime:
        """Revoke a key in the auth-service and return when it was revoked.

        Revoking is idempotent, so a retry after a lost response is safe.

        Raises:
            ApplicationError: Non-retryable, type `KeyNotFound`, when the tenant has no such key.
            DependencyUnavailableError: The auth-service is down; Temporal retries.
        """
        info = activity.info()
        try:
            key = await self._client.revoke_key(
                params.tenant_id, params.key_id, params.requested_by
            )
        except KeyNotFoundError as exc:
            raise ApplicationError(
                f"tenant {params.tenant_id} has no key {params.key_id}",
                type=KEY_NOT_FOUND,
                non_retryable=True,
            ) from exc
        except DependencyUnavailableError as exc:
            activity.logger.warning(
                "auth-service unavailable; Temporal will retry key_id=%s attempt=%d reason=%s",
                params.key_id,
                info.attempt,
                exc.reason,
            )
            raise
        assert key.revoked_at is not None
        activity.logger.info("key revoked key_id=%s attempt=%d", params.key_id, info.attempt)
        return key.revoked_at
