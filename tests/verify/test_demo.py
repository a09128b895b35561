"""The Verify step of `portal demo` runs against the test stack."""

from __future__ import annotations

import pytest

from portal.demo import DemoContext
from portal.verify.demo import verify_demo

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_demo_step_approves_on_whatsapp_then_sms(
    portal_settings, api_client, portal_worker, temporal_client, dispatch_admin, closed_breakers
):
    lines: list[str] = []
    ctx = DemoContext(
        settings=portal_settings, http=api_client, temporal=temporal_client, echo=lines.append
    )

    await verify_demo(ctx)

    text = "\n".join(lines)
    assert "pending on whatsapp" in text
    assert "-> 200 approved" in text
    assert "whatsapp failed, sms" in text
    assert "local inbox of" in text
    channels = await dispatch_admin.stats()
    assert {row["channel"] for row in channels["outcomes"]} == {"whatsapp", "sms"}
