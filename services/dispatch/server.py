"""The local dispatch server: the dispatch.v1 gRPC contract plus an HTTP control plane.

gRPC (`PORTAL_DISPATCH_ADDRESS`) is what the portal's workers call. The
HTTP admin port (`PORTAL_DISPATCH_ADMIN_PORT`) is for tests, demos and
local developers: set each channel's latency, error rate and outage, write
delivery reports by hand, and read the inbox of a number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Iterator

import grpc
import uvicorn
from fastapi import FastAPI, HTTPException
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from pydantic import BaseModel, Field

from protos.dispatch.v1 import dispatch_pb2, dispatch_pb2_grpc
from services.dispatch.state import (
    ChannelBehaviour,
    ChannelName,
    ChannelUpdate,
    DeliveryStatus,
    DispatchState,
    Message,
    SendRejected,
)

log = logging.getLogger(__name__)

E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_IDEMPOTENCY_KEY_LENGTH = 128
MAX_BODY_LENGTH = 1600

CHANNEL_FROM_PROTO = {
    dispatch_pb2.CHANNEL_WHATSAPP: ChannelName.WHATSAPP,
    dispatch_pb2.CHANNEL_SMS: ChannelName.SMS,
    dispatch_pb2.CHANNEL_VOICE: ChannelName.VOICE,
}
CHANNEL_TO_PROTO = {name: number for number, name in CHANNEL_FROM_PROTO.items()}
STATUS_TO_PROTO = {
    DeliveryStatus.ACCEPTED: dispatch_pb2.MESSAGE_STATUS_ACCEPTED,
    DeliveryStatus.DELIVERED: dispatch_pb2.MESSAGE_STATUS_DELIVERED,
    DeliveryStatus.FAILED: dispatch_pb2.MESSAGE_STATUS_FAILED,
}
TRAFFIC_CLASS_NAMES = {
    dispatch_pb2.TRAFFIC_CLASS_OTP: "otp",
    dispatch_pb2.TRAFFIC_CLASS_TRANSACTIONAL: "transactional",
    dispatch_pb2.TRAFFIC_CLASS_MARKETING: "marketing",
}


def _timestamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def _report(message: Message) -> dispatch_pb2.MessageStatusReport:
    return dispatch_pb2.MessageStatusReport(
        message_id=message.message_id,
        channel=CHANNEL_TO_PROTO[message.channel],
        status=STATUS_TO_PROTO[message.status],
        error_code=message.error_code,
        accepted_at=_timestamp(message.accepted_at),
        updated_at=_timestamp(message.updated_at),
        client_reference=message.client_reference,
    )


def _invalid_argument(request: dispatch_pb2.SendMessageRequest) -> str | None:
    if request.channel not in CHANNEL_FROM_PROTO:
        return "channel must be CHANNEL_WHATSAPP, CHANNEL_SMS or CHANNEL_VOICE"
    if not E164_PATTERN.match(request.to):
        return "to must be an E.164 number such as +14155552671"
    if not request.body or len(request.body) > MAX_BODY_LENGTH:
        return f"body must hold 1 to {MAX_BODY_LENGTH} characters"
    if not 0 < len(request.idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        return f"idempotency_key must hold 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters"
    if request.traffic_class not in TRAFFIC_CLASS_NAMES:
        return "traffic_class must be set"
    return None


class DispatchServicer(dispatch_pb2_grpc.DispatchServiceServicer):
    """dispatch.v1.DispatchService over the in-memory state."""

    def __init__(self, state: DispatchState) -> None:
        self.state = state

    async def SendMessage(  # noqa: N802 - name fixed by the contract
        self, request: dispatch_pb2.SendMessageRequest, context: grpc.aio.ServicerContext
    ) -> dispatch_pb2.SendMessageResponse:
        problem = _invalid_argument(request)
        if problem:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        try:
            message, duplicate = await self.state.send(
                Message(
                    channel=CHANNEL_FROM_PROTO[request.channel],
                    to=request.to,
                    body=request.body,
                    idempotency_key=request.idempotency_key,
                    traffic_class=TRAFFIC_CLASS_NAMES[request.traffic_class],
                    client_reference=request.client_reference,
                )
            )
        except SendRejected as exc:
            await context.abort(getattr(grpc.StatusCode, exc.code), exc.reason)
        return dispatch_pb2.SendMessageResponse(
            message_id=message.message_id,
            status=STATUS_TO_PROTO[message.status],
            duplicate=duplicate,
        )

    async def GetMessageStatus(  # noqa: N802 - name fixed by the contract
        self, request: dispatch_pb2.GetMessageStatusRequest, context: grpc.aio.ServicerContext
    ) -> dispatch_pb2.MessageStatusReport:
        message = self.state.messages.get(request.message_id)
        if message is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no message {request.message_id}")
        return _report(message)


class ReportRequest(BaseModel):
    """Delivery report to write for one message."""

    status: DeliveryStatus = Field(description="delivered or failed.")
    error_code: str = Field("", max_length=64, description="Why delivery failed.")


def create_admin_app(state: DispatchState) -> FastAPI:
    """Build the HTTP control plane of the local dispatch server."""
    app = FastAPI(title="local dispatch control plane", version="1.0.0")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/admin/channels")
    async def list_channels() -> dict[str, ChannelBehaviour]:
        return dict(state.channels)

    @app.put("/admin/channels/{channel}")
    async def update_channel(channel: ChannelName, update: ChannelUpdate) -> ChannelBehaviour:
        return state.update_channel(channel, update)

    @app.post("/admin/reset")
    async def reset() -> dict[str, str]:
        state.reset()
        return {"status": "reset"}

    @app.get("/admin/stats")
    async def stats() -> dict[str, object]:
        return state.stats()

    @app.get("/inbox/{number}")
    async def inbox(number: str) -> list[dict[str, object]]:
        return [message.as_dict() for message in state.inbox(number)]

    @app.delete("/inbox/{number}")
    async def clear_inbox(number: str) -> dict[str, int]:
        return {"removed": state.clear_inbox(number)}

    @app.get("/messages/{message_id}")
    async def get_message(message_id: str) -> dict[str, object]:
        message = state.messages.get(message_id)
        if message is None:
            raise HTTPException(404, f"no message {message_id}")
        return message.as_dict()

    @app.post("/messages/{message_id}/report")
    async def write_report(message_id: str, report: ReportRequest) -> dict[str, object]:
        if message_id not in state.messages:
            raise HTTPException(404, f"no message {message_id}")
        return state.report(message_id, report.status, report.error_code).as_dict()

    return app


class _AdminServer(uvicorn.Server):
    """Uvicorn server that leaves signal handling to `serve`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    grpc_address: str,
    admin_host: str,
    admin_port: int,
    stop: asyncio.Event | None = None,
    *,
    seed: int | None = None,
) -> None:
    """Serve the gRPC contract and the HTTP control plane until `stop` or SIGTERM/SIGINT.

    Args:
        grpc_address: HOST:PORT of the gRPC server.
        admin_host: Address of the HTTP control plane.
        admin_port: Port of the HTTP control plane.
        stop: Event that stops the server; SIGTERM and SIGINT set it when None.
        seed: Seed of the fault injection's random draws.
    """
    state = DispatchState(seed=seed)
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)

    server = grpc.aio.server()
    dispatch_pb2_grpc.add_DispatchServiceServicer_to_server(DispatchServicer(state), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_insecure_port(grpc_address)
    await server.start()
    await health_servicer.set("dispatch.v1.DispatchService", health_pb2.HealthCheckResponse.SERVING)

    admin = _AdminServer(
        uvicorn.Config(
            create_admin_app(state),
            host=admin_host,
            port=admin_port,
            log_level="warning",
            access_log=False,
        )
    )
    admin_task = asyncio.create_task(admin.serve())
    log.info("dispatch started grpc=%s admin=http://%s:%d", grpc_address, admin_host, admin_port)
    try:
        stop_task = asyncio.create_task(stop.wait())
        await asyncio.wait({admin_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_task.cancel()
    finally:
        admin.should_exit = True
        await server.stop(grace=2)
        await admin_task
        log.info("dispatch stopped")
