"""Verify's building blocks against a real Redis: numbers, codes, caps, breakers, HMACs."""

from __future__ import annotations

import asyncio
import hmac
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.verify.breaker import BreakerState, ChannelBreakers
from portal.verify.caps import Cap, CapName, CapPolicy, cap_arguments
from portal.verify.codes import draw_code, is_well_formed, render_message
from portal.verify.keyring import code_digest, decrypt_number, encrypt_number, split_version
from portal.verify.phone import InvalidPhoneNumber, mask, parse_phone_number
from portal.verify.store import SessionStore
from tests.verify.conftest import stored_session


@pytest.mark.parametrize(
    "raw",
    [
        "+1 (415) 555-2671",
        "+14155552671",
        "＋１ (４１５) ５５５-２６７１",
        "+١٤١٥٥٥٥٢٦٧١",
        "+۱۴۱۵۵۵۵۲۶۷۱",
    ],
)
def test_number_forms_normalise_to_e164(raw):
    assert parse_phone_number(raw).e164 == "+14155552671"


@pytest.mark.parametrize("raw", ["", "hello", "+1555", "4155552671", "+999 1234", "+1" + "5" * 80])
def test_invalid_numbers_raise(raw):
    with pytest.raises(InvalidPhoneNumber):
        parse_phone_number(raw)


def test_mask_keeps_country_and_last_two():
    assert mask("+14155552671") == "+1********71"
    assert mask("+447911123456") == "+44********56"


@given(st.integers(min_value=6, max_value=10))
def test_drawn_codes_are_well_formed(length):
    code = draw_code(length)
    assert is_well_formed(code, length)
    assert not is_well_formed(code + "0", length)


def test_voice_message_spells_digits():
    assert "1 2 3 4 5 6" in render_message("voice", "123456", "en", 10)
    assert "123456" in render_message("sms", "123456", "de-DE", 10)
    assert "Bestätigungscode" in render_message("sms", "123456", "de-DE", 10)


def test_code_digest_binds_session():
    pepper = b"p" * 32
    assert code_digest(pepper, "vs_a", "123456") != code_digest(pepper, "vs_b", "123456")
    assert hmac.compare_digest(
        code_digest(pepper, "vs_a", "123456"), code_digest(pepper, "vs_a", "123456")
    )


def test_number_encryption_binds_session():
    from cryptography.exceptions import InvalidTag

    key = b"k" * 32
    version, sealed = split_version(encrypt_number(key, 3, "vs_a", "+14155552671"))
    assert version == 3
    assert decrypt_number(key, "vs_a", sealed) == "+14155552671"
    with pytest.raises(InvalidTag):
        decrypt_number(key, "vs_b", sealed)


async def test_caps_consume_all_or_none(admin_redis, portal_settings):
    from portal.verify.caps import CHECK_CAPS_LUA

    script = admin_redis.register_script(
        CHECK_CAPS_LUA + "local i, r = check_caps(1, 2, tonumber(ARGV[1]), true)\nreturn {i, r}"
    )
    subject = uuid.uuid4().hex
    wide = Cap(CapName.TENANT_SESSIONS, subject, 100, 60_000)
    narrow = Cap(CapName.RECIPIENT_SESSIONS, subject, 3, 60_000)
    keys, args = cap_arguments([wide, narrow])

    results = await asyncio.gather(*(script(keys=keys, args=[2, *args]) for _ in range(20)))

    assert sum(1 for index, _ in results if index == 0) == 3
    assert all(index == 2 and 0 < reset <= 60_000 for index, reset in results if index)
    assert int(await admin_redis.get(wide.key)) == 3
    assert int(await admin_redis.get(narrow.key)) == 3


async def test_global_budget_caps_prepared_sends(admin_redis, portal_settings):
    settings = portal_settings.model_copy(update={"verify_cap_global_dispatches": "2 per minute"})
    policy = CapPolicy(settings)
    store = SessionStore(admin_redis, policy)
    await admin_redis.delete(policy.cap(CapName.GLOBAL_DISPATCHES, "all").key)
    decisions = []
    for _ in range(3):
        session_id = await stored_session(store)
        decisions.append(await store.prepare_send(session_id, "sms", "1:00"))
    await admin_redis.delete(policy.cap(CapName.GLOBAL_DISPATCHES, "all").key)

    assert [decision.proceed for decision in decisions] == [True, True, False]
    assert decisions[2].cap.cap is CapName.GLOBAL_DISPATCHES
    assert 0 < decisions[2].cap.retry_after <= 60


async def test_breaker_opens_probes_and_closes(admin_redis, portal_settings):
    settings = portal_settings.model_copy(
        update={
            "verify_breaker_min_calls": 4,
            "verify_breaker_failure_ratio": 0.5,
            "verify_breaker_open_seconds": 1,
        }
    )
    breakers = ChannelBreakers(admin_redis, settings)
    channel = f"test-{uuid.uuid4().hex[:6]}"

    for success in (True, False, True):
        assert await breakers.record(channel, success) is BreakerState.CLOSED
    assert await breakers.record(channel, False) is BreakerState.OPEN
    assert not await breakers.allow(channel)

    await asyncio.sleep(1.1)
    assert await breakers.allow(channel)
    assert await breakers.state(channel) is BreakerState.HALF_OPEN
    assert not await breakers.allow(channel)
    assert await breakers.record(channel, False) is BreakerState.OPEN

    await asyncio.sleep(1.1)
    assert await breakers.allow(channel)
    assert await breakers.record(channel, True) is BreakerState.CLOSED
    assert await breakers.allow(channel)
    await breakers.reset(channel)


async def test_forced_breaker_ignores_outcomes(admin_redis, portal_settings):
    breakers = ChannelBreakers(admin_redis, portal_settings)
    channel = f"test-{uuid.uuid4().hex[:6]}"
    await breakers.force(channel, BreakerState.OPEN)
    assert not await breakers.allow(channel)
    await breakers.force(channel, BreakerState.CLOSED)
    for _ in range(20):
        await breakers.record(channel, False)
    assert await breakers.allow(channel)
    await breakers.force(channel, None)
    assert not await breakers.allow(channel)
    await breakers.reset(channel)
