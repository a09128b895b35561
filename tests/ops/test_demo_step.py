"""The operations step of `portal demo` on real servers: ciphertext, plaintext, replay."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis
from temporalio.client import Client
from temporalio.worker import Worker

from activities.redis_store import RedisActivities
from portal.demo import STEPS, DemoContext
from portal.ops.demo import DEMO_PHONE, encrypted_history_step
from portal.settings import Settings
from portal.temporal import TaskQueue
from tests.harness.servers import ManagedProcess
from workflows.stack_check import StackCheckWorkflow


def test_demo_lists_operations_step():
    assert encrypted_history_step in [step.run for step in STEPS]


async def test_demo_step_shows_both_views_and_replays(
    ops_client: Client,
    ops_settings: Settings,
    codec_server: ManagedProcess,
    redis_server: ManagedProcess,
):
    lines: list[str] = []
    redis = Redis.from_url(redis_server.url)  # type: ignore[attr-defined]
    worker = Worker(
        ops_client,
        task_queue=TaskQueue.OPS,
        workflows=[StackCheckWorkflow],
        activities=[RedisActivities(redis).ping_redis],
    )
    async with worker, httpx.AsyncClient() as http:
        ctx = DemoContext(settings=ops_settings, http=http, temporal=ops_client, echo=lines.append)
        await encrypted_history_step(ctx)
    await redis.aclose()

    output = "\n".join(lines)
    assert "the number is not visible" in output
    assert "the input reads " in output
    assert DEMO_PHONE in output
    assert "portal ops replay" in output
    assert ": deterministic:" in output
