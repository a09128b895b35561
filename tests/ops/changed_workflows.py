"""StackCheckWorkflow changed incompatibly in three ways, for the replay tests.

Kept apart from the test modules because the workflow sandbox re-imports the
module that defines a workflow, and these import nothing but the workflow API.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.redis_store import RedisActivities
    from workflows.stack_check import StackCheckInput


@workflow.defn(name="StackCheckWorkflow")
class TimerFirstStackCheck:
    """StackCheckWorkflow changed incompatibly: a timer now precedes the Redis ping."""

    @workflow.run
    async def run(self, params: StackCheckInput) -> None:
        await workflow.sleep(timedelta(seconds=1))
        await workflow.execute_activity_method(
            RedisActivities.ping_redis, start_to_close_timeout=timedelta(seconds=5)
        )


@workflow.defn(name="StackCheckWorkflow")
class RenamedActivityStackCheck:
    """StackCheckWorkflow changed incompatibly: it calls another activity type."""

    @workflow.run
    async def run(self, params: StackCheckInput) -> None:
        await workflow.execute_activity(
            "ping_redis_v2", start_to_close_timeout=timedelta(seconds=5)
        )


@workflow.defn(name="StackCheckWorkflow")
class ExtraStepStackCheck:
    """StackCheckWorkflow changed incompatibly: a second ping follows the first."""

    @workflow.run
    async def run(self, params: StackCheckInput) -> None:
        for _ in range(2):
            await workflow.execute_activity_method(
                RedisActivities.ping_redis, start_to_close_timeout=timedelta(seconds=5)
            )
