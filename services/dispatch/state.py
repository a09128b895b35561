"""In-memory state of the local dispatch server: channels, messages, inboxes, statistics.

Only the local stand-in keeps state this way. The real dispatch service is
another team's data plane; this one lets tests and developers set each
channel's latency, error rate and outage at run time and read what a phone
would have received.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600


class ChannelName(StrEnum):
    """Channels the dispatch service delivers on."""

    WHATSAPP = "whatsapp"
    SMS = "sms"
    VOICE = "voice"


class DeliveryStatus(StrEnum):
    """Delivery status of one message, as in the contract's MessageStatus."""

    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    FAILED = "failed"


class ChannelBehaviour(BaseModel):
    """Fault settings of one channel; every field may change at run time."""

    latency_ms: float = Field(0.0, ge=0, le=60_000, description="Delay before SendMessage returns.")
    error_rate: float = Field(
        0.0, ge=0, le=1, description="Share of SendMessage calls that fail with INTERNAL."
    )
    outage: bool = Field(False, description="Every SendMessage call fails with UNAVAILABLE.")
    delivery_delay_ms: float = Field(
        100.0, ge=0, le=600_000, description="Delay between acceptance and the delivery report."
    )
    delivery_failure_rate: float = Field(
        0.0, ge=0, le=1, description="Share of accepted messages whose delivery report is FAILED."
    )
    auto_report: bool = Field(
        True,
        description="Write delivery reports by themselves; when false a message stays ACCEPTED "
        "until POST /messages/{id}/report sets its report.",
    )


class ChannelUpdate(BaseModel):
    """Partial update of a channel's behaviour: fields left out keep their value."""

    latency_ms: float | None = Field(None, ge=0, le=60_000)
    error_rate: float | None = Field(None, ge=0, le=1)
    outage: bool | None = None
    delivery_delay_ms: float | None = Field(None, ge=0, le=600_000)
    delivery_failure_rate: float | None = Field(None, ge=0, le=1)
    auto_report: bool | None = None


@dataclass
class Message:
    """One message as requested, and once accepted, its delivery report."""

    channel: ChannelName
    to: str
    body: str
    traffic_class: str
    client_reference: str
    idempotency_key: str
    message_id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex}")
    status: DeliveryStatus = DeliveryStatus.ACCEPTED
    error_code: str = ""
    accepted_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, object]:
        """Return the message as JSON-ready data for the admin endpoint."""
        return asdict(self)


