"""StackCheckWorkflow: a short durable round trip through the worker and Redis.

`portal demo` starts it first, and the restart test uses it to prove that
workflows survive a restart of the local stack.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.redis_store import RedisActivities


class StackCheckInput(BaseModel):
    """Input of StackCheckWorkflow."""

    requested_by: str = "portal"


class StackCheckResult(BaseModel):
    """Round-trip times observed by StackCheckWorkflow."""

    redis_ping_ms: float


@workflow.defn
class StackCheckWorkflow:
    """Checks that a worker picks up tasks and reaches Redis."""

    @workflow.run
    async def run(self, params: StackCheckInput) -> StackCheckResult:
        workflow.logger.info("stack check started requested_by=%s", params.requested_by)

        # Short timeout: a healthy Redis answers in milliseconds, and a stuck
        # check should fail visibly instead of hanging the demo.
        redis_ping_ms = await workflow.execute_activity_method(
            RedisActivities.ping_redis,
            start_to_close_timeout=timedelta(seconds=5),
        )

        return StackCheckResult(redis_ping_ms=redis_ping_ms)
