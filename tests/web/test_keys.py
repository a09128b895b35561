"""Keys page and reveal screen in Chromium: create, reveal once, revoke through an outage."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.harness.keys import seed_user
from tests.web.browser import BrowserSession, click_expecting_outage, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECRET_PATTERN = re.compile(r"^sk_test_[0-9A-Za-z]{38}$")
MASK = "••••••••••••••••••••••••"


async def create_key(page, name: str) -> str:
    """Create a test key on the keys page and return its id from the reveal link."""
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_role("button", name="Create key").click()
    notice = page.locator("#created-notice")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text(name)
    href = await page.locator("#created-reveal").get_attribute("href")
    match = re.fullmatch(r"/portal/keys/(key_[0-9a-f]{20})/reveal", href or "")
    assert match, href
    return match[1]


async def pass_step_up_if_asked(page, user) -> bool:
    """Enter a fresh TOTP code when the step-up prompt opens; return whether it did."""
    dialog = page.locator("dialog#step-up")
    try:
        await expect(dialog).to_be_visible(timeout=3_000)
    except AssertionError:
        return False
    await expect(dialog.get_by_label("6-digit authenticator code")).to_be_focused()
    await dialog.get_by_label("6-digit authenticator code").fill(await user.totp_code())
    await dialog.get_by_role("button", name="Confirm").click()
    await expect(dialog).to_be_hidden()
    return True


async def assert_reveal_refused(browser: BrowserSession, page, user) -> None:
    await expect(page.get_by_role("heading", name="Do not share your screen")).to_be_visible()
    await page.get_by_role("button", name="Reveal secret").click()
    await pass_step_up_if_asked(page, user)
    await expect(page.locator("#reveal-gone")).to_be_visible()
    await expect(page.locator("#reveal-gone")).to_contain_text("cannot be shown again")
    await expect(page.locator("#secret-panel")).to_be_hidden()


async def stored_anywhere(browser: BrowserSession, page, secret: str) -> list[str]:
    """Return the browser stores (storage, cookies, IndexedDB, URL) that hold `secret`."""
    found = []
    if secret in page.url:
        found.append("url")
    for store in ("localStorage", "sessionStorage"):
        dump = await page.evaluate(f"JSON.stringify(Object.entries(window.{store}))")
        if secret in dump:
            found.append(store)
    cookies = await browser.context.cookies()
    if any(secret in cookie["value"] for cookie in cookies):
        found.append("cookies")
    databases = await page.evaluate("indexedDB.databases().then((dbs) => dbs.length)")
    if databases:
        found.append("indexedDB")
    return found


async def test_create_and_reveal_once(browser, web_settings):
    user = await seed_user(web_settings)
    page = browser.page
    await sign_in(browser, user)
    key_id = await create_key(page, "checkout backend")
    row = page.locator(f'tr[data-key-id="{key_id}"]')
    await expect(row).to_contain_text("active")
    await expect(row).to_contain_text("verify:send")
    await browser.screenshot("keys-page")

    await page.locator("#created-reveal").click()
    await page.wait_for_url(f"**/portal/keys/{key_id}/reveal")
    await expect(page.get_by_role("heading", name="Do not share your screen")).to_be_visible()
    await browser.screenshot("reveal-warning")

    # Wait out the stack's short MFA window, so revealing asks for a fresh code.
    await page.wait_for_timeout(max(0, web_settings.mfa_max_age_seconds * 1000 + 500))
    async with page.expect_response(f"**/v1/keys/{key_id}/reveal") as reveal_info:
        await page.get_by_role("button", name="Reveal secret").click()
        assert await pass_step_up_if_asked(page, user), "the step-up prompt did not open"
    reveal = await reveal_info.value
    # The first answer is the 401 asking for MFA; the retried POST carries the secret.
    assert reveal.request.method == "POST"

    value = page.locator("#secret-value")
    await expect(value).to_have_text(MASK)
    await expect(page.get_by_role("button", name="Show")).to_be_focused()
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_role("button", name="Hide")).to_have_attribute("aria-pressed", "true")
    secret = (await value.text_content()) or ""
    assert SECRET_PATTERN.fullmatch(secret), secret
    await browser.screenshot("reveal-shown")

    await page.get_by_role("button", name="Copy").click()
    await expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    assert await stored_anywhere(browser, page, secret) == []

    # A second tab of the same browser cannot show it again.
    second = await browser.new_page()
    await second.goto(f"/portal/keys/{key_id}/reveal")
    await assert_reveal_refused(browser, second, user)
    await browser.screenshot("reveal-second-tab", second)
    await second.close()

    # Neither can reloading the screen.
    await page.reload()
    await expect(page.locator("#secret-value")).to_have_text(MASK)
    await assert_reveal_refused(browser, page, user)
    await browser.screenshot("reveal-gone")
    assert secret not in await page.content()


async def test_reveal_gone_after_back(browser, web_settings):
    user = await seed_user(web_settings)
    page = browser.page
    await sign_in(browser, user)
    key_id = await create_key(page, "back button")
    await page.locator("#created-reveal").click()
    await page.get_by_role("button", name="Reveal secret").click()
    await pass_step_up_if_asked(page, user)
    await page.get_by_role("button", name="Show").click()
    secret = (await page.locator("#secret-value").text_content()) or ""
    assert SECRET_PATTERN.fullmatch(secret)
    await page.get_by_role("button", name="Copy").click()
    await expect(page.get_by_role("button", name="Copied")).to_be_visible()

    await page.get_by_role("link", name="Back to API keys").first.click()
    await page.wait_for_url("**/portal/keys")
    await page.go_back()
    await page.wait_for_url(f"**/portal/keys/{key_id}/reveal")
    assert secret not in await page.content()
    await expect(page.locator("#secret-panel")).to_be_hidden()


async def test_reveal_response_not_cacheable(browser, web_settings, web_api):
    user = await seed_user(web_settings)
    page = browser.page
    await sign_in(browser, user)
    key_id = await create_key(page, "headers")
    await page.locator("#created-reveal").click()
    async with page.expect_response(
        lambda response: (
            response.url.endswith(f"/v1/keys/{key_id}/reveal") and response.status == 200
        )
    ) as reveal_info:
        await page.get_by_role("button", name="Reveal secret").click()
        await pass_step_up_if_asked(page, user)
    reveal = await reveal_info.value
    assert reveal.request.method == "POST"
    assert "no-store" in reveal.headers["cache-control"]
    assert reveal.request.headers["x-csrf-token"]
    page_response = await page.request.get(f"/portal/keys/{key_id}/reveal")
    assert page_response.headers["cache-control"] == "no-store"


async def test_create_with_auth_service_down(browser, web_settings, auth_outage):
    user = await seed_user(web_settings)
    page = browser.page
    await sign_in(browser, user)
    await expect(page.locator("#keys-table")).to_have_attribute("aria-busy", "false")
    await page.get_by_label("Name", exact=True).fill("billing worker")
    await page.get_by_label("Environment").select_option("test")

    auth_outage.stop()
    try:
        banner = await click_expecting_outage(page, "Create key", "auth-service")
        await expect(page.get_by_label("Name", exact=True)).to_have_value("billing worker")
        await expect(page.get_by_label("Environment")).to_have_value("test")
        await browser.screenshot("create-auth-service-down")
    finally:
        await auth_outage.restore()

    # Once the auth-service is back, the same input goes through with the Retry button.
    retry = banner.get_by_role("button", name="Retry")
    await expect(retry).to_be_enabled(timeout=20_000)
    await retry.click()
    await expect(page.locator("#created-notice")).to_contain_text("billing worker")


async def test_revoke_through_outage(browser, web_settings, auth_outage):
    user = await seed_user(web_settings)
    page = browser.page
    await sign_in(browser, user)
    key_id = await create_key(page, "to revoke")
    row = page.locator(f'tr[data-key-id="{key_id}"]')
    await expect(row).to_contain_text("active")

    auth_outage.stop()
    try:
        await row.get_by_role("button", name="Revoke").click()
        dialog = page.locator("dialog#confirm-dialog")
        await expect(dialog).to_be_visible()
        await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
        await dialog.get_by_role("button", name="Revoke key").click()
        await expect(row.locator(".status-cell")).to_have_text("revocation pending")
        await expect(page.locator("#portal-status")).to_contain_text("Revocation of to revoke")
        await browser.screenshot("revocation-pending")
        # While the auth-service is down, the revocation stays pending.
        await page.wait_for_timeout(2_000)
        await expect(row.locator(".status-cell")).to_have_text("revocation pending")
    finally:
        await auth_outage.restore()

    # A property on window survives only as long as the page is not reloaded.
    await page.evaluate("window.sameDocument = true")
    await expect(page.locator(f'tr[data-key-id="{key_id}"] .status-cell')).to_have_text(
        "revoked", timeout=60_000
    )
    assert await page.evaluate("window.sameDocument === true")
    await expect(page.locator("#portal-status")).to_contain_text("Key to revoke is revoked.")
    await browser.screenshot("revoked")
