"""Activities that talk to dispatch: send a one-time code, follow its delivery report.

The code is drawn, HMAC'd and put into the message text inside `send_code`,
and the number is decrypted there, so neither the code, the text nor the
number is ever an activity input or result, and none enters Temporal
history.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import timedelta
from enum import StrEnum

import grpc
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from portal.verify.breaker import ChannelBreakers
from portal.verify.caps import CapName
from portal.verify.codes import draw_code, render_message
from portal.verify.keyring import DataKeyRing, code_digest, decrypt_number, split_version
from portal.verify.metrics import (
    CAP_REJECTIONS,
    CHANNEL_SKIPS,
    DELIVERY_REPORTS,
    DISPATCHES,
)
from portal.verify.store import SessionStore
from protos.dispatch.v1 import dispatch_pb2, dispatch_pb2_grpc

SEND_DEADLINE_SECONDS = 5.0
CHANNELS = {
    "whatsapp": dispatch_pb2.CHANNEL_WHATSAPP,
    "sms": dispatch_pb2.CHANNEL_SMS,
    "voice": dispatch_pb2.CHANNEL_VOICE,
}
# gRPC codes that say the channel itself is failing; they count against its breaker.
CHANNEL_FAULTS = {
    grpc.StatusCode.UNAVAILABLE: "unavailable",
    grpc.StatusCode.INTERNAL: "error",
    grpc.StatusCode.DEADLINE_EXCEEDED: "timeout",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "unavailable",
}


class SendOutcome(StrEnum):
    """What became of one channel's send."""

    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    STOPPED = "stopped"
    CAPPED = "capped"


class SendCodeInput(BaseModel):
    """Input of `send_code`: the session and the channel, never the number or the code."""

    session_id: str
    channel: str


class SendCodeResult(BaseModel):
    """Result of `send_code`."""

    outcome: SendOutcome
    session_status: str = "pending"
    message_id: str | None = None
    cap: str | None = None


class AwaitDeliveryInput(BaseModel):
    """Input of `await_delivery`."""

    session_id: str
    channel: str
    message_id: str


class DeliveryResult(BaseModel):
    """Final delivery report of a sent code."""

    status: str
    error_code: str = ""


