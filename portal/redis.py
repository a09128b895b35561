"""Redis connections with timeouts short enough that an outage becomes a fast 503."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.asyncio.retry import Retry

from portal.settings import Settings


def create_redis(settings: Settings, *, url: str | None = None) -> Redis:
    """Create an asyncio Redis client for `url` (default: `settings.redis_url`).

    One quick retry covers a dropped idle connection; longer outages surface
    at once so callers can answer 503 instead of hanging.
    """
    return Redis.from_url(
        url or settings.redis_url,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )
