"""FastAPI dependencies for the shared clients created in the lifespan handler."""

from __future__ import annotations

from fastapi import Request
from redis.asyncio import Redis
from temporalio.client import Client

from portal.settings import Settings


def get_settings(request: Request) -> Settings:
    """Return the settings the app was created with."""
    return request.app.state.settings


def get_temporal(request: Request) -> Client:
    """Return the app's shared Temporal client."""
    return request.app.state.temporal


def get_redis(request: Request) -> Redis:
    """Return the app's shared Redis client."""
    return request.app.state.redis
