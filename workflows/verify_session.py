"""VerifySessionWorkflow: send a one-time code on each channel in turn until the session settles.

The API creates the session in Redis, then starts this workflow with the
session id only: the number stays encrypted in Redis and the codes are
drawn inside the send activity, so Temporal history contains neither. The API
signals the workflow when a check approves or locks the session and when the
caller cancels it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.dispatch import (
        AwaitDeliveryInput,
        DeliveryResult,
        DispatchActivities,
        SendCodeInput,
        SendCodeResult,
        SendOutcome,
    )
    from activities.verify_store import EndSessionInput, VerifyStoreActivities
    from portal.temporal import SA_SESSION_STATUS
    from portal.verify.store import SessionStatus
    from portal.verify.workflow_models import (
        SessionEnded,
        VerifySessionInput,
        VerifySessionResult,
    )

__all__ = ["SessionEnded", "VerifySessionInput", "VerifySessionResult", "VerifySessionWorkflow"]

SEND_TIMEOUT = timedelta(seconds=20)
# The send runs as a local activity: it is one short dispatch call, so it goes
# out in the same workflow task, a task-queue round trip sooner, and history
# records one marker in place of three activity events. A re-run after a
# worker crash is safe for the same reason a retry is.
LOCAL_SEND_PATCH = "send-code-local-activity"
# Retries cover Redis blips and a spent global dispatch budget; dispatch
# deduplicates on the idempotency key, so a retry never sends twice.
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=10,
)
STORE_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10))


@workflow.defn
class VerifySessionWorkflow:
    """Sends a session's code on each channel in order, falling back on failure or timeout."""

    def __init__(self) -> None:
        self._settled: SessionStatus | None = None

    @workflow.signal
    def session_ended(self, event: SessionEnded) -> None:
        """Record that the session was approved, cancelled or locked."""
        self._settled = event.status

    @workflow.query
    def settled_status(self) -> SessionStatus | None:
        """Return the status a signal settled the session with, if any."""
        return self._settled

    @workflow.run
    async def run(self, params: VerifySessionInput) -> VerifySessionResult:
        session_id = params.session_id
        workflow.logger.info(
            "verify session started session_id=%s channels=%s", session_id, params.channels
        )
        channels_sent: list[str] = []

        for channel in params.channels:
            # Never start a send once the session has settled or expired.
            if self._settled is not None or workflow.now() >= params.expires_at:
                break

            workflow.set_current_details(f"Sending the code on {channel}.")
            result = await self._send_code(session_id, channel)

            if result.outcome is SendOutcome.STOPPED:
                workflow.logger.info(
                    "send stopped session_id=%s status=%s", session_id, result.session_status
                )
                break
            if result.outcome is SendOutcome.CAPPED:
                return await self._end(
                    params, SessionStatus.FAILED, f"cap {result.cap}", channels_sent
                )
            if result.outcome is not SendOutcome.SENT:
                continue
            channels_sent.append(channel)

            # Wait for approval, cancellation, a failed delivery or the channel timeout.
            workflow.set_current_details(f"Code sent on {channel}; waiting for the check.")
            failed = await self._wait_on_channel(params, channel, result.message_id or "")
            if failed:
                workflow.logger.info(
                    "delivery failed, falling back session_id=%s channel=%s", session_id, channel
                )

        # A code already sent stays valid until the session expires.
        if self._settled is None and channels_sent:
            workflow.set_current_details("Every channel tried; waiting for a check until expiry.")
            await self._wait_until(params.expires_at)

        if self._settled is not None:
            status = self._settled
        elif channels_sent or workflow.now() >= params.expires_at:
            status = SessionStatus.EXPIRED
        else:
            status = SessionStatus.FAILED
        reason = "" if channels_sent else "no channel accepted the code"
        return await self._end(params, status, reason, channels_sent)

    async def _send_code(self, session_id: str, channel: str) -> SendCodeResult:
        # Histories from before the patch scheduled a regular activity here.
        if workflow.patched(LOCAL_SEND_PATCH):
            execute = workflow.execute_local_activity_method
        else:
            execute = workflow.execute_activity_method
        return await execute(
            DispatchActivities.send_code,
            SendCodeInput(session_id=session_id, channel=channel),
            start_to_close_timeout=SEND_TIMEOUT,
            retry_policy=SEND_RETRY,
            summary=f"send code on {channel}",
        )

    async def _wait_on_channel(
        self, params: VerifySessionInput, channel: str, message_id: str
    ) -> bool:
        """Wait on one channel; return True when its delivery failed before anything else."""
        delivery = workflow.start_activity_method(
            DispatchActivities.await_delivery,
            AwaitDeliveryInput(
                session_id=params.session_id, channel=channel, message_id=message_id
            ),
            start_to_close_timeout=timedelta(seconds=params.channel_timeout_seconds + 60),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=STORE_RETRY,
            summary=f"await delivery on {channel}",
        )

        def delivery_failed() -> bool:
            if not delivery.done() or delivery.cancelled() or delivery.exception() is not None:
                return False
            report: DeliveryResult = delivery.result()
            return report.status == "failed"

        deadline = min(
            workflow.now() + timedelta(seconds=params.channel_timeout_seconds), params.expires_at
        )
        try:
            await workflow.wait_condition(
                lambda: self._settled is not None or delivery_failed(),
                timeout=max(timedelta(0), deadline - workflow.now()),
            )
        except TimeoutError:
            pass
        if not delivery.done():
            delivery.cancel()
        return self._settled is None and delivery_failed()

    async def _wait_until(self, moment: datetime) -> None:
        remaining = moment - workflow.now()
        if remaining <= timedelta(0):
            return
        try:
            await workflow.wait_condition(lambda: self._settled is not None, timeout=remaining)
        except TimeoutError:
            pass

    async def _end(
        self,
        params: VerifySessionInput,
        status: SessionStatus,
        reason: str,
        channels_sent: list[str],
    ) -> VerifySessionResult:
        # Redis has the last word: a check may have approved the session after
        # this workflow last looked.
        final = await workflow.execute_activity_method(
            VerifyStoreActivities.end_session,
            EndSessionInput(session_id=params.session_id, status=status, reason=reason),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=STORE_RETRY,
        )

        workflow.upsert_search_attributes([SA_SESSION_STATUS.value_set(final.value)])
        workflow.set_current_details(f"Session {final.value}.")
        workflow.logger.info(
            "verify session ended session_id=%s status=%s", params.session_id, final.value
        )
        return VerifySessionResult(status=final, channels_sent=channels_sent)
