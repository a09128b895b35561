"""Redis breaches: codes under a rotating KMS pepper, numbers under a KMS data key."""

from __future__ import annotations

import asyncio
import base64
import uuid

import pytest
from prometheus_client import REGISTRY

from portal.errors import DependencyUnavailableError
from portal.temporal import TaskQueue
from portal.verify.keyring import KEY_PREFIX, PEPPER, DataKeyRing
from portal.verify.kms import VerifyKms
from portal.verify.store import codes_key, session_key
from tests.verify.conftest import code_from
from workflows.pepper_rotation import (
    SCHEDULE_ID,
    PepperRotationInput,
    PepperRotationResult,
    PepperRotationWorkflow,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def rotate(temporal_client) -> PepperRotationResult:
    """Run one pepper rotation through the worker, as the schedule would."""
    return await temporal_client.execute_workflow(
        PepperRotationWorkflow.run,
        PepperRotationInput(requested_by="test"),
        id=f"verify-pepper-rotation-test-{uuid.uuid4().hex[:8]}",
        task_queue=TaskQueue.VERIFY,
    )


async def stored_versions(admin_redis, session_id: str) -> set[int]:
    """Return the pepper versions of a session's stored code HMACs."""
    members = await admin_redis.smembers(codes_key(session_id))
    return {int(member.decode().partition(":")[0]) for member in members}


async def test_rotation_keeps_session_codes_valid(
    caller, dispatch_admin, numbers, temporal_client, admin_redis
):
    await dispatch_admin.set_channel("whatsapp", auto_report=False)
    to = numbers()
    session = (await caller.start(to)).json()
    first = await dispatch_admin.wait_for_message(to, channel="whatsapp")
    [old_version] = await stored_versions(admin_redis, session["id"])

    rotated = await rotate(temporal_client)
    assert rotated.version == old_version + 1

    # The fallback's code is stored under the new pepper, the first one under the old.
    await dispatch_admin.report(first["message_id"], "failed", "whatsapp_undeliverable")
    await dispatch_admin.wait_for_message(to, channel="sms")
    assert await stored_versions(admin_redis, session["id"]) == {old_version, rotated.version}

    checked = await caller.check(session["id"], code_from(first))
    assert checked.json()["status"] == "approved"

    other = numbers()
    fresh = (await caller.start(other)).json()
    await dispatch_admin.wait_for_message(other)
    assert await stored_versions(admin_redis, fresh["id"]) == {rotated.version}


async def test_redis_holds_only_wrapped_keys(portal_settings, admin_redis, temporal_client):
    await rotate(temporal_client)
    meta = await admin_redis.hgetall(f"{KEY_PREFIX}:{{{PEPPER}}}")
    current = int(meta[b"current"])
    record = await admin_redis.hgetall(f"{KEY_PREFIX}:{{{PEPPER}}}:v{current}")
    wrapped = base64.b64decode(record[b"wrapped"])

    ring = DataKeyRing(admin_redis, VerifyKms(portal_settings), PEPPER, 600)
    plaintext = await ring.key(current)

    assert len(plaintext) == 32
    assert plaintext not in wrapped
    assert set(record) == {b"wrapped", b"created_at"}


async def test_prune_drops_versions_after_retention(portal_settings, admin_redis):
    ring = DataKeyRing(admin_redis, VerifyKms(portal_settings), f"test-{uuid.uuid4().hex[:6]}", 600)
    first = await ring.current_version()
    kms = VerifyKms(portal_settings)
    second = await ring.install(await kms.generate_data_key(ring.purpose))
    assert second == first + 1
    version, _ = await ring.current()
    assert version == second

    assert await ring.prune() == []
    assert await ring.key(first)
    assert await ring.prune(now=10**10) == [first]
    assert await ring.current_version() == second


class CountingKms(VerifyKms):
    """The real KMS client, counting its unwrap calls."""

    unwraps = 0

    async def unwrap(self, wrapped: bytes, purpose: str) -> bytes:
        self.unwraps += 1
        return await super().unwrap(wrapped, purpose)


async def test_cold_ring_unwraps_once(portal_settings, admin_redis):
    purpose = f"test-{uuid.uuid4().hex[:6]}"
    version = await DataKeyRing(
        admin_redis, VerifyKms(portal_settings), purpose, 600
    ).current_version()
    kms = CountingKms(portal_settings)
    cold = DataKeyRing(admin_redis, kms, purpose, 600)

    keys = await asyncio.gather(*(cold.key(version) for _ in range(8)))

    assert kms.unwraps == 1
    assert len(set(keys)) == 1


class FailingKms(VerifyKms):
    """A KMS client whose unwrap calls fail after a short wait, counting them."""

    unwraps = 0

    async def unwrap(self, wrapped: bytes, purpose: str) -> bytes:
        self.unwraps += 1
        await asyncio.sleep(0.2)
        raise DependencyUnavailableError("kms", 1, "test outage")


async def test_cold_ring_shares_one_failure(portal_settings, admin_redis):
    purpose = f"test-{uuid.uuid4().hex[:6]}"
    ring = DataKeyRing(admin_redis, VerifyKms(portal_settings), purpose, 600)
    version = await ring.current_version()
    kms = FailingKms(portal_settings)
    cold = DataKeyRing(admin_redis, kms, purpose, 600)

    results = await asyncio.gather(*(cold.key(version) for _ in range(6)), return_exceptions=True)
    retried = await asyncio.gather(cold.key(version), return_exceptions=True)

    assert kms.unwraps == 2
    assert all(isinstance(result, DependencyUnavailableError) for result in results)
    assert isinstance(retried[0], DependencyUnavailableError)


async def test_rotation_schedule_exists(temporal_client, portal_settings):
    description = await temporal_client.get_schedule_handle(SCHEDULE_ID).describe()
    [interval] = description.schedule.spec.intervals
    assert interval.every.total_seconds() == portal_settings.verify_pepper_rotation_seconds
    assert description.schedule.action.workflow == PepperRotationWorkflow.__name__


async def test_number_stored_encrypted(caller, dispatch_admin, numbers, admin_redis):
    to = numbers()
    session = (await caller.start(to)).json()
    await dispatch_admin.wait_for_message(to)
    raw = await admin_redis.hgetall(session_key(session["id"]))
    values = b" ".join(raw.values()).decode()

    assert to not in values
    assert to[2:] not in values
    assert raw[b"masked_to"].decode() == session["to"]


async def test_pepper_age_is_exported(caller, dispatch_admin, numbers):
    from portal.verify.worker import housekeeping_pass

    await housekeeping_pass(caller_pepper(caller), caller_breakers(caller), None)
    age = REGISTRY.get_sample_value("portal_verify_pepper_age_seconds")
    assert age is not None and age >= 0


def caller_pepper(caller):
    """Return the API's pepper ring (the worker's is another instance of the same ring)."""
    return caller.http._transport.app.state.verify.pepper


def caller_breakers(caller):
    """Return the API's channel breakers."""
    return caller.http._transport.app.state.verify.breakers
