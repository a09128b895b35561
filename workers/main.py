"""The portal's worker process: runs every task queue of the portal.

Run it with `portal worker`. It exports the Temporal SDK's metrics and the
portal's own through Prometheus, and drains in-flight activities on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack
from datetime import timedelta

from temporalio.worker import Worker

from portal import temporal
from portal.metrics import serve_metrics
from portal.redis import create_redis
from portal.settings import Settings
from workers.registry import WorkerContext, build_registrations

log = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN = timedelta(seconds=20)


async def run_worker(
    settings: Settings, stop: asyncio.Event | None = None, *, handle_signals: bool = True
) -> None:
    """Poll every portal task queue until `stop` is set or SIGINT/SIGTERM arrives.

    Args:
        settings: Portal settings.
        stop: Event that ends the worker; a new one when None.
        handle_signals: Install SIGINT/SIGTERM handlers (off when embedded in tests).
    """
    stop = stop or asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)

    serve_metrics(settings.worker_metrics_port, host=settings.host)
    runtime = temporal.build_runtime(f"{settings.host}:{settings.worker_sdk_metrics_port}")
    client = await temporal.connect(settings, runtime=runtime)

    async with AsyncExitStack() as stack:
        redis = create_redis(settings)
        stack.push_async_callback(redis.aclose)
        ctx = WorkerContext(settings=settings, temporal=client, redis=redis, exit_stack=stack)
        registrations = await build_registrations(ctx)

        workers = [
            Worker(
                client,
                task_queue=registration.task_queue,
                workflows=registration.workflows,
                activities=registration.activities,
                graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
            )
            for registration in registrations
        ]
        for registration in registrations:
            log.info(
                "polling task_queue=%s workflows=%s activities=%d",
                registration.task_queue,
                ",".join(w.__name__ for w in registration.workflows) or "-",
                len(registration.activities),
            )

        async with AsyncExitStack() as running:
            for worker in workers:
                await running.enter_async_context(worker)
            log.info("worker started task_queues=%d", len(workers))
            await stop.wait()
            log.info("worker stopping: draining in-flight activities")
    log.info("worker stopped")
