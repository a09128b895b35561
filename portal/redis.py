"""Redis connections with timeouts short enough that an outage becomes a fast 503."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from portal.settings import Settings

# A healthy Redis replies in milliseconds. A server that accepts connections
# but does not reply (paused, swapping) fails each command after this long.
COMMAND_TIMEOUT_SECONDS = 1.0


def create_redis(settings: Settings, *, url: str | None = None) -> Redis:
    """Create an asyncio Redis client for `url` (default: `settings.redis_url`).

    One immediate retry covers a dropped idle connection. A timed-out command
    is not retried, so a hung server costs each command at most
    `COMMAND_TIMEOUT_SECONDS` and callers return 503 instead of hanging.
    """
    return Redis.from_url(
        url or settings.redis_url,
        socket_connect_timeout=1.0,
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        health_check_interval=30,
    )
