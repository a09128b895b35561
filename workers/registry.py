"""Which workflows and activities run on which task queue.

Each area of the portal adds its registrations in `build_registrations`.
The worker process, the test harness and the replayer all read this list,
so they never disagree about what runs where.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from temporalio.client import Client

from activities.redis_store import RedisActivities
from portal.settings import Settings
from portal.temporal import TaskQueue
from workflows.stack_check import StackCheckWorkflow


@dataclass
class WorkerContext:
    """Shared clients handed to activity classes."""

    settings: Settings
    temporal: Client
    redis: Redis
    exit_stack: AsyncExitStack
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Registration:
    """Workflows and activities that one task queue runs."""

    task_queue: str
    workflows: list[type] = field(default_factory=list)
    activities: list[Callable[..., Any]] = field(default_factory=list)


def all_workflows() -> Sequence[type]:
    """Return every workflow class of the portal, for the replayer and tests."""
    from portal.sdk.worker import SDK_WORKFLOWS
    from portal.verify.worker import VERIFY_WORKFLOWS
    from workers.docs import DOCS_WORKFLOWS
    from workflows.key_revocation import KeyRevocationWorkflow

    return [
        StackCheckWorkflow,
        KeyRevocationWorkflow,
        *DOCS_WORKFLOWS,
        *VERIFY_WORKFLOWS,
        *SDK_WORKFLOWS,
    ]


async def build_registrations(ctx: WorkerContext) -> list[Registration]:
    """Create the activity instances and group them with workflows per task queue."""
    redis_activities = RedisActivities(ctx.redis)
    ops = Registration(
        TaskQueue.OPS,
        workflows=[StackCheckWorkflow],
        activities=[redis_activities.ping_redis],
    )
    from workers.keys import keys_registration

    keys = await keys_registration(ctx)
    from workers.docs import build_docs_registration

    docs = await build_docs_registration(ctx)
    from portal.verify.worker import verify_registration

    verify = await verify_registration(ctx)
    from portal.sdk.worker import sdk_registration

    sdk = await sdk_registration(ctx)
    return [ops, keys, docs, verify, sdk]
