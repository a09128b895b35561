"""The portal's copy of each tenant's key metadata, for listing keys while the auth-service is down.

The auth-service is the source of truth. Every successful list, create and
revocation refreshes this copy in Redis. When the auth-service cannot be
reached, the key list comes from this copy and is marked stale. It never holds a
secret: `KeyRecord` has none.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from portal.auth_service_client import KeyRecord
from portal.errors import DependencyUnavailableError
from portal.keys.format import KeyEnvironment

log = logging.getLogger(__name__)

_CATALOG = "portal:keys:catalog:{tenant_id}"


def _encode(record: KeyRecord) -> str:
    data = asdict(record)
    data["environment"] = record.environment.value
    data["scopes"] = list(record.scopes)
    data["created_at"] = record.created_at.isoformat()
    data["revoked_at"] = record.revoked_at.isoformat() if record.revoked_at else None
    return json.dumps(data)


def _decode(raw: bytes) -> KeyRecord:
    data = json.loads(raw)
    return KeyRecord(
        key_id=data["key_id"],
        tenant_id=data["tenant_id"],
        name=data["name"],
        environment=KeyEnvironment(data["environment"]),
        scopes=tuple(data["scopes"]),
        prefix=data["prefix"],
        last_four=data["last_four"],
        revoked=data["revoked"],
        created_at=datetime.fromisoformat(data["created_at"]),
        revoked_at=datetime.fromisoformat(data["revoked_at"]) if data["revoked_at"] else None,
        created_by=data["created_by"],
    )


async def remember(redis: Redis, tenant_id: str, records: list[KeyRecord]) -> None:
    """Store `records` as the tenant's latest known keys; a Redis failure is only logged."""
    if not records:
        return
    try:
        await redis.hset(
            _CATALOG.format(tenant_id=tenant_id),
            mapping={record.key_id: _encode(record) for record in records},
        )
    except (RedisError, OSError) as exc:
        log.warning("key catalog not updated tenant=%s error=%s", tenant_id, type(exc).__name__)


async def cached_keys(redis: Redis, tenant_id: str) -> list[KeyRecord]:
    """Return the tenant's keys as last seen, oldest first.

    Raises:
        DependencyUnavailableError: Redis is down.
    """
    try:
        raw = await redis.hvals(_CATALOG.format(tenant_id=tenant_id))
    except (RedisError, OSError) as exc:
        raise DependencyUnavailableError("redis", 5, "key catalog unreachable") from exc
    return sorted((_decode(item) for item in raw), key=lambda r: (r.created_at, r.key_id))


async def cached_key(redis: Redis, tenant_id: str, key_id: str) -> KeyRecord | None:
    """Return one key of the tenant as last seen, or None.

    Raises:
        DependencyUnavailableError: Redis is down.
    """
    try:
        raw = await redis.hget(_CATALOG.format(tenant_id=tenant_id), key_id)
    except (RedisError, OSError) as exc:
        raise DependencyUnavailableError("redis", 5, "key catalog unreachable") from exc
    return _decode(raw) if raw else None


async def remember_revoked(redis: Redis, tenant_id: str, key_id: str, at: datetime) -> None:
    """Mark a known key revoked in the copy; a Redis failure is only logged."""
    try:
        record = await cached_key(redis, tenant_id, key_id)
    except DependencyUnavailableError:
        log.warning("key catalog not updated tenant=%s key_id=%s", tenant_id, key_id)
        return
    if record is not None and not record.revoked:
        await remember(redis, tenant_id, [replace(record, revoked=True, revoked_at=at)])
