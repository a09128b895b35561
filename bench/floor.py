"""The start floor of bench/verify.py: a workflow with one trivial activity, and its worker.

It lives apart from bench/verify.py because the workflow sandbox re-imports
a workflow's module, and that script resolves paths and reads the
environment when it is imported.

Run the worker with `python -m bench.floor ADDRESS` from the repository root.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from temporalio import activity, workflow

TASK_QUEUE = "bench-floor"


@activity.defn
async def bench_echo(value: str) -> str:
    """Return `value`: the one activity of the floor workflow."""
    return value


@workflow.defn
class BenchFloorWorkflow:
    """The start floor: a workflow that runs one trivial activity."""

    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            bench_echo, value, start_to_close_timeout=timedelta(seconds=10)
        )


async def run_floor_worker(address: str) -> None:
    """Poll the floor task queue until the process is killed."""
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    async with Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[BenchFloorWorkflow],
        activities=[bench_echo],
    ):
        await asyncio.Event().wait()


if __name__ == "__main__":
    from portal.process import run_event_loop

    # The same event loop as the portal's worker, so the ratio compares designs, not loops.
    run_event_loop(run_floor_worker(sys.argv[1]))
