"""Portal sign-in sessions, kept in Redis under the SHA-256 of their token.

A session token is 256 random bits; the browser keeps it in an HttpOnly
cookie and API clients send it as a bearer token. Redis stores only its
hash, so a copy of Redis cannot be replayed as sessions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError

from portal.errors import DependencyUnavailableError

log = logging.getLogger(__name__)

SESSION_TOKEN_PREFIX = "pst_"
SESSION_COOKIE = "portal_session"
_KEY_FORMAT = "portal:session:{digest}"


@dataclass
class PortalUser:
    """A signed-in portal user and the time of their last TOTP check."""

    user_id: str
    tenant_id: str
    email: str
    roles: set[str]
    mfa_at: datetime | None


@dataclass(frozen=True)
class NewSession:
    """A session just created; `token` is shown to the client once and stored nowhere."""

    token: str
    user: PortalUser
    expires_at: datetime

    def __repr__(self) -> str:
        return f"NewSession(user_id={self.user.user_id!r}, expires_at={self.expires_at!r})"


def session_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a session token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def _redis_key(token: str) -> str:
    return _KEY_FORMAT.format(digest=session_digest(token))


def _unavailable(exc: Exception) -> DependencyUnavailableError:
    return DependencyUnavailableError("redis", 5, f"session store: {type(exc).__name__}")


class SessionStore:
    """Creates, reads and ends portal sessions.

    Args:
        redis: The process's Redis client.
        ttl_seconds: Lifetime of a session from sign-in; it does not slide.
    """

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    async def create(
        self, *, user_id: str, tenant_id: str, email: str, roles: set[str], mfa_at: datetime | None
    ) -> NewSession:
        """Start a session and return its token, which only the caller receives.

        Raises:
            DependencyUnavailableError: Redis is down.
        """
        token = SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        fields = {
            "user_id": user_id,
            "tenant_id": tenant_id,
            "email": email,
            "roles": json.dumps(sorted(roles)),
            "mfa_at": mfa_at.isoformat() if mfa_at else "",
            "created_at": now.isoformat(),
        }
        key = _redis_key(token)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=fields)
                pipe.expire(key, self._ttl)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc
        log.info("session started user_id=%s tenant=%s", user_id, tenant_id)
        user = PortalUser(user_id, tenant_id, email, set(roles), mfa_at)
        return NewSession(token, user, now + timedelta(seconds=self._ttl))

    async def get(self, token: str) -> PortalUser | None:
        """Return the session's user, or None when the token is unknown or expired.

        Raises:
            DependencyUnavailableError: Redis is down.
        """
        try:
            fields = await self._redis.hgetall(_redis_key(token))
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc
        if not fields:
            return None
        data = {key.decode(): value.decode() for key, value in fields.items()}
        mfa_at = datetime.fromisoformat(data["mfa_at"]) if data.get("mfa_at") else None
        return PortalUser(
            user_id=data["user_id"],
            tenant_id=data["tenant_id"],
            email=data["email"],
            roles=set(json.loads(data["roles"])),
            mfa_at=mfa_at,
        )

    async def record_mfa(self, token: str, at: datetime) -> bool:
        """Record a passed TOTP check on the session; False when the session is gone.

        Raises:
            DependencyUnavailableError: Redis is down.
        """
        key = _redis_key(token)
        try:
            # HSET on an expired session would recreate it without a TTL.
            if not await self._redis.exists(key):
                return False
            await self._redis.hset(key, "mfa_at", at.isoformat())
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc
        return True

    async def end(self, token: str) -> None:
        """End a session, as on sign-out.

        Raises:
            DependencyUnavailableError: Redis is down.
        """
        try:
            await self._redis.delete(_redis_key(token))
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from exc
