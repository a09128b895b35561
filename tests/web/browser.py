"""Debian's Chromium under Playwright, with what the portal's browser tests check on every page.

The browser is the system's `/usr/bin/chromium` (never a Playwright download),
started with a fresh profile for each test. Every request it makes, every
console error and every uncaught script error are recorded, so a test can
assert the pages stay on their own origin and run clean under the CSP.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import expect

from tests.harness.keys import SeededUser

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Playwright's own waits; pages should react well within this.
DEFAULT_TIMEOUT_MS = 15_000
# How soon a page must say that a dependency is down.
OUTAGE_BANNER_SECONDS = 2.0


@dataclass
class BrowserSession:
    """One Chromium profile, its first page and what it observed."""

    context: Any
    page: Any
    base_url: str
    screenshots_dir: Path
    test_name: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> Any:
        """Record `page`'s console errors and uncaught exceptions; return the page."""
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"console: {message.text}") if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        return page

    async def new_page(self) -> Any:
        """Open a second tab in the same profile (same cookies)."""
        return self.watch(await self.context.new_page())

    async def screenshot(self, name: str, page: Any | None = None) -> Path:
        """Save a full-page screenshot as `<test>-<name>.png` under the screenshots folder."""
        self.screenshots_dir.mkdir(parents=True, exist_ok=True)
        safe_test = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.test_name)
        path = self.screenshots_dir / f"{safe_test}-{name}.png"
        await (page or self.page).screenshot(path=str(path), full_page=True)
        return path

    def foreign_requests(self) -> list[str]:
        """Return requests the pages made to any origin other than the portal's."""
        own = urlsplit(self.base_url).netloc
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme in ("http", "https", "ws", "wss")
            and urlsplit(url).netloc != own
        ]

    def unexpected_errors(self, *allowed: str) -> list[str]:
        """Return script errors and CSP violations, except those containing one of `allowed`.

        Chromium logs every 4xx or 5xx answer as "Failed to load resource"; the
        pages handle those, so they are not counted.
        """
        allowed = (*allowed, "Failed to load resource")
        return [error for error in self.errors if not any(text in error for text in allowed)]

    async def close(self) -> None:
        """Close the browser and its profile."""
        await self.context.close()


async def launch_browser(
    driver: Any, *, base_url: str, profile_dir: Path, screenshots_dir: Path, test_name: str
) -> BrowserSession:
    """Start Chromium with a fresh profile in `profile_dir`; page paths resolve on `base_url`."""
    context = await driver.chromium.launch_persistent_context(
        str(profile_dir),
        executable_path=CHROMIUM_PATH,
        headless=True,
        args=CHROMIUM_ARGS,
        base_url=base_url,
        viewport={"width": 1280, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.pages[0] if context.pages else await context.new_page()
    session = BrowserSession(
        context=context,
        page=page,
        base_url=base_url,
        screenshots_dir=screenshots_dir,
        test_name=test_name,
    )
    context.on("request", lambda request: session.requests.append(request.url))
    session.watch(page)
    return session


async def sign_in(session: BrowserSession, user: SeededUser, next_path: str = "") -> None:
    """Sign `user` in through the sign-in page and wait for the page it leads to."""
    page = session.page
    target = f"/portal/sign-in?next={next_path}" if next_path else "/portal/sign-in"
    await page.goto(target)
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(user.password)
    await page.get_by_label("6-digit authenticator code").fill(await user.totp_code())
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"**{next_path or '/portal/keys'}")


async def click_expecting_outage(page: Any, button_name: str, dependency: str) -> Any:
    """Click `button_name` and check the banner names `dependency` as unavailable within 2 s.

    Returns the banner's locator, for checking its Retry button.
    """
    started = time.monotonic()
    await page.get_by_role("button", name=button_name).click()
    banner = page.locator("#portal-banner")
    await expect(banner).to_contain_text(
        re.compile(rf"{re.escape(dependency)} unavailable, retry in \d+ seconds"),
        timeout=OUTAGE_BANNER_SECONDS * 1000,
    )
    assert time.monotonic() - started < OUTAGE_BANNER_SECONDS
    await expect(banner).to_have_attribute("aria-live", "assertive")
    return banner