class DispatchActivities:
    """Activities sharing the worker's dispatch channel, session store, breakers and keys.

    Args:
        stub: dispatch.v1 client.
        store: Verify session store.
        breakers: Channel breakers.
        pepper: Ring of the code pepper.
        number_key: Ring of the phone-number key.
        poll_seconds: Seconds between reads of a delivery status.
    """

    def __init__(
        self,
        stub: dispatch_pb2_grpc.DispatchServiceStub,
        store: SessionStore,
        breakers: ChannelBreakers,
        pepper: DataKeyRing,
        number_key: DataKeyRing,
        poll_seconds: float,
    ) -> None:
        self._stub = stub
        self._store = store
        self._breakers = breakers
        self._pepper = pepper
        self._number_key = number_key
        self._poll_seconds = poll_seconds

    @activity.defn
    async def send_code(self, params: SendCodeInput) -> SendCodeResult:
        """Send a new code for a session on one channel, unless the session has settled.

        Skips a channel whose breaker is open. Sends at most one message per
        session and channel, also when the activity is retried: dispatch
        deduplicates on the idempotency key `<session id>:<channel>`.

        Raises:
            ApplicationError: retryable, when the global dispatch budget is
                spent for this second; Temporal retries after the reset.
        """
        session_id, channel = params.session_id, params.channel
        if not await self._breakers.allow(channel):
            activity.logger.info("channel skipped session_id=%s channel=%s", session_id, channel)
            CHANNEL_SKIPS.labels(channel, "breaker_open").inc()
            await self._store.update_channel(session_id, channel, "skipped")
            return SendCodeResult(outcome=SendOutcome.SKIPPED)

        context = await self._store.send_context(session_id)
        if context is None:
            return SendCodeResult(outcome=SendOutcome.STOPPED, session_status="missing")
        code = draw_code(context.code_length)
        version, pepper = await self._pepper.current()
        entry = f"{version}:{code_digest(pepper, session_id, code).hex()}"

        # The session is re-read atomically here, right before the send: once
        # it is approved, cancelled or locked no message goes out.
        decision = await self._store.prepare_send(session_id, channel, entry)
        if decision.cap is not None:
            CAP_REJECTIONS.labels(decision.cap.cap).inc()
            if decision.cap.cap is CapName.GLOBAL_DISPATCHES:
                raise ApplicationError(
                    "global dispatch budget spent",
                    next_retry_delay=timedelta(seconds=decision.cap.retry_after),
                )
            activity.logger.warning(
                "send capped session_id=%s channel=%s cap=%s", session_id, channel, decision.cap.cap
            )
            return SendCodeResult(outcome=SendOutcome.CAPPED, cap=decision.cap.cap)
        if not decision.proceed:
            activity.logger.info(
                "send stopped session_id=%s channel=%s status=%s",
                session_id,
                channel,
                decision.status,
            )
            return SendCodeResult(outcome=SendOutcome.STOPPED, session_status=decision.status)

        number_version, sealed = split_version(context.number)
        to = decrypt_number(await self._number_key.key(number_version), session_id, sealed)
        minutes = max(1, math.ceil((context.expires_at - time.time()) / 60))
        request = dispatch_pb2.SendMessageRequest(
            channel=CHANNELS[channel],
            to=to,
            body=render_message(channel, code, context.locale, minutes),
            idempotency_key=f"{session_id}:{channel}",
            traffic_class=dispatch_pb2.TRAFFIC_CLASS_OTP,
            client_reference=session_id,
        )
        try:
            response = await self._stub.SendMessage(request, timeout=SEND_DEADLINE_SECONDS)
        except grpc.aio.AioRpcError as exc:
            return await self._send_failed(session_id, channel, exc)

        outcome = "duplicate" if response.duplicate else "accepted"
        DISPATCHES.labels(channel, outcome).inc()
        await self._store.update_channel(session_id, channel, "sent", response.message_id)
        activity.logger.info(
            "code sent session_id=%s channel=%s message_id=%s pepper_version=%d duplicate=%s",
            session_id,
            channel,
            response.message_id,
            version,
            response.duplicate,
        )
        return SendCodeResult(outcome=SendOutcome.SENT, message_id=response.message_id)

    async def _send_failed(
        self, session_id: str, channel: str, error: grpc.aio.AioRpcError
    ) -> SendCodeResult:
        fault = CHANNEL_FAULTS.get(error.code())
        DISPATCHES.labels(channel, fault or "rejected").inc()
        if fault is not None:
            await self._breakers.record(channel, success=False)
        await self._store.update_channel(session_id, channel, "failed")
        activity.logger.warning(
            "send failed session_id=%s channel=%s grpc_code=%s",
            session_id,
            channel,
            error.code().name,
        )
        # No retry: a second message on a failing channel is the storm this
        # design prevents; the workflow falls back to the next channel instead.
        return SendCodeResult(outcome=SendOutcome.FAILED)

    @activity.defn
    async def await_delivery(self, params: AwaitDeliveryInput) -> DeliveryResult:
        """Poll a sent code's delivery status until it is final, heartbeating meanwhile.

        The workflow cancels this activity once the session settles or the
        channel times out. The final report counts for the channel's breaker.
        """
        request = dispatch_pb2.GetMessageStatusRequest(message_id=params.message_id)
        while True:
            # A report never arrives with the acceptance, so the first read waits too.
            await asyncio.sleep(self._poll_seconds)
            try:
                report = await self._stub.GetMessageStatus(request, timeout=SEND_DEADLINE_SECONDS)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    # Dispatch forgot the message (a restarted local server):
                    # no report will come, so the channel timeout decides.
                    activity.logger.warning(
                        "message unknown to dispatch session_id=%s message_id=%s",
                        params.session_id,
                        params.message_id,
                    )
                    return DeliveryResult(status="unknown")
                activity.logger.warning(
                    "delivery status read failed session_id=%s message_id=%s grpc_code=%s",
                    params.session_id,
                    params.message_id,
                    exc.code().name,
                )
            else:
                if report.status == dispatch_pb2.MESSAGE_STATUS_DELIVERED:
                    return await self._delivery_final(params, "delivered", "")
                if report.status == dispatch_pb2.MESSAGE_STATUS_FAILED:
                    return await self._delivery_final(params, "failed", report.error_code)

            # Most reports arrive by the first read, and the heartbeat timeout
            # counts from the activity's start, so a heartbeat is owed only
            # while the wait goes on. That saves a server write per session.
            activity.heartbeat()

    async def _delivery_final(
        self, params: AwaitDeliveryInput, status: str, error_code: str
    ) -> DeliveryResult:
        DELIVERY_REPORTS.labels(params.channel, status).inc()
        await self._breakers.record(params.channel, success=status == "delivered")
        channel_status = "delivered" if status == "delivered" else "undelivered"
        await self._store.update_channel(params.session_id, params.channel, channel_status)
        activity.logger.info(
            "delivery report session_id=%s channel=%s message_id=%s status=%s error_code=%s",
            params.session_id,
            params.channel,
            params.message_id,
            status,
            error_code,
        )
        return DeliveryResult(status=status, error_code=error_code)
