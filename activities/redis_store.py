"""Activities that talk to Redis."""

from __future__ import annotations

import time

from redis.asyncio import Redis
from temporalio import activity


class RedisActivities:
    """Activities sharing the worker's Redis client."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    @activity.defn
    async def ping_redis(self) -> float:
        """Ping Redis and return the round trip in milliseconds."""
        started = time.perf_counter()
        await self._redis.ping()
        return (time.perf_counter() - started) * 1000
