"""Verify's operations as the API performs them: start, read, check and cancel a session.

HTTP lives in `api/routers/verify.py`. This module contains the logic, so the
benchmark and the demo exercise the same code. Redis failures become
`DependencyUnavailableError` (a fast 503), never a hang.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.service import RPCError

from portal.errors import DependencyUnavailableError
from portal.settings import Settings
from portal.temporal import SA_SESSION_STATUS, SA_TENANT, TaskQueue
from portal.verify.breaker import ChannelBreakers, breaker_key
from portal.verify.caps import CapPolicy
from portal.verify.codes import is_well_formed
from portal.verify.keyring import (
    NUMBER_KEY,
    PEPPER,
    DataKeyRing,
    KeyVersionMissing,
    code_digest,
    encrypt_number,
    recipient_id,
)
from portal.verify.kms import VerifyKms
from portal.verify.metrics import CHECKS, SESSIONS_STARTED
from portal.verify.phone import PhoneNumber
from portal.verify.store import (
    SessionRecord,
    SessionStatus,
    SessionStore,
    SessionUnavailable,
    new_session_id,
)

log = logging.getLogger(__name__)

TEMPORAL_RPC_TIMEOUT = timedelta(seconds=3)
# A rotated key stays usable this long past a session's lifetime, for clock skew.
KEY_RETENTION_MARGIN_SECONDS = 60


def workflow_id(session_id: str) -> str:
    """Return the id of a session's workflow: the session id, never the number."""
    return f"verify-session-{session_id}"


@asynccontextmanager
async def redis_errors_as_unavailable() -> AsyncIterator[None]:
    """Turn a Redis failure into `DependencyUnavailableError`, which the API maps to a 503."""
    try:
        yield
    except (RedisError, OSError) as exc:
        log.warning("Redis call failed error=%s", type(exc).__name__)
        raise DependencyUnavailableError("redis", 5, type(exc).__name__) from exc


@dataclass(frozen=True)
class Caller:
    """The caller of an operation: the tenant and key id of the authenticated API key."""

    tenant_id: str
    key_id: str


@dataclass(frozen=True)
class StartRequest:
    """A validated request to start a session."""

    to: PhoneNumber
    channels: list[str]
    locale: str
    code_length: int
    channel_timeout_seconds: int


@dataclass(frozen=True)
class CheckOutcome:
    """Result of a code check.

    Attributes:
        result: `approved`, `rejected` or `invalid_code` (the code was not
            digits of the session's length; it still counted as an attempt).
        attempts_remaining: Checks left.
        status: The session's status after the check.
    """

    result: str
    attempts_remaining: int
    status: SessionStatus


