"""Verify sessions end to end: API, Temporal workflow, Redis, the local dispatch server."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.api.enums.v1 import EventType

from api.problems import PROBLEM_MEDIA_TYPE
from portal.verify.service import workflow_id
from tests.verify.conftest import code_from, session_result

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_approved_on_whatsapp(caller, dispatch_admin, numbers, temporal_client):
    to = numbers()
    response = await caller.start(to)
    assert response.status_code == 201, response.text
    session = response.json()
    assert session["status"] == "pending"
    assert session["channel"] == "whatsapp"
    assert session["to"] != to
    assert session["to"].endswith(to[-2:])
    assert response.headers["location"] == f"/v1/verify/sessions/{session['id']}"

    message = await dispatch_admin.wait_for_message(to, channel="whatsapp")
    code = code_from(message)
    checked = await caller.check(session["id"], code)
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "approved"

    body = await caller.wait_status(session["id"], "approved")
    assert [item["channel"] for item in body["channels_tried"]] == ["whatsapp"]
    result = await session_result(temporal_client, session["id"])
    assert result.status == "approved"
    assert result.channels_sent == ["whatsapp"]


async def test_send_runs_as_local_activity(caller, dispatch_admin, numbers, temporal_client):
    to = numbers()
    session_id = (await caller.start(to)).json()["id"]
    code = code_from(await dispatch_admin.wait_for_message(to, channel="whatsapp"))
    await caller.check(session_id, code)
    await session_result(temporal_client, session_id)

    history = await temporal_client.get_workflow_handle(workflow_id(session_id)).fetch_history()
    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    markers = [
        event.marker_recorded_event_attributes.marker_name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    assert "send_code" not in scheduled
    assert "await_delivery" in scheduled
    assert "core_local_activity" in markers
    assert "core_patch" in markers


async def test_whatsapp_down_approved_on_sms(caller, dispatch_admin, numbers):
    await dispatch_admin.set_channel("whatsapp", outage=True)
    to = numbers()
    session = (await caller.start(to)).json()

    message = await dispatch_admin.wait_for_message(to, channel="sms")
    checked = await caller.check(session["id"], code_from(message))
    assert checked.json()["status"] == "approved"

    body = await caller.wait_status(session["id"], "approved")
    tried = {item["channel"]: item["status"] for item in body["channels_tried"]}
    assert tried["whatsapp"] == "failed"
    assert tried["sms"] in ("sent", "delivered")
    assert [m["channel"] for m in await dispatch_admin.inbox(to)] == ["sms"]


async def test_all_channels_down_fails(caller, dispatch_admin, numbers, temporal_client):
    for channel in ("whatsapp", "sms", "voice"):
        await dispatch_admin.set_channel(channel, outage=True)
    to = numbers()
    session = (await caller.start(to)).json()

    result = await session_result(temporal_client, session["id"])
    assert result.status == "failed"
    body = (await caller.get(session["id"])).json()
    assert body["status"] == "failed"
    assert [item["channel"] for item in body["channels_tried"]] == ["whatsapp", "sms", "voice"]
    stats = await dispatch_admin.stats()
    attempts = {row["channel"]: row["count"] for row in stats["outcomes"]}
    assert attempts == {"whatsapp": 1, "sms": 1, "voice": 1}
    assert await dispatch_admin.inbox(to) == []


async def test_channel_timeout_falls_back(caller, dispatch_admin, numbers):
    to = numbers()
    session = (await caller.start(to, channel_timeout_seconds=15)).json()
    first = await dispatch_admin.wait_for_message(to, channel="whatsapp")
    second = await dispatch_admin.wait_for_message(to, channel="sms", wait_seconds=25)

    # Any code sent within the session verifies: here the first one.
    checked = await caller.check(session["id"], code_from(first))
    assert checked.json()["status"] == "approved"
    assert code_from(second) != ""
    assert second["message_id"] != first["message_id"]


async def test_delivery_failure_falls_back(caller, dispatch_admin, numbers):
    await dispatch_admin.set_channel("whatsapp", delivery_failure_rate=1.0, delivery_delay_ms=50)
    to = numbers()
    session = (await caller.start(to)).json()
    message = await dispatch_admin.wait_for_message(to, channel="sms", wait_seconds=10)
    assert (await caller.check(session["id"], code_from(message))).json()["status"] == "approved"
    body = await caller.wait_status(session["id"], "approved")
    tried = {item["channel"]: item["status"] for item in body["channels_tried"]}
    assert tried["whatsapp"] == "undelivered"


@pytest.mark.parametrize("concurrent_failure", [False, True])
async def test_approval_stops_later_sends(
    caller, dispatch_admin, numbers, temporal_client, concurrent_failure
):
    # Delivery reports wait for the test, so the failure lands exactly when chosen.
    await dispatch_admin.set_channel("whatsapp", auto_report=False)
    to = numbers()
    session = (await caller.start(to)).json()
    message = await dispatch_admin.wait_for_message(to, channel="whatsapp")
    code = code_from(message)

    if concurrent_failure:
        checked, _ = await asyncio.gather(
            caller.check(session["id"], code),
            dispatch_admin.report(message["message_id"], "failed", "whatsapp_undeliverable"),
        )
    else:
        checked = await caller.check(session["id"], code)
        await dispatch_admin.report(message["message_id"], "failed", "whatsapp_undeliverable")
    assert checked.json()["status"] == "approved"

    result = await session_result(temporal_client, session["id"])
    assert result.status == "approved"
    await asyncio.sleep(1.5)
    assert [m["channel"] for m in await dispatch_admin.inbox(to)] == ["whatsapp"]


async def test_cancel_stops_session(caller, dispatch_admin, numbers, temporal_client):
    to = numbers()
    session = (await caller.start(to)).json()
    message = await dispatch_admin.wait_for_message(to, channel="whatsapp")

    cancelled = await caller.cancel(session["id"])
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    again = await caller.cancel(session["id"])
    assert again.status_code == 200

    checked = await caller.check(session["id"], code_from(message))
    assert checked.status_code == 410
    assert checked.headers["content-type"] == PROBLEM_MEDIA_TYPE
    result = await session_result(temporal_client, session["id"])
    assert result.status == "cancelled"
    assert len(await dispatch_admin.inbox(to)) == 1


async def test_other_tenant_gets_404(caller, dispatch_admin, numbers, portal_settings):
    from tests.verify.conftest import VerifyCaller, create_api_key

    session = (await caller.start(numbers())).json()
    tenant_id, key_id, secret = await create_api_key(portal_settings)
    stranger = VerifyCaller(tenant_id, key_id, secret, caller.http)

    assert (await stranger.get(session["id"])).status_code == 404
    assert (await stranger.check(session["id"], "123456")).status_code == 404
    assert (await stranger.cancel(session["id"])).status_code == 404
    assert (await caller.get(session["id"])).json()["attempts_remaining"] == 5
