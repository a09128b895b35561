"""Activities that keep a key's revocation state in the portal's Redis."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from redis.asyncio import Redis
from temporalio import activity

from portal.keys import catalog, revocations
from portal.keys.audit import AuditEvent, record_audit
from portal.keys.reveal import RevealVault
from portal.settings import Settings

WORKER_ACTOR = "system:key-revocation"


class RevocationPendingInput(BaseModel):
    """Input of `mark_revocation_pending`."""

    key_id: str
    tenant_id: str
    requested_at: datetime


class RevocationOutcomeInput(BaseModel):
    """Input of `record_revocation_outcome`: `revoked` or `not_found`."""

    key_id: str
    tenant_id: str
    outcome: str
    revoked_at: datetime | None = None


class KeyStateActivities:
    """Activities sharing the worker's Redis client."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings
        self._vault = RevealVault(settings, redis)

    @activity.defn
    async def mark_revocation_pending(self, params: RevocationPendingInput) -> None:
        """Mark the key pending and drop any unrevealed copy of its secret.

        Raises:
            DependencyUnavailableError: Redis is down; Temporal retries.
        """
        await revocations.mark_pending(
            self._redis, params.tenant_id, params.key_id, params.requested_at
        )
        await self._vault.discard(tenant_id=params.tenant_id, key_id=params.key_id)
        activity.logger.info("key marked revocation pending key_id=%s", params.key_id)

    @activity.defn
    async def record_revocation_outcome(self, params: RevocationOutcomeInput) -> None:
        """Clear the pending marker, update the key catalog and write the audit event.

        Raises:
            DependencyUnavailableError: Redis is down; Temporal retries.
        """
        if params.revoked_at is not None:
            await catalog.remember_revoked(
                self._redis, params.tenant_id, params.key_id, params.revoked_at
            )
        await revocations.clear_pending(self._redis, params.tenant_id, params.key_id)
        if params.outcome == "revoked":
            await record_audit(
                self._redis,
                event=AuditEvent.KEY_REVOKED,
                tenant_id=params.tenant_id,
                actor=WORKER_ACTOR,
                key_id=params.key_id,
                max_events=self._settings.audit_stream_max_events,
            )
        activity.logger.info(
            "key revocation recorded key_id=%s outcome=%s", params.key_id, params.outcome
        )
