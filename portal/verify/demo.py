"""The Verify step of `portal demo`: a code read from the local inbox, then a WhatsApp outage."""

from __future__ import annotations

import asyncio
import random
import re
import time
from typing import TYPE_CHECKING

from portal.auth_service_client import AuthServiceClient
from portal.keys.format import KeyEnvironment
from portal.verify.service import workflow_id
from services.dispatch.admin_client import DispatchAdmin

if TYPE_CHECKING:
    import httpx

    from portal.demo import DemoContext

DEMO_TENANT = "tenant-demo"
CODE_PATTERN = re.compile(r"\b(\d{6,10})\b")
WAIT_SECONDS = 20.0


def demo_number() -> str:
    """Return a number from the 555-01xx range, which is reserved for fiction."""
    return f"+1201555{random.randint(100, 199):04d}"


async def verify_demo(ctx: DemoContext) -> None:
    """Verify a number on WhatsApp with the code from the local inbox, then fall back to SMS."""
    async with AuthServiceClient(ctx.settings) as auth_service:
        created = await auth_service.create_key(
            tenant_id=DEMO_TENANT,
            name="verify demo key",
            environment=KeyEnvironment.TEST,
            scopes=["verify:send", "verify:check"],
            created_by="portal demo",
        )
    headers = {"Authorization": f"Bearer {created.secret}"}
    ctx.echo(f"created test key {created.key.key_id} with scopes verify:send, verify:check")

    dispatch = DispatchAdmin(f"http://{ctx.settings.host}:{ctx.settings.dispatch_admin_port}")
    try:
        await dispatch.set_channel("whatsapp", outage=False)
        await _verify_once(ctx, dispatch, headers, expect_channel="whatsapp")

        ctx.echo("\nWhatsApp outage: the local dispatch server now rejects every WhatsApp send")
        await dispatch.set_channel("whatsapp", outage=True)
        await _verify_once(ctx, dispatch, headers, expect_channel="sms")
    finally:
        await dispatch.set_channel("whatsapp", outage=False)
        await dispatch.aclose()


async def _verify_once(
    ctx: DemoContext, dispatch: DispatchAdmin, headers: dict[str, str], expect_channel: str
) -> None:
    to = demo_number()
    # The number may have received codes in an earlier run of the demo.
    earlier = _count(await dispatch.inbox(to), expect_channel)
    started = await ctx.http.post("/v1/verify/sessions", json={"to": to}, headers=headers)
    started.raise_for_status()
    session = started.json()
    ctx.echo(
        f"POST /v1/verify/sessions to {to} -> {started.status_code}: {session['id']} "
        f"{session['status']} on {session['channel']}, number shown as {session['to']}"
    )

    message = await dispatch.wait_for_message(
        to, channel=expect_channel, count=earlier + 1, wait_seconds=WAIT_SECONDS
    )
    code = CODE_PATTERN.search(message["body"]).group(1)
    ctx.echo(f"local inbox of {to} ({message['channel']}): {message['body']!r}")

    checked = await ctx.http.post(
        f"/v1/verify/sessions/{session['id']}/check", json={"code": code}, headers=headers
    )
    checked.raise_for_status()
    ctx.echo(f"POST .../check with that code -> {checked.status_code} {checked.json()['status']}")

    view = await _wait_for_status(ctx.http, session["id"], headers, "approved")
    tried = ", ".join(f"{item['channel']} {item['status']}" for item in view["channels_tried"])
    ctx.echo(f"GET /v1/verify/sessions/{session['id']} -> {view['status']}; channels: {tried}")
    ctx.echo(f"see it in the Temporal UI: {ctx.temporal_ui_link(workflow_id(session['id']))}")


def _count(messages: list[dict], channel: str) -> int:
    return sum(1 for message in messages if message["channel"] == channel)


async def _wait_for_status(
    http: httpx.AsyncClient, session_id: str, headers: dict[str, str], status: str
) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        response = await http.get(f"/v1/verify/sessions/{session_id}", headers=headers)
        response.raise_for_status()
        body = response.json()
        if body["status"] == status or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.2)