class ChannelsUnavailable(Exception):
    """Every requested channel's breaker is open; one may reopen after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("every requested channel is unavailable")
        self.retry_after = retry_after


class VerifyService:
    """Starts, reads, checks and cancels Verify sessions.

    Args:
        settings: Portal settings.
        redis: Redis client (the portal's ACL user).
        temporal: Temporal client.
        kms: KMS client of Verify's data keys.
    """

    def __init__(self, settings: Settings, redis: Redis, temporal: Client, kms: VerifyKms) -> None:
        self.settings = settings
        self.temporal = temporal
        self.store = SessionStore(redis, CapPolicy(settings))
        self.breakers = ChannelBreakers(redis, settings)
        retention = settings.verify_session_ttl_seconds + KEY_RETENTION_MARGIN_SECONDS
        self.pepper = DataKeyRing(redis, kms, PEPPER, retention)
        self.number_key = DataKeyRing(redis, kms, NUMBER_KEY, retention)

    async def start(self, caller: Caller, request: StartRequest) -> SessionRecord:
        """Create a session in Redis and start its workflow.

        Raises:
            CapExceeded: a session cap is exhausted; nothing was created.
            ChannelsUnavailable: every requested channel's breaker is open.
            DependencyUnavailableError: Redis, KMS or Temporal is down. A session
                whose workflow could not start is deleted again; its caps stay
                consumed.
        """
        from workflows.verify_session import VerifySessionInput, VerifySessionWorkflow

        session_id = new_session_id()
        now = time.time()
        async with redis_errors_as_unavailable():
            number_version, number_key = await self.number_key.current(max_age=60)
            record = SessionRecord(
                session_id=session_id,
                tenant_id=caller.tenant_id,
                key_id=caller.key_id,
                status=SessionStatus.PENDING,
                channels=request.channels,
                code_length=request.code_length,
                locale=request.locale,
                created_at=now,
                expires_at=now + self.settings.verify_session_ttl_seconds,
                attempts=0,
                max_attempts=self.settings.verify_max_attempts,
                masked_to=request.to.masked,
                recipient=recipient_id(number_key, request.to.e164),
                number=encrypt_number(number_key, number_version, session_id, request.to.e164),
            )
            breaker_keys = [breaker_key(channel) for channel in request.channels]
            record.current_channel = await self.store.create(record, breaker_keys)
        if record.current_channel is None:
            raise ChannelsUnavailable(int(self.settings.verify_breaker_open_seconds))

        expires_at = datetime.fromtimestamp(record.expires_at, UTC)
        try:
            await self.temporal.start_workflow(
                VerifySessionWorkflow.run,
                VerifySessionInput(
                    session_id=session_id,
                    tenant_id=caller.tenant_id,
                    channels=request.channels,
                    channel_timeout_seconds=request.channel_timeout_seconds,
                    expires_at=expires_at,
                ),
                id=workflow_id(session_id),
                task_queue=TaskQueue.VERIFY,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(SA_TENANT, caller.tenant_id),
                        SearchAttributePair(SA_SESSION_STATUS, SessionStatus.PENDING.value),
                    ]
                ),
                static_summary=f"Verify session {session_id}",
                static_details=(
                    f"Tenant {caller.tenant_id}, key {caller.key_id}: channels "
                    f"{' then '.join(request.channels)}, {request.channel_timeout_seconds} s "
                    f"each, expires {expires_at.isoformat()}."
                ),
                rpc_timeout=TEMPORAL_RPC_TIMEOUT,
            )
        except (RPCError, RuntimeError) as exc:
            # A lazy client that cannot connect raises RuntimeError, not RPCError.
            reason = str(exc.status) if isinstance(exc, RPCError) else "connect failed"
            log.warning("workflow start failed session_id=%s error=%s", session_id, reason)
            await self._forget(session_id)
            raise DependencyUnavailableError("temporal", 5, reason) from exc

        SESSIONS_STARTED.inc()
        log.info(
            "verify session started session_id=%s tenant=%s key_id=%s channels=%s",
            session_id,
            caller.tenant_id,
            caller.key_id,
            ",".join(request.channels),
        )
        return record

    async def get(self, caller: Caller, session_id: str) -> SessionRecord | None:
        """Return the caller's session, or None when it is unknown or another tenant's."""
        async with redis_errors_as_unavailable():
            return await self.store.get(session_id, caller.tenant_id)

    async def check(self, caller: Caller, session_id: str, code: str) -> CheckOutcome:
        """Count an attempt and compare `code` with every code sent in the session.

        Raises:
            SessionUnavailable: the session is unknown, another tenant's,
                final, or has no attempt left; nothing was compared.
        """
        async with redis_errors_as_unavailable():
            try:
                reservation = await self.store.reserve_attempt(session_id, caller.tenant_id)
            except SessionUnavailable as exc:
                CHECKS.labels(_unavailable_result(exc.status)).inc()
                raise

            well_formed = is_well_formed(code, reservation.code_length)
            matched = well_formed and await self._matches(session_id, code, reservation.codes)
            outcome = await self.store.finish_attempt(session_id, matched, reservation.attempt)

        if outcome.startswith("conflict:"):
            status = outcome.partition(":")[2]
            CHECKS.labels(_unavailable_result(status)).inc()
            raise SessionUnavailable(status)
        if outcome in ("approved", "locked"):
            await self._signal(session_id, SessionStatus(outcome))
        result = "approved" if outcome == "approved" else "rejected"
        if not well_formed:
            result = "invalid_code"
        CHECKS.labels(result).inc()
        log.info(
            "code checked session_id=%s attempt=%d result=%s status=%s",
            session_id,
            reservation.attempt,
            result,
            outcome,
        )
        settled = outcome in ("approved", "locked")
        status = SessionStatus(outcome) if settled else SessionStatus.PENDING
        return CheckOutcome(result, reservation.attempts_remaining, status)

    async def cancel(self, caller: Caller, session_id: str) -> str:
        """Cancel the caller's pending session; return its status after the call, or `not_found`."""
        async with redis_errors_as_unavailable():
            status = await self.store.end(
                session_id, SessionStatus.CANCELLED, "cancelled by the caller", caller.tenant_id
            )
        if status == SessionStatus.CANCELLED:
            log.info("verify session cancelled session_id=%s", session_id)
            await self._signal(session_id, SessionStatus.CANCELLED)
        return status

    async def _matches(self, session_id: str, code: str, stored: list[tuple[int, bytes]]) -> bool:
        # Compare with every stored digest, without stopping at a match, so
        # the time taken does not say which one matched.
        matched = False
        for version, digest in stored:
            try:
                pepper = await self.pepper.key(version)
            except KeyVersionMissing:
                log.warning("pepper version gone session_id=%s version=%d", session_id, version)
                continue
            if hmac.compare_digest(code_digest(pepper, session_id, code), digest):
                matched = True
        return matched

    async def _signal(self, session_id: str, status: SessionStatus) -> None:
        from workflows.verify_session import SessionEnded, VerifySessionWorkflow

        handle: WorkflowHandle = self.temporal.get_workflow_handle_for(
            VerifySessionWorkflow.run, workflow_id(session_id)
        )
        try:
            await handle.signal(
                VerifySessionWorkflow.session_ended,
                SessionEnded(status=status),
                rpc_timeout=TEMPORAL_RPC_TIMEOUT,
            )
        except (RPCError, RuntimeError) as exc:
            # Redis already contains the result, and the workflow re-reads it
            # before every send, so a lost signal only delays the workflow's end.
            log.warning(
                "signal to session workflow failed session_id=%s status=%s error=%r",
                session_id,
                status,
                exc,
            )

    async def _forget(self, session_id: str) -> None:
        try:
            await self.store.delete(session_id)
        except (RedisError, OSError) as exc:
            # TODO: a session left here expires with its TTL; no workflow ever sends for it.
            log.error("could not delete unstarted session session_id=%s error=%r", session_id, exc)


def _unavailable_result(status: str) -> str:
    if status == "not_found":
        return "not_found"
    if status == SessionStatus.APPROVED:
        return "already_approved"
    if status in (SessionStatus.LOCKED, "exhausted"):
        return "too_many_attempts"
    return "gone"