class SendRejected(Exception):
    """SendMessage fails; `code` is the gRPC status name the server returns.

    Args:
        code: `UNAVAILABLE` or `INTERNAL`.
        reason: Message for the caller.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class DispatchState:
    """Channels, messages and per-number inboxes of one local dispatch server.

    Args:
        seed: Seed of the random draws behind error and failure rates, for
            repeatable runs; None draws from the OS.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.random = random.Random(seed)
        self.channels: dict[ChannelName, ChannelBehaviour] = {
            channel: ChannelBehaviour() for channel in ChannelName
        }
        self.messages: dict[str, Message] = {}
        self.inboxes: dict[str, list[str]] = defaultdict(list)
        # Idempotency key -> (message id or in-flight future, time first seen).
        self._idempotency: dict[str, tuple[asyncio.Future[Message], float]] = {}
        self.outcomes: Counter[tuple[str, str, str]] = Counter()
        self.requests_per_second: Counter[int] = Counter()
        self._report_tasks: set[asyncio.Task[None]] = set()
        self._last_sweep = 0.0

    def reset(self) -> None:
        """Forget every message and statistic and restore the default channel behaviour."""
        for task in self._report_tasks:
            task.cancel()
        self._report_tasks.clear()
        self.channels = {channel: ChannelBehaviour() for channel in ChannelName}
        self.messages.clear()
        self.inboxes.clear()
        self._idempotency.clear()
        self.outcomes.clear()
        self.requests_per_second.clear()
        log.info("dispatch state reset")

    def update_channel(self, channel: ChannelName, update: ChannelUpdate) -> ChannelBehaviour:
        """Apply `update` to `channel` and return its new behaviour."""
        current = self.channels[channel]
        changes = update.model_dump(exclude_none=True)
        self.channels[channel] = current.model_copy(update=changes)
        log.info("channel behaviour changed channel=%s changes=%s", channel, changes)
        return self.channels[channel]

    async def send(self, request: Message) -> tuple[Message, bool]:
        """Accept a message, or return the earlier one with the same idempotency key.

        Returns:
            The message and whether it is a duplicate of an earlier request.

        Raises:
            SendRejected: when the channel is down or an injected error fires.
        """
        now = time.time()
        self.requests_per_second[int(now)] += 1
        self._forget_old_keys(now)
        key, lane = request.idempotency_key, (request.channel, request.traffic_class)
        earlier = self._idempotency.get(key)
        if earlier is not None:
            message = await asyncio.shield(earlier[0])
            self.outcomes[(*lane, "duplicate")] += 1
            return message, True

        # Reserve the key before the simulated latency, so a concurrent retry
        # waits for this request instead of sending a second message.
        pending: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._idempotency[key] = (pending, now)
        try:
            message = await self._accept(request)
        except SendRejected as exc:
            del self._idempotency[key]
            # A concurrent duplicate waiting on this request fails the same way.
            pending.set_exception(exc)
            pending.exception()
            self.outcomes[(*lane, exc.code.lower())] += 1
            raise
        except BaseException:
            del self._idempotency[key]
            pending.cancel()
            raise
        pending.set_result(message)
        self.outcomes[(*lane, "accepted")] += 1
        return message, False

    async def _accept(self, message: Message) -> Message:
        channel = message.channel
        behaviour = self.channels[channel]
        if behaviour.latency_ms:
            await asyncio.sleep(behaviour.latency_ms / 1000)
        if behaviour.outage:
            raise SendRejected("UNAVAILABLE", f"channel {channel} is down")
        if self.random.random() < behaviour.error_rate:
            raise SendRejected("INTERNAL", f"injected failure on channel {channel}")

        message.accepted_at = message.updated_at = time.time()
        self.messages[message.message_id] = message
        self.inboxes[message.to].append(message.message_id)
        if behaviour.auto_report:
            fails = self.random.random() < behaviour.delivery_failure_rate
            task = asyncio.create_task(
                self._report_later(message, behaviour.delivery_delay_ms / 1000, fails)
            )
            self._report_tasks.add(task)
            task.add_done_callback(self._report_tasks.discard)
        log.info(
            "message accepted message_id=%s channel=%s traffic_class=%s reference=%s",
            message.message_id,
            channel,
            message.traffic_class,
            message.client_reference,
        )
        return message

    async def _report_later(self, message: Message, delay: float, fails: bool) -> None:
        await asyncio.sleep(delay)
        if fails:
            error_code = f"{message.channel}_undeliverable"
            self.report(message.message_id, DeliveryStatus.FAILED, error_code)
        else:
            self.report(message.message_id, DeliveryStatus.DELIVERED)

    def report(self, message_id: str, status: DeliveryStatus, error_code: str = "") -> Message:
        """Set a message's delivery report.

        Raises:
            KeyError: for an unknown message id.
        """
        message = self.messages[message_id]
        message.status = status
        message.error_code = error_code if status is DeliveryStatus.FAILED else ""
        message.updated_at = time.time()
        log.info("delivery report message_id=%s status=%s", message_id, status)
        return message

    def inbox(self, to: str) -> list[Message]:
        """Return the messages sent to `to`, oldest first."""
        return [self.messages[message_id] for message_id in self.inboxes.get(to, [])]

    def clear_inbox(self, to: str) -> int:
        """Forget the inbox of `to` and return how many messages it held."""
        return len(self.inboxes.pop(to, []))

    def stats(self) -> dict[str, object]:
        """Return request counts per channel, traffic class and outcome, and the peak rate."""
        return {
            "outcomes": [
                {"channel": channel, "traffic_class": traffic, "outcome": outcome, "count": count}
                for (channel, traffic, outcome), count in sorted(self.outcomes.items())
            ],
            "peak_requests_per_second": max(self.requests_per_second.values(), default=0),
            "messages": len(self.messages),
        }

    def _forget_old_keys(self, now: float) -> None:
        if now - self._last_sweep < 60:
            return
        self._last_sweep = now
        cutoff = now - IDEMPOTENCY_WINDOW_SECONDS
        expired = [key for key, (_, seen) in self._idempotency.items() if seen < cutoff]
        for key in expired:
            del self._idempotency[key]
        old_seconds = [second for second in self.requests_per_second if second < now - 3600]
        for second in old_seconds:
            del self.requests_per_second[second]
