"""Code checks: approval once, attempt limits across fallbacks, malformed codes, expiry."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from portal.verify.store import session_key
from tests.verify.conftest import code_from, session_result

pytestmark = pytest.mark.asyncio(loop_scope="session")


def wrong_code(code: str) -> str:
    """Return a code of the same length that differs from `code` in every digit."""
    return "".join(str((int(digit) + 1) % 10) for digit in code)


async def test_twenty_concurrent_right_codes_approve_once(caller, dispatch_admin, numbers):
    to = numbers()
    session = (await caller.start(to)).json()
    code = code_from(await dispatch_admin.wait_for_message(to))

    responses = await asyncio.gather(*(caller.check(session["id"], code) for _ in range(20)))

    approved = [r for r in responses if r.status_code == 200 and r.json()["status"] == "approved"]
    assert len(approved) == 1
    others = Counter(r.status_code for r in responses if r not in approved)
    assert set(others) <= {409, 429}, others
    second = await caller.check(session["id"], code)
    assert second.status_code == 409
    assert second.json()["session_status"] == "approved"


async def test_fifty_concurrent_wrong_codes_lock(caller, dispatch_admin, numbers, temporal_client):
    to = numbers()
    session = (await caller.start(to)).json()
    code = code_from(await dispatch_admin.wait_for_message(to))

    responses = await asyncio.gather(
        *(caller.check(session["id"], wrong_code(code)) for _ in range(50))
    )

    evaluated = [r for r in responses if r.status_code == 200]
    assert len(evaluated) <= 5
    assert all(r.json()["status"] == "rejected" for r in evaluated)
    assert Counter(r.status_code for r in responses)[429] >= 45
    rejected_late = await caller.check(session["id"], code)
    assert rejected_late.status_code == 429
    assert (await session_result(temporal_client, session["id"])).status == "locked"
    assert len(await dispatch_admin.inbox(to)) == 1


async def test_attempts_count_across_fallback(caller, dispatch_admin, numbers, temporal_client):
    await dispatch_admin.set_channel("whatsapp", auto_report=False)
    to = numbers()
    session = (await caller.start(to)).json()
    first = await dispatch_admin.wait_for_message(to, channel="whatsapp")
    code = code_from(first)

    for remaining in (4, 3):
        checked = await caller.check(session["id"], wrong_code(code))
        assert checked.json() == {
            "id": session["id"],
            "status": "rejected",
            "attempts_remaining": remaining,
        }

    # The delivery failure moves the session to SMS; the attempts carry over.
    await dispatch_admin.report(first["message_id"], "failed", "whatsapp_undeliverable")
    sms_code = code_from(await dispatch_admin.wait_for_message(to, channel="sms"))
    for remaining in (2, 1, 0):
        checked = await caller.check(session["id"], wrong_code(sms_code))
        assert checked.json()["attempts_remaining"] == remaining

    assert (await caller.check(session["id"], sms_code)).status_code == 429
    assert (await caller.get(session["id"])).json()["status"] == "locked"
    assert (await session_result(temporal_client, session["id"])).status == "locked"
    cancelled = await caller.cancel(session["id"])
    assert cancelled.status_code == 409
    assert cancelled.json()["session_status"] == "locked"
    assert [m["channel"] for m in await dispatch_admin.inbox(to)] == ["whatsapp", "sms"]


@pytest.mark.parametrize(
    "malformed",
    ["12345", "1234567", "12a456", " 123456", "１２３４５６", "١٢٣٤٥٦", "12 456", ""],
)
async def test_malformed_code_is_400_and_an_attempt(caller, dispatch_admin, numbers, malformed):
    to = numbers()
    session = (await caller.start(to)).json()
    await dispatch_admin.wait_for_message(to)

    checked = await caller.check(session["id"], malformed)

    assert checked.status_code == 400
    assert checked.headers["content-type"] == "application/problem+json"
    assert checked.json()["errors"][0]["field"] == "code"
    assert checked.json()["attempts_remaining"] == 4
    assert (await caller.get(session["id"])).json()["attempts_remaining"] == 4


async def test_expired_session_is_410(caller, dispatch_admin, numbers, admin_redis):
    to = numbers()
    session = (await caller.start(to)).json()
    code = code_from(await dispatch_admin.wait_for_message(to))

    # Move the expiry into the past instead of waiting ten minutes.
    await admin_redis.hset(session_key(session["id"]), "expires_at", 1)

    checked = await caller.check(session["id"], code)
    assert checked.status_code == 410
    assert checked.json()["session_status"] == "expired"
    assert (await caller.get(session["id"])).json()["status"] == "expired"
    assert (await caller.cancel(session["id"])).status_code == 410


async def test_unknown_session_is_404(caller):
    response = await caller.check("vs_0000", "123456")
    assert response.status_code == 404
    assert (await caller.get("vs_0000")).status_code == 404


async def test_view_never_shows_code_or_number(caller, dispatch_admin, numbers):
    to = numbers()
    session = (await caller.start(to, code_length=8)).json()
    code = code_from(await dispatch_admin.wait_for_message(to))
    assert len(code) == 8

    text = (await caller.get(session["id"])).text
    assert code not in text
    assert to not in text
    assert to[1:] not in text
