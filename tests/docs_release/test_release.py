"""Publishing through the real edge: release A then B, and a stale edge purged by hand."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time

import httpx
import pytest

from portal.docs_site.releases import release_status, start_release
from tests.docs_release.conftest import (
    RELEASE_SPEC,
    DocsStack,
    edge_manifest,
    settings_env,
)
from workflows.docs_release import ReleaseState

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def publish(stack: DocsStack, release_id: str, timeout: float = 120.0):
    """Run a release to completion and return its final status."""
    handle = await start_release(stack.client, stack.settings, release_id, [RELEASE_SPEC], "test")
    return await asyncio.wait_for(handle.result(), timeout)


async def wait_for_state(stack: DocsStack, release_id: str, state: ReleaseState, timeout: float):
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = await release_status(stack.client, release_id)
        if status is not None and status.state == state:
            return status
        await asyncio.sleep(0.5)
    raise AssertionError(f"release {release_id} not {state} after {timeout} s: {status}")


def edge_page(stack: DocsStack, path: str) -> bytes:
    response = httpx.get(f"{stack.edge.url}/{path}", timeout=5.0)
    assert response.status_code == 200, f"/{path}: {response.status_code}"
    return response.content


async def test_release_b_replaces_a_at_edge(docs_stack: DocsStack):
    first = await publish(docs_stack, "a-" + os.urandom(4).hex())
    assert first.state == ReleaseState.FRESH
    # Readers hit the edge between releases, so A's pages sit in its cache.
    page_a = edge_page(docs_stack, "reference/vonage-verify.html")
    assert edge_manifest(docs_stack)["release_id"] == first.release_id

    second = await publish(docs_stack, "b-" + os.urandom(4).hex())

    assert second.state == ReleaseState.FRESH
    assert second.previous_release_id == first.release_id
    served = edge_manifest(docs_stack)
    assert served["release_id"] == second.release_id
    assert served["manifest_sha256"] == second.manifest_sha256
    files = {entry["path"]: entry["sha256"] for entry in served["files"]}
    for path in ("index.html", "reference/vonage-verify.html"):
        assert hashlib.sha256(edge_page(docs_stack, path)).hexdigest() == files[path]
    assert edge_page(docs_stack, "reference/vonage-verify.html") != page_a
    assert edge_page(docs_stack, "") == edge_page(docs_stack, "index.html")
