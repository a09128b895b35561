"""FastAPI dependencies for the shared clients created in the lifespan handler.

The accessors here and in the routers are coroutines because FastAPI runs a
plain `def` dependency in its thread pool, and a thread hop per request costs
more than reading an attribute.
"""

from __future__ import annotations

from fastapi import Request
from redis.asyncio import Redis
from temporalio.client import Client

from portal.settings import Settings


async def get_settings(request: Request) -> Settings:
    """Return the settings the app was created with."""
    return request.app.state.settings


async def get_temporal(request: Request) -> Client:
    """Return the app's shared Temporal client."""
    return request.app.state.temporal


async def get_redis(request: Request) -> Redis:
    """Return the app's shared Redis client."""
    return request.app.state.redis
