"""The local dispatch server honours the dispatch.v1 contract and its control plane."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio

from protos.dispatch.v1 import dispatch_pb2, dispatch_pb2_grpc

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def stub(
    dispatch_server, dispatch_admin
) -> AsyncIterator[dispatch_pb2_grpc.DispatchServiceStub]:
    async with grpc.aio.insecure_channel(dispatch_server.address) as channel:
        yield dispatch_pb2_grpc.DispatchServiceStub(channel)


def request(recipient: str, **fields) -> dispatch_pb2.SendMessageRequest:
    values = {
        "channel": dispatch_pb2.CHANNEL_SMS,
        "to": recipient,
        "body": "Your code is 000000",
        "idempotency_key": uuid.uuid4().hex,
        "traffic_class": dispatch_pb2.TRAFFIC_CLASS_OTP,
        "client_reference": "test",
    }
    values.update(fields)
    return dispatch_pb2.SendMessageRequest(**values)


async def test_send_lands_in_inbox_and_reports(stub, dispatch_admin, numbers):
    to = numbers()
    sent = await stub.SendMessage(request(to))
    assert sent.status == dispatch_pb2.MESSAGE_STATUS_ACCEPTED
    assert not sent.duplicate

    [message] = await dispatch_admin.inbox(to)
    assert message["message_id"] == sent.message_id
    assert message["body"] == "Your code is 000000"
    await asyncio.sleep(0.3)
    report = await stub.GetMessageStatus(
        dispatch_pb2.GetMessageStatusRequest(message_id=sent.message_id)
    )
    assert report.status == dispatch_pb2.MESSAGE_STATUS_DELIVERED
    assert report.channel == dispatch_pb2.CHANNEL_SMS
    assert report.client_reference == "test"


async def test_idempotency_key_sends_once(stub, dispatch_admin, numbers):
    to = numbers()
    await dispatch_admin.set_channel("sms", latency_ms=200)
    same = request(to)
    first, second = await asyncio.gather(stub.SendMessage(same), stub.SendMessage(same))
    third = await stub.SendMessage(same)

    assert first.message_id == second.message_id == third.message_id
    assert sorted([first.duplicate, second.duplicate]) == [False, True]
    assert third.duplicate
    assert len(await dispatch_admin.inbox(to)) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"channel": dispatch_pb2.CHANNEL_UNSPECIFIED},
        {"to": "4155552671"},
        {"body": ""},
        {"idempotency_key": ""},
        {"idempotency_key": "k" * 129},
        {"traffic_class": dispatch_pb2.TRAFFIC_CLASS_UNSPECIFIED},
    ],
)
async def test_invalid_request_is_invalid_argument(stub, numbers, fields):
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.SendMessage(request(numbers(), **fields))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_outage_and_error_rate(stub, dispatch_admin, numbers):
    await dispatch_admin.set_channel("whatsapp", outage=True)
    await dispatch_admin.set_channel("voice", error_rate=1.0)
    to = numbers()
    with pytest.raises(grpc.aio.AioRpcError) as down:
        await stub.SendMessage(request(to, channel=dispatch_pb2.CHANNEL_WHATSAPP))
    with pytest.raises(grpc.aio.AioRpcError) as failing:
        await stub.SendMessage(request(to, channel=dispatch_pb2.CHANNEL_VOICE))
    sms = await stub.SendMessage(request(to))

    assert down.value.code() == grpc.StatusCode.UNAVAILABLE
    assert failing.value.code() == grpc.StatusCode.INTERNAL
    assert sms.message_id
    stats = await dispatch_admin.stats()
    outcomes = {(row["channel"], row["outcome"]): row["count"] for row in stats["outcomes"]}
    assert outcomes == {
        ("whatsapp", "unavailable"): 1,
        ("voice", "internal"): 1,
        ("sms", "accepted"): 1,
    }


async def test_latency_is_applied(stub, dispatch_admin, numbers):
    await dispatch_admin.set_channel("sms", latency_ms=300)
    started = time.monotonic()
    await stub.SendMessage(request(numbers()))
    assert time.monotonic() - started >= 0.3


async def test_manual_delivery_report(stub, dispatch_admin, numbers):
    await dispatch_admin.set_channel("sms", auto_report=False)
    sent = await stub.SendMessage(request(numbers()))
    status_request = dispatch_pb2.GetMessageStatusRequest(message_id=sent.message_id)
    await asyncio.sleep(0.2)
    assert (
        await stub.GetMessageStatus(status_request)
    ).status == dispatch_pb2.MESSAGE_STATUS_ACCEPTED

    await dispatch_admin.report(sent.message_id, "failed", "carrier_rejected")
    report = await stub.GetMessageStatus(status_request)
    assert report.status == dispatch_pb2.MESSAGE_STATUS_FAILED
    assert report.error_code == "carrier_rejected"


async def test_unknown_message_is_not_found(stub):
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GetMessageStatus(dispatch_pb2.GetMessageStatusRequest(message_id="msg_none"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_control_plane_rejects_bad_settings(dispatch_admin):
    import httpx

    with pytest.raises(httpx.HTTPStatusError) as error:
        await dispatch_admin.set_channel("sms", error_rate=2)
    assert error.value.response.status_code == 422
    with pytest.raises(httpx.HTTPStatusError):
        await dispatch_admin.set_channel("email", outage=True)
