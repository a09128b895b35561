"""Verify console in Chromium: a test key, a session that falls back to SMS, approval."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.async_api import expect

from tests.harness.keys import seed_user
from tests.web.browser import sign_in
from tests.web.test_keys import pass_step_up_if_asked

pytestmark = pytest.mark.asyncio(loop_scope="session")

CODE_PATTERN = re.compile(r"\b(\d(?: ?\d){5,9})\b")


def fresh_number() -> str:
    """Return a valid US number in the fictional 555 range, unused by other tests."""
    return f"+1312555{uuid.uuid4().int % 10_000:04d}"


async def open_console_with_own_key(browser, user) -> None:
    page = browser.page
    await page.goto("/portal/verify")
    await page.get_by_role("button", name="Create a console key for me").click()
    await pass_step_up_if_asked(page, user)
    await expect(page.locator("#api-key-status")).to_contain_text("Using a console key")


async def test_session_to_approval(browser, web_settings, dispatch_admin, web_api, web_worker):
    # WhatsApp accepts the message but never delivers it, so the session moves to SMS.
    await dispatch_admin.set_channel("whatsapp", delivery_failure_rate=1.0)
    user = await seed_user(web_settings)
    page = browser.page
    await sign_in(browser, user)
    await open_console_with_own_key(browser, user)

    number = fresh_number()
    await page.get_by_label("Phone number").fill(number)
    await page.get_by_label("Seconds before the next channel").fill("60")
    await page.get_by_role("button", name="Send code").click()

    card = page.locator("#session-card")
    await expect(card).to_be_visible()
    await expect(page.locator("#session-status")).to_have_text("pending")
    attempts = page.locator("#attempts")
    await expect(attempts).to_have_attribute("aria-live", "polite")
    await expect(attempts.locator("li").first).to_contain_text("whatsapp")
    await expect(attempts.locator("li").nth(1)).to_contain_text("sms", timeout=20_000)
    await expect(page.locator("#session-channel")).to_have_text("sms")
    # The console shows the masked number, never the one typed in full.
    assert number not in ((await page.locator("#session-to").text_content()) or "")
    await browser.screenshot("verify-fallback")

    message = await dispatch_admin.wait_for_message(number, channel="sms")
    code = CODE_PATTERN.search(message["body"])[1].replace(" ", "")
    await page.get_by_label("Code received").fill(code)
    await page.get_by_role("button", name="Check code").click()
    await expect(page.locator("#check-result")).to_have_text(
        "Code approved: the number is verified."
    )
    await expect(page.locator("#session-status")).to_have_text("approved")
    await expect(page.get_by_label("Code received")).to_be_disabled()
    await expect(page.get_by_label("Code received")).to_have_value("")
    await browser.screenshot("verify-approved")
    assert browser.foreign_requests() == []
    assert browser.unexpected_errors() == []

    # Neither the code nor the full number reached the API's or the worker's log.
    for log in (web_api.log_path, web_worker.log_path):
        text = log.read_text(errors="replace")
        assert code not in text, log
        assert number not in text, log

    # Leaving the console revokes the key it created for itself.
    await page.get_by_role("link", name="API keys").click()
    console_key = page.locator("#keys-table tbody tr", has_text="Verify console")
    await expect(console_key.locator(".status-cell")).to_have_text("revoked", timeout=30_000)


async def test_wrong_code_then_cancel(browser, web_settings, dispatch_admin):
    user = await seed_user(web_settings)
    page = browser.page
    await sign_in(browser, user)
    await open_console_with_own_key(browser, user)

    await page.get_by_label("Phone number").fill(fresh_number())
    await page.locator('input[name="channels"][value="whatsapp"]').uncheck()
    await page.locator('input[name="channels"][value="voice"]').uncheck()
    await page.get_by_role("button", name="Send code").click()
    await expect(page.locator("#session-channel")).to_have_text("sms")

    await page.get_by_label("Code received").fill("000000")
    await page.get_by_role("button", name="Check code").click()
    await expect(page.locator("#check-result")).to_contain_text("Code rejected.")

    await page.get_by_role("button", name="Cancel verification").click()
    await expect(page.locator("#session-status")).to_have_text("cancelled")


async def test_pasted_key_kept_in_page_only(browser, web_settings):
    user = await seed_user(web_settings)
    page = browser.page
    await sign_in(browser, user)
    await page.goto("/portal/verify")
    key_field = page.get_by_label("Test API key")

    await key_field.fill("sk_live_not_a_test_key")
    await page.get_by_role("button", name="Use this key").click()
    await expect(page.locator("#api_key-error")).to_contain_text("sk_test_")
    await expect(key_field).to_have_attribute("aria-invalid", "true")

    pasted = "sk_test_" + "A" * 38
    await key_field.fill(pasted)
    await page.get_by_role("button", name="Use this key").click()
    await expect(page.locator("#api-key-status")).to_contain_text("sk_test_…AAAA")
    await expect(key_field).to_have_value("")
    for store in ("localStorage", "sessionStorage"):
        assert pasted not in await page.evaluate(f"JSON.stringify(Object.entries({store}))")
    assert all(pasted not in cookie["value"] for cookie in await browser.context.cookies())

    # The API checks the key: an unknown key is named as such, and the number stays typed.
    await page.get_by_label("Phone number").fill("+13125550100")
    await page.get_by_role("button", name="Send code").click()
    await expect(page.locator("#portal-banner")).to_contain_text("Invalid API key")
    await expect(page.get_by_label("Phone number")).to_have_value("+13125550100")

    await page.reload()
    await page.get_by_label("Phone number").fill("+13125550100")
    await page.get_by_role("button", name="Send code").click()
    await expect(page.locator("#api_key-error")).to_contain_text("Use a test API key first")
