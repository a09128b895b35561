"""A browser on the Temporal UI's origin decodes through the codec server, others cannot.

The Temporal UI calls the codec server with `fetch(..., {credentials: "include"})`
when "Include cross-origin credentials" is on. This test makes the same call from
a page on the UI's origin in headless Chromium, so the browser applies CORS and
the session cookie's rules as it would for DevRel.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from portal.settings import Settings
from tests.harness.servers import ManagedProcess, free_port, port_open, unavailable
from tests.ops.conftest import CODEC_TOKEN

CHROMIUM_PATH = "/usr/bin/chromium"
PHONE = "+14155550123"
FETCH_DECODE = """
async ([url, body, credentials]) => {
  try {
    const response = await fetch(url, {
      method: "POST",
      credentials,
      headers: {"Content-Type": "application/json", "X-Namespace": "default"},
      body,
    });
    return {status: response.status, text: await response.text()};
  } catch (error) {
    return {status: 0, text: String(error)};
  }
}
"""


def static_site(name: str, port: int, workdir: Path) -> ManagedProcess:
    """Serve an empty page on 127.0.0.1:`port`, standing in for a site of that origin."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "index.html").write_text("<!doctype html><title>origin</title>")
    return ManagedProcess(
        name,
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        workdir,
        ready=lambda: port_open(port),
        cwd=workdir,
    ).start()


@pytest.fixture(scope="module")
def origins(ops_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The Temporal UI's origin and another one, each serving an empty page."""
    ui_port, other_port = ops_settings.temporal_ui_port, free_port()
    ui = static_site("ui-origin", ui_port, tmp_path_factory.mktemp("ui-origin"))
    other = static_site("other-origin", other_port, tmp_path_factory.mktemp("other-origin"))
    yield {"ui": f"http://127.0.0.1:{ui_port}/", "other": f"http://127.0.0.1:{other_port}/"}
    ui.stop()
    other.stop()


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium, driven through Playwright; skip (fail under CI) when missing."""
    if importlib.util.find_spec("playwright") is None:
        unavailable("the playwright package is not installed; run scripts/setup.sh")
    if not os.path.exists(CHROMIUM_PATH):
        unavailable(f"{CHROMIUM_PATH} is missing; install Debian's chromium package")
    return CHROMIUM_PATH


@pytest_asyncio.fixture(loop_scope="session")
async def browser_context(chromium: str) -> AsyncIterator[object]:
    """A fresh browser context: no cookies, no cache."""
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        context = await browser.new_context()
        yield context
        await browser.close()


def encrypted_body(codec_url: str) -> str:
    plain = {
        "payloads": [
            {
                "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                "data": base64.b64encode(f'"{PHONE}"'.encode()).decode(),
            }
        ]
    }
    response = httpx.post(
        f"{codec_url}/encode", json=plain, headers={"Authorization": f"Bearer {CODEC_TOKEN}"}
    )
    response.raise_for_status()
    return response.text


async def test_browser_decodes_after_login_from_ui_origin(
    browser_context, codec_server: ManagedProcess, origins: dict
):
    codec_url = codec_server.url  # type: ignore[attr-defined]
    body = encrypted_body(codec_url)
    page = await browser_context.new_page()
    await page.goto(origins["ui"])

    before = await page.evaluate(FETCH_DECODE, [f"{codec_url}/decode", body, "include"])
    login = await browser_context.new_page()
    await login.goto(f"{codec_url}/login")
    await login.fill("input[name=token]", CODEC_TOKEN)
    await login.click("button")
    await login.wait_for_selector("text=Signed in")
    after = await page.evaluate(FETCH_DECODE, [f"{codec_url}/decode", body, "include"])
    without_credentials = await page.evaluate(
        FETCH_DECODE, [f"{codec_url}/decode", body, "same-origin"]
    )

    assert before["status"] == 401
    assert after["status"] == 200, after["text"]
    [payload] = json.loads(after["text"])["payloads"]
    assert base64.b64decode(payload["data"]).decode() == f'"{PHONE}"'
    assert without_credentials["status"] == 401


async def test_browser_on_other_origin_is_blocked(
    browser_context, codec_server: ManagedProcess, origins: dict
):
    codec_url = codec_server.url  # type: ignore[attr-defined]
    body = encrypted_body(codec_url)
    login = await browser_context.new_page()
    await login.goto(f"{codec_url}/login")
    await login.fill("input[name=token]", CODEC_TOKEN)
    await login.click("button")
    await login.wait_for_selector("text=Signed in")
    page = await browser_context.new_page()
    await page.goto(origins["other"])

    result = await page.evaluate(FETCH_DECODE, [f"{codec_url}/decode", body, "include"])

    # CORS hides the response from the page: fetch rejects with a TypeError.
    assert result["status"] == 0
    assert PHONE not in result["text"]
