"""Sign-in page in Chromium: TOTP sign-in, wrong codes, the return path, an auth-service outage."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from api.web.headers import CONTENT_SECURITY_POLICY
from tests.harness.keys import seed_user
from tests.web.browser import click_expecting_outage, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_sign_in_page_headers(browser):
    response = await browser.page.goto("/portal/sign-in")
    headers = response.headers
    assert response.status == 200
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    await expect(browser.page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(browser.page.get_by_label("Email")).to_be_focused()
    await browser.screenshot("sign-in")
    assert browser.foreign_requests() == []
    assert browser.unexpected_errors() == []


async def test_sign_in_with_totp(browser, web_settings):
    user = await seed_user(web_settings)
    await sign_in(browser, user)
    await expect(browser.page.locator("#account-name")).to_have_text(user.email)
    assert browser.unexpected_errors() == []


async def test_wrong_code_keeps_email(browser, web_settings):
    user = await seed_user(web_settings)
    page = browser.page
    await page.goto("/portal/sign-in")
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(user.password)
    await page.get_by_label("6-digit authenticator code").fill("000000")
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.locator("#portal-banner")).to_contain_text("Sign-in failed")
    await expect(page.get_by_label("Email")).to_have_value(user.email)
    await expect(page.get_by_label("Password")).to_have_value(user.password)
    await expect(page.get_by_label("6-digit authenticator code")).to_be_focused()
    assert page.url.endswith("/portal/sign-in")


async def test_missing_fields_named(browser):
    page = browser.page
    await page.goto("/portal/sign-in")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#email-error")).to_have_text("Enter your email.")
    await expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Email")).to_be_focused()


async def test_signed_out_visit_returns_after_sign_in(browser, web_settings):
    user = await seed_user(web_settings)
    page = browser.page
    await page.goto("/portal/verify")
    await page.wait_for_url(re.compile(r"/portal/sign-in\?next=%2Fportal%2Fverify$"))
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(user.password)
    await page.get_by_label("6-digit authenticator code").fill(await user.totp_code())
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/portal/verify")


async def test_next_path_to_other_site_ignored(browser, web_settings):
    user = await seed_user(web_settings)
    page = browser.page
    await page.goto("/portal/sign-in?next=//example.com/phish")
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(user.password)
    await page.get_by_label("6-digit authenticator code").fill(await user.totp_code())
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/portal/keys$"))


async def test_auth_service_down_shows_banner(browser, web_settings, auth_outage):
    user = await seed_user(web_settings)
    page = browser.page
    await page.goto("/portal/sign-in")
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(user.password)
    await page.get_by_label("6-digit authenticator code").fill("123456")

    auth_outage.stop()
    try:
        await click_expecting_outage(page, "Sign in", "auth-service")
        await expect(page.get_by_label("Email")).to_have_value(user.email)
        await expect(page.get_by_label("Password")).to_have_value(user.password)
        await expect(page.get_by_label("6-digit authenticator code")).to_have_value("123456")
        await browser.screenshot("auth-service-down")
    finally:
        await auth_outage.restore()


async def test_keyboard_only_sign_in_and_out(browser, web_settings):
    user = await seed_user(web_settings)
    page = browser.page
    await page.goto("/portal/sign-in")
    await expect(page.get_by_label("Email")).to_be_focused()
    await page.keyboard.type(user.email)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type(user.password)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("6-digit authenticator code")).to_be_focused()
    await page.keyboard.type(await user.totp_code())
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/portal/keys$"))

    # The skip link comes first, then the navigation, in reading order.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Developer portal")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="API keys")).to_be_focused()
    await expect(page.get_by_role("link", name="API keys")).to_have_attribute(
        "aria-current", "page"
    )

    await page.get_by_role("button", name="Sign out").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/portal/sign-in$"))
    await page.goto("/portal/keys")
    await page.wait_for_url(re.compile(r"/portal/sign-in\?next=%2Fportal%2Fkeys$"))
