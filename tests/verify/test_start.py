"""Starting sessions: input checks, authentication, caps, and dependencies that are down."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from api.problems import PROBLEM_MEDIA_TYPE
from portal.settings import Settings
from tests.harness.servers import free_port
from tests.verify.conftest import VerifyCaller, create_api_key

pytestmark = pytest.mark.asyncio(loop_scope="session")

FULL_WIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@asynccontextmanager
async def api_with(settings: Settings, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    """Run a second API app whose settings differ from the session's by `overrides`."""
    from api.app import create_app

    app = create_app(settings.model_copy(update=overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
            yield client


async def count_sessions(admin_redis) -> int:
    """Count the session hashes in Redis."""
    return len([key async for key in admin_redis.scan_iter("portal:verify:session:*", count=1000)])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "not a number"}, "to"),
        ({"to": "+1555"}, "to"),
        ({"to": "4155552671"}, "to"),
        ({"to": "+1" + "4" * 70}, "to"),
        ({"code_length": 5}, "code_length"),
        ({"code_length": 11}, "code_length"),
        ({"channel_timeout_seconds": 14}, "channel_timeout_seconds"),
        ({"channel_timeout_seconds": 901}, "channel_timeout_seconds"),
        ({"channels": ["sms", "sms"]}, "channels"),
        ({"channels": ["email"]}, "channels.0"),
        ({"channels": []}, "channels"),
        ({"locale": "xx"}, "locale"),
        ({"locale": "english"}, "locale"),
    ],
)
async def test_invalid_field_is_400(caller, numbers, body, field):
    response = await caller.http.post(
        "/v1/verify/sessions", json={"to": numbers(), **body}, headers=caller.headers
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_missing_key_is_401(caller, numbers):
    response = await caller.http.post("/v1/verify/sessions", json={"to": numbers()})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


async def test_key_without_verify_scope_is_403(caller, numbers, portal_settings):
    tenant_id, key_id, secret = await create_api_key(portal_settings, scopes=("keys:read",))
    other = VerifyCaller(tenant_id, key_id, secret, caller.http)
    response = await other.start(numbers())
    assert response.status_code == 403
    assert "verify" in response.json()["accepted_scopes"]


async def test_number_forms_share_recipient_cap(caller, dispatch_admin, numbers):
    e164 = numbers()
    national = f"{e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    forms = [
        e164,
        f"+1 ({national}",
        e164.translate(FULL_WIDTH),
        "+" + e164[1:].translate(ARABIC_INDIC),
        f"+1-{e164[2:5]}-{e164[5:8]}-{e164[8:]}",
    ]
    for form in forms:
        response = await caller.start(form)
        assert response.status_code == 201, (form, response.text)

    refused = await caller.start(f"+1.{e164[2:5]}.{e164[5:8]}.{e164[8:]}")

    assert refused.status_code == 429
    assert refused.json()["cap"] == "recipient_sessions"
    assert 0 < int(refused.headers["retry-after"]) <= 600
    assert "recipient_sessions" in refused.json()["detail"]


async def test_tenant_cap_is_429_with_retry_after(caller, numbers, portal_settings):
    async with api_with(portal_settings, verify_cap_tenant_sessions="2 per minute") as http:
        capped = VerifyCaller(caller.tenant_id, caller.key_id, caller.secret, http, caller.started)
        for _ in range(2):
            assert (await capped.start(numbers())).status_code == 201
        refused = await capped.start(numbers())
    assert refused.status_code == 429
    assert refused.json()["cap"] == "tenant_sessions"
    assert refused.json()["limit"] == "2 per minute"
    assert 0 < int(refused.headers["retry-after"]) <= 60


async def test_auth_service_down_is_fast_503(caller, numbers, portal_settings, admin_redis):
    before = await count_sessions(admin_redis)
    async with api_with(portal_settings, auth_service_address=f"127.0.0.1:{free_port()}") as http:
        started = time.monotonic()
        response = await http.post(
            "/v1/verify/sessions", json={"to": numbers()}, headers=caller.headers
        )
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["dependency"] == "auth-service"
    assert elapsed < 3
    assert await count_sessions(admin_redis) == before


async def test_temporal_down_is_503_and_leaves_nothing(
    caller, numbers, portal_settings, admin_redis
):
    before = await count_sessions(admin_redis)
    async with api_with(portal_settings, temporal_address=f"127.0.0.1:{free_port()}") as http:
        down = VerifyCaller(caller.tenant_id, caller.key_id, caller.secret, http)
        started = time.monotonic()
        response = await down.start(numbers())
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["dependency"] == "temporal"
    assert "retry-after" in response.headers
    assert elapsed < 5
    assert await count_sessions(admin_redis) == before


async def test_redis_down_is_503(caller, numbers, portal_settings):
    async with api_with(portal_settings, redis_url=f"redis://127.0.0.1:{free_port()}/0") as http:
        down = VerifyCaller(caller.tenant_id, caller.key_id, caller.secret, http)
        response = await down.get("vs_0000")
    assert response.status_code == 503
    assert "retry-after" in response.headers


async def test_every_channel_open_is_503(caller, numbers, portal_settings, admin_redis):
    from portal.verify.breaker import BreakerState, ChannelBreakers

    breakers = ChannelBreakers(admin_redis, portal_settings)
    await breakers.force("sms", BreakerState.OPEN)
    try:
        response = await caller.start(numbers(), channels=["sms"])
        assert response.status_code == 503
        assert response.json()["type"].endswith("verify-channels-unavailable")
        assert int(response.headers["retry-after"]) > 0
        fallback = await caller.start(numbers(), channels=["sms", "voice"])
        assert fallback.status_code == 201
        assert fallback.json()["channel"] == "voice"
    finally:
        await breakers.force("sms", None)


async def test_key_pending_revocation_is_401(caller, numbers, admin_redis):
    from datetime import UTC, datetime

    from portal.keys import revocations

    before = await count_sessions(admin_redis)
    await revocations.mark_pending(admin_redis, caller.tenant_id, caller.key_id, datetime.now(UTC))
    try:
        response = await caller.start(numbers())
    finally:
        await revocations.clear_pending(admin_redis, caller.tenant_id, caller.key_id)

    assert response.status_code == 401
    assert caller.key_id in response.json()["detail"]
    assert await count_sessions(admin_redis) == before
