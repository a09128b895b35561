"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from temporalio.client import Client

from api.deps import get_redis, get_temporal
from api.problems import DependencyUnavailable
from portal.metrics import DEPENDENCY_UP

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

PROBE_TIMEOUT_SECONDS = 1.5


async def _probe_temporal(client: Client) -> None:
    await client.service_client.check_health(timeout=timedelta(seconds=PROBE_TIMEOUT_SECONDS))


async def _probe_redis(redis: Redis) -> None:
    await redis.ping()


async def _is_up(name: str, probe) -> bool:
    try:
        await asyncio.wait_for(probe, PROBE_TIMEOUT_SECONDS)
    except (TimeoutError, RedisError, OSError, RuntimeError) as exc:
        log.warning("readiness probe failed dependency=%s error=%r", name, exc)
        DEPENDENCY_UP.labels(name).set(0)
        return False
    DEPENDENCY_UP.labels(name).set(1)
    return True


@router.get("/healthz", summary="Process is alive")
async def healthz() -> dict[str, str]:
    """Return 200 while the process serves requests, without checking any dependency."""
    return {"status": "ok"}


@router.get("/readyz", summary="Dependencies are reachable")
async def readyz(
    request: Request,
    temporal: Client = Depends(get_temporal),
    redis: Redis = Depends(get_redis),
) -> dict[str, object]:
    """Return 200 when Temporal and Redis reply, else a 503 naming those that do not."""
    probes = {"temporal": _probe_temporal(temporal), "redis": _probe_redis(redis)}
    for name, probe in request.app.state.readiness_probes.items():
        probes[name] = probe()
    results = await asyncio.gather(*(_is_up(name, probe) for name, probe in probes.items()))
    down = [name for name, up in zip(probes, results, strict=True) if not up]
    if down:
        raise DependencyUnavailable(
            ", ".join(down),
            retry_after=5,
            detail=f"Not ready: {', '.join(down)} unreachable.",
        )
    return {"status": "ready", "dependencies": {name: "up" for name in probes}}


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    """Expose the process's metrics in the Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
