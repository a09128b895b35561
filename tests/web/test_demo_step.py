"""The `portal demo` step of the web pages, run against the browser tests' stack."""

from __future__ import annotations

import httpx
import pytest

from api.web.demo import PAGES, web_pages_demo
from portal.demo import DemoContext

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_demo_step_lists_pages(web_settings, web_api, temporal_client):
    lines: list[str] = []
    async with httpx.AsyncClient(base_url=web_api.base_url, timeout=10.0) as http:
        ctx = DemoContext(
            settings=web_settings, http=http, temporal=temporal_client, echo=lines.append
        )
        await web_pages_demo(ctx)
    for _, path in PAGES:
        assert any(line.endswith(f"{web_api.base_url}{path}") for line in lines), lines
    assert any("gets 403" in line for line in lines), lines
