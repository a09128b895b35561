"""Release status page in Chromium: docs and SDK releases, their workflows, purge, retry, abandon.

No registry or CDN edge runs for the browser tests' stack, so an SDK release
turns partial after its first publish attempt and a docs release keeps
retrying its build: real states of real workflows, for the page to show.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import expect

from tests.harness.keys import seed_user
from tests.harness.keys import sign_in as sign_in_api
from tests.web.browser import sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")

DEVREL_ROLES = ("developer", "devrel")


async def start_releases(base_url: str, user, *, sdk_version: str, docs_release: str) -> None:
    """Start an SDK release (Python only) and a docs release through the API, as DevRel."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as http:
        session = await sign_in_api(http, user)
        sdk = await http.post(
            "/v1/sdk/releases",
            json={"version": sdk_version, "languages": ["python"]},
            headers=session.headers,
        )
        assert sdk.status_code == 202, sdk.text
        docs = await http.post(
            "/v1/docs/releases", json={"release_id": docs_release}, headers=session.headers
        )
        assert docs.status_code == 202, docs.text


async def test_developer_sees_role_required(browser, web_settings):
    user = await seed_user(web_settings, roles=("developer",))
    page = browser.page
    await sign_in(browser, user, next_path="/portal/releases")
    await expect(page.locator("#portal-banner")).to_contain_text("Role required")
    await expect(page.locator("#portal-banner")).to_contain_text("devrel")


async def test_release_status_and_actions(browser, web_settings, web_api):
    user = await seed_user(web_settings, roles=DEVREL_ROLES)
    suffix = uuid.uuid4().int % 1000
    sdk_version = f"0.{suffix}.0"
    docs_release = f"web-{uuid.uuid4().hex[:8]}"
    await start_releases(web_api.base_url, user, sdk_version=sdk_version, docs_release=docs_release)

    page = browser.page
    await sign_in(browser, user, next_path="/portal/releases")

    docs_row = page.locator(f'#docs-releases tr[data-release="{docs_release}"]')
    await expect(docs_row).to_be_visible()
    await expect(docs_row).to_contain_text("varnish")
    link = docs_row.get_by_role("link", name=f"Workflow docs-release-{docs_release}")
    temporal_ui = (
        f"http://{web_settings.temporal_host}:{web_settings.temporal_ui_port}"
        f"/namespaces/{web_settings.temporal_namespace}/workflows/docs-release-{docs_release}"
    )
    await expect(link).to_have_attribute("href", temporal_ui)
    await expect(link).to_have_attribute("rel", "noopener noreferrer")

    # Purge needs confirmation, and cancelling sends nothing.
    await docs_row.get_by_role("button", name="Purge CDN").click()
    dialog = page.locator("dialog#confirm-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await docs_row.get_by_role("button", name="Purge CDN").click()
    await dialog.get_by_role("button", name="Purge").click()
    await expect(page.locator("#portal-status")).to_contain_text(
        f"Purge of docs release {docs_release} started"
    )

    sdk_row = page.locator(f'#sdk-releases tr[data-release="{sdk_version}"]')
    await expect(sdk_row).to_be_visible()
    await expect(sdk_row).to_contain_text("python")
    sdk_link = sdk_row.get_by_role("link", name=f"Workflow sdk-release-{sdk_version}")
    await expect(sdk_link).to_be_visible()
    # Building the wheel takes a while; publishing then fails for want of a registry.
    await expect(sdk_row.locator(".status").first).to_have_text("partial", timeout=180_000)
    await expect(sdk_row).to_contain_text("python: failed")
    await browser.screenshot("releases")

    # Retrying publishes python again; with no registry it fails again and stays partial.
    await sdk_row.get_by_role("button", name="Retry missing").click()
    await dialog.get_by_role("button", name="Retry").click()
    await expect(page.locator("#portal-status")).to_contain_text(
        f"SDK release {sdk_version} is partial.", timeout=130_000
    )
    await expect(sdk_row.locator(".status").first).to_have_text("partial")

    await sdk_row.get_by_role("button", name="Abandon").click()
    await expect(dialog.get_by_label("Reason")).to_be_focused()
    await dialog.get_by_role("button", name="Abandon release").click()
    await expect(page.locator("#reason-error")).to_have_text("Say why in at least 3 characters.")
    await dialog.get_by_label("Reason").fill("no registry in the browser tests")
    await dialog.get_by_role("button", name="Abandon release").click()
    await expect(page.locator("#portal-status")).to_contain_text(
        f"SDK release {sdk_version} is abandoned.", timeout=45_000
    )
    await expect(sdk_row.locator(".status").first).to_have_text("abandoned")
    await expect(sdk_row).to_contain_text("no registry in the browser tests")
    await expect(sdk_row.get_by_role("link", name="Issue #")).to_be_visible()
    await expect(sdk_row.get_by_role("button", name="Abandon")).to_have_count(0)
    await browser.screenshot("release-abandoned")
    assert browser.foreign_requests() == []
    assert browser.unexpected_errors() == []
