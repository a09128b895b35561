"""Audit events of API keys and sign-in: a structured log line and a bounded Redis stream.

Each event names its actor, tenant and key id, never a secret. The log line
is written first and always. The per-tenant stream (`GET /v1/audit`) keeps
the latest `audit_stream_max_events` events. It misses events written while
Redis was down, but the log still has them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from portal.errors import DependencyUnavailableError

log = logging.getLogger("portal.audit")

_STREAM = "portal:audit:{tenant_id}"

AUDIT_EVENTS = Counter(
    "portal_keys_audit_events_total", "Audit events recorded, by event.", ["event"]
)
AUDIT_WRITE_FAILURES = Counter(
    "portal_keys_audit_stream_write_failures_total",
    "Audit events only logged because the Redis stream could not be written.",
)


class AuditEvent(StrEnum):
    """What happened."""

    KEY_CREATED = "key.created"
    KEY_REVEALED = "key.revealed"
    KEY_REVOCATION_REQUESTED = "key.revocation_requested"
    KEY_REVOKED = "key.revoked"
    SIGNED_IN = "auth.signed_in"
    SIGN_IN_FAILED = "auth.sign_in_failed"
    MFA_PASSED = "auth.mfa_passed"
    MFA_FAILED = "auth.mfa_failed"


@dataclass(frozen=True)
class AuditRecord:
    """One event as read back from a tenant's stream."""

    id: str
    event: str
    at: datetime
    actor: str
    tenant_id: str
    key_id: str | None
    reason: str | None


async def record_audit(
    redis: Redis,
    *,
    event: AuditEvent,
    tenant_id: str,
    actor: str,
    max_events: int,
    key_id: str | None = None,
    reason: str | None = None,
) -> None:
    """Write an audit event to the log and to the tenant's stream.

    Args:
        redis: Redis client.
        event: What happened.
        tenant_id: Tenant the event belongs to.
        actor: Portal user id, or `system:<process>` for the workers.
        max_events: Events kept per tenant; older ones are trimmed.
        key_id: API key concerned, if any.
        reason: Short fixed reason code, such as `wrong_code`; never user input.
    """
    at = datetime.now(UTC)
    AUDIT_EVENTS.labels(event.value).inc()
    log.info(
        "audit event=%s tenant=%s actor=%s key_id=%s reason=%s",
        event.value,
        tenant_id,
        actor,
        key_id or "-",
        reason or "-",
    )
    fields = {"event": event.value, "at": at.isoformat(), "actor": actor, "tenant_id": tenant_id}
    if key_id:
        fields["key_id"] = key_id
    if reason:
        fields["reason"] = reason
    try:
        await redis.xadd(
            _STREAM.format(tenant_id=tenant_id), fields, maxlen=max_events, approximate=True
        )
    except (RedisError, OSError) as exc:
        AUDIT_WRITE_FAILURES.inc()
        log.error(
            "audit stream write failed event=%s tenant=%s error=%s",
            event.value,
            tenant_id,
            type(exc).__name__,
        )


async def read_audit(
    redis: Redis, tenant_id: str, *, limit: int, before: str | None = None
) -> list[AuditRecord]:
    """Return the tenant's latest events, newest first, older than stream id `before` if set.

    Raises:
        DependencyUnavailableError: Redis is down.
    """
    upper = f"({before}" if before else "+"
    try:
        entries = await redis.xrevrange(
            _STREAM.format(tenant_id=tenant_id), max=upper, min="-", count=limit
        )
    except (RedisError, OSError) as exc:
        raise DependencyUnavailableError("redis", 5, f"audit stream: {type(exc).__name__}") from exc
    records = []
    for entry_id, raw in entries:
        data = {key.decode(): value.decode() for key, value in raw.items()}
        records.append(
            AuditRecord(
                id=entry_id.decode(),
                event=data["event"],
                at=datetime.fromisoformat(data["at"]),
                actor=data["actor"],
                tenant_id=data["tenant_id"],
                key_id=data.get("key_id"),
                reason=data.get("reason"),
            )
        )
    return records
