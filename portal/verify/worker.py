"""Verify's part of the worker: its activities, the pepper rotation schedule and housekeeping.

Housekeeping is a loop beside the pollers that refreshes the gauges no
activity touches (pepper age, breaker states) and reads the Redis ACL log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import grpc
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from activities.dispatch import DispatchActivities
from activities.kms import KmsActivities
from activities.verify_store import VerifyStoreActivities
from portal.redis import create_redis
from portal.settings import Settings
from portal.temporal import TaskQueue, ensure_schedule
from portal.verify.breaker import ChannelBreakers
from portal.verify.caps import CapPolicy
from portal.verify.keyring import NUMBER_KEY, PEPPER, DataKeyRing
from portal.verify.kms import VerifyKms
from portal.verify.metrics import PEPPER_AGE, PEPPER_ROTATION_INTERVAL
from portal.verify.redis_acl import AclLogWatcher, redis_username
from portal.verify.service import KEY_RETENTION_MARGIN_SECONDS
from portal.verify.store import SessionStore
from protos.dispatch.v1 import dispatch_pb2_grpc
from workflows.pepper_rotation import (
    SCHEDULE_ID,
    PepperRotationInput,
    PepperRotationWorkflow,
)
from workflows.verify_session import VerifySessionWorkflow

if TYPE_CHECKING:
    from workers.registry import Registration, WorkerContext

log = logging.getLogger(__name__)

VERIFY_WORKFLOWS: list[type] = [VerifySessionWorkflow, PepperRotationWorkflow]
CHANNELS = ("whatsapp", "sms", "voice")


async def verify_registration(ctx: WorkerContext) -> Registration:
    """Create Verify's activities, schedule the pepper rotation and start housekeeping."""
    from workers.registry import Registration

    settings = ctx.settings
    kms = VerifyKms(settings)
    retention = settings.verify_session_ttl_seconds + KEY_RETENTION_MARGIN_SECONDS
    rings = {
        PEPPER: DataKeyRing(ctx.redis, kms, PEPPER, retention),
        NUMBER_KEY: DataKeyRing(ctx.redis, kms, NUMBER_KEY, retention),
    }
    store = SessionStore(ctx.redis, CapPolicy(settings))
    breakers = ChannelBreakers(ctx.redis, settings)

    channel = grpc.aio.insecure_channel(settings.dispatch_address)
    ctx.exit_stack.push_async_callback(channel.close)
    dispatch = DispatchActivities(
        dispatch_pb2_grpc.DispatchServiceStub(channel),
        store,
        breakers,
        rings[PEPPER],
        rings[NUMBER_KEY],
        settings.verify_delivery_poll_seconds,
    )
    store_activities = VerifyStoreActivities(store, rings)
    kms_activities = KmsActivities(kms)

    await ensure_rotation_schedule(ctx.temporal, settings)
    await start_housekeeping(ctx, rings[PEPPER], breakers)

    return Registration(
        TaskQueue.VERIFY,
        workflows=list(VERIFY_WORKFLOWS),
        activities=[
            dispatch.send_code,
            dispatch.await_delivery,
            store_activities.end_session,
            store_activities.install_data_key,
            store_activities.prune_data_keys,
            kms_activities.generate_data_key,
        ],
    )


async def ensure_rotation_schedule(client: Client, settings: Settings) -> None:
    """Create the pepper rotation schedule, or bring its interval in line with settings."""
    every = timedelta(seconds=settings.verify_pepper_rotation_seconds)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            PepperRotationWorkflow.run,
            PepperRotationInput(),
            id=f"{SCHEDULE_ID}-run",
            task_queue=TaskQueue.VERIFY,
            static_summary="Rotate the Verify code pepper",
            static_details="Installs a new KMS data key as the pepper; prunes expired versions.",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    if await ensure_schedule(client, SCHEDULE_ID, schedule):
        log.info("pepper rotation scheduled every=%s", every)


async def start_housekeeping(
    ctx: WorkerContext, pepper: DataKeyRing, breakers: ChannelBreakers
) -> None:
    """Run the housekeeping loop until the worker stops."""
    settings = ctx.settings
    PEPPER_ROTATION_INTERVAL.set(settings.verify_pepper_rotation_seconds)
    watcher = None
    if settings.redis_admin_url:
        admin = create_redis(settings, url=settings.redis_admin_url)
        ctx.exit_stack.push_async_callback(admin.aclose)
        watcher = AclLogWatcher(
            admin, redis_username(settings.redis_url), redis_username(settings.redis_admin_url)
        )
    else:
        log.warning("PORTAL_REDIS_ADMIN_URL is unset: the Redis ACL log is not watched")

    async def loop() -> None:
        interval = settings.verify_acl_log_interval_seconds
        log.info("verify housekeeping started interval=%.0fs", interval)
        while True:
            await housekeeping_pass(pepper, breakers, watcher)
            await asyncio.sleep(settings.verify_acl_log_interval_seconds)

    task = asyncio.create_task(loop(), name="verify-housekeeping")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        log.info("verify housekeeping stopped")

    ctx.exit_stack.push_async_callback(stop)


async def housekeeping_pass(
    pepper: DataKeyRing, breakers: ChannelBreakers, watcher: AclLogWatcher | None
) -> None:
    """Refresh the pepper age and breaker gauges, then read the ACL log once."""
    try:
        age = await pepper.current_age_seconds()
        if age is not None:
            PEPPER_AGE.set(age)
        for channel in CHANNELS:
            await breakers.state(channel)
    except Exception as exc:  # noqa: BLE001 - the loop must outlive any one failure
        log.warning("verify housekeeping failed error=%r", exc)
    if watcher is not None:
        await watcher.poll()
