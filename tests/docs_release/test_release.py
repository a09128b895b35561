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
    PrometheusServer,
    alert_expression,
    edge_manifest,
    settings_env,
)
from workflows.docs_release import ReleaseState

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def publish(stack: DocsStack, release_id: str, within: float = 120.0):
    """Run a release to completion and return its final status."""
    handle = await start_release(stack.client, stack.settings, release_id, [RELEASE_SPEC], "test")
    return await asyncio.wait_for(handle.result(), within)


async def wait_for_state(stack: DocsStack, release_id: str, state: ReleaseState, within: float):
    deadline = time.monotonic() + within
    status = None
    while time.monotonic() < deadline:
        status = await release_status(stack.client, release_id)
        if status is not None and status.state == state:
            return status
        await asyncio.sleep(0.5)
    raise AssertionError(f"release {release_id} not {state} after {within} s: {status}")


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


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """Return the sample of `name` with exactly `labels` in Prometheus text, or None."""
    expected_labels = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{"):
            series, _, value = line.rpartition(" ")
            found = ",".join(sorted(series[len(name) + 1 : -1].split(",")))
            if found == expected_labels:
                return float(value)
    return None


async def wait_for_query(prometheus: PrometheusServer, expression: str, within: float = 30.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = prometheus.query(expression)
        if result:
            return result
        await asyncio.sleep(1.0)
    raise AssertionError(f"{expression!r} returned nothing for {within} s")


async def test_stale_edge_until_manual_purge(docs_stack: DocsStack, tmp_path):
    site = docs_stack.settings.docs_site
    first = await publish(docs_stack, "s1-" + os.urandom(4).hex())
    edge_page(docs_stack, "")
    docs_stack.edge.refuse_purges()
    try:
        release_id = "s2-" + os.urandom(4).hex()
        handle = await start_release(
            docs_stack.client, docs_stack.settings, release_id, [RELEASE_SPEC], "test"
        )
        stale = await wait_for_state(docs_stack, release_id, ReleaseState.STALE, within=120)

        # Still open, and the edge still serves the first release.
        description = await handle.describe()
        assert description.status.name == "RUNNING"
        assert stale.last_check is not None
        assert stale.last_check.edge_release_id == first.release_id
        assert any("403" in error for error in stale.purge_errors)
        assert edge_manifest(docs_stack)["release_id"] == first.release_id
        metrics = docs_stack.worker_metrics()
        assert metric_value(metrics, "portal_docs_release_stale", site=site) == 1.0
        assert metric_value(metrics, "portal_docs_edge_stale", site=site) == 1.0
        rejected = metric_value(
            metrics, "portal_docs_purges_total", provider="varnish", outcome="rejected"
        )
        assert rejected is not None and rejected >= 1

        # A real Prometheus scraping the worker evaluates the alert expressions.
        prometheus = PrometheusServer(
            tmp_path / "prometheus", docs_stack.settings.worker_metrics_port
        )
        prometheus.process.start()
        try:
            fired = await wait_for_query(prometheus, alert_expression("PortalDocsReleaseStale"))
            assert fired[0]["metric"]["site"] == site
            fired = await wait_for_query(prometheus, alert_expression("PortalDocsEdgeStale"))
            assert fired[0]["metric"]["site"] == site
            await wait_for_query(
                prometheus, 'ALERTS{alertname="PortalDocsReleaseStale",alertstate="pending"}'
            )
        finally:
            prometheus.process.stop()
    finally:
        docs_stack.edge.accept_purges()

    purge = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "portal", "docs", "purge", "--release", release_id],
        env={**os.environ, **settings_env(docs_stack.settings)},
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert purge.returncode == 0, purge.stdout + purge.stderr
    assert f"edge before:  {first.manifest_sha256}" in purge.stdout
    assert f"edge after:   {stale.manifest_sha256}" in purge.stdout
    final = await asyncio.wait_for(handle.result(), 60)
    assert final.state == ReleaseState.FRESH
    assert edge_manifest(docs_stack)["release_id"] == release_id
    metrics = docs_stack.worker_metrics()
    assert metric_value(metrics, "portal_docs_release_stale", site=site) == 0.0
    assert metric_value(metrics, "portal_docs_edge_stale", site=site) == 0.0


async def run_portal(stack: DocsStack, *args: str) -> subprocess.CompletedProcess:
    """Run the `portal` CLI against the docs stack."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "portal", *args],
        env={**os.environ, **settings_env(stack.settings)},
        capture_output=True,
        text=True,
        timeout=240,
    )


async def test_cli_publish_check_status(docs_stack: DocsStack):
    release_id = "cli-" + os.urandom(4).hex()

    bootstrap = await run_portal(docs_stack, "docs", "bootstrap")
    published = await run_portal(
        docs_stack, "docs", "publish", "--release", release_id, "--spec", RELEASE_SPEC
    )
    check = await run_portal(docs_stack, "docs", "check")
    status = await run_portal(docs_stack, "docs", "status", release_id)
    duplicate = await run_portal(docs_stack, "docs", "publish", "--release", release_id)
    unknown = await run_portal(
        docs_stack, "docs", "publish", "--release", "x1", "--spec", "missing.yaml"
    )

    assert bootstrap.returncode == 0, bootstrap.stderr
    assert f"bucket {docs_stack.settings.docs_bucket} ready" in bootstrap.stdout
    assert published.returncode == 0, published.stdout + published.stderr
    assert f"started docs-release-{release_id}" in published.stdout
    assert check.returncode == 0, check.stdout + check.stderr
    assert "edge is fresh" in check.stdout
    assert status.returncode == 0
    assert '"state": "fresh"' in status.stdout
    assert duplicate.returncode == 2
    assert "exists" in duplicate.stderr
    assert unknown.returncode == 2
    assert "missing.yaml" in unknown.stderr


async def test_edge_caches_and_bans_paths(docs_stack: DocsStack):
    from activities.cdn import CdnActivities, PurgeRequest

    release = await publish(docs_stack, "v-" + os.urandom(4).hex())
    url = f"{docs_stack.edge.url}/reference/vonage-verify.html"
    async with httpx.AsyncClient(timeout=5.0) as http:
        first = await http.get(url)
        second = await http.get(url)
        index = await http.get(f"{docs_stack.edge.url}/index.html")

        cdn = CdnActivities(docs_stack.settings, http=http)
        purger = await cdn.purger("varnish")
        await purger.purge(
            PurgeRequest(provider="varnish", caller_reference="ban", paths=["/reference/*"])
        )
        banned = await http.get(url)
        kept = await http.get(f"{docs_stack.edge.url}/index.html")

    assert second.headers["x-cache"] == "HIT"
    assert second.headers["x-docs-release"] == release.release_id
    assert second.headers["cache-control"] == "public, max-age=300"
    assert "xkey" not in second.headers
    assert "x-amz-meta-sha256" not in second.headers
    assert second.content == first.content
    assert banned.headers["x-cache"] == "MISS"
    assert banned.content == first.content
    assert kept.headers["x-cache"] == "HIT"
    assert kept.content == index.content


async def test_edge_rejects_bad_requests(docs_stack: DocsStack):
    edge = docs_stack.edge.url
    async with httpx.AsyncClient(timeout=5.0) as http:
        no_keys = await http.request("PURGE", f"{edge}/")
        no_path = await http.request("BAN", f"{edge}/")
        post = await http.post(f"{edge}/index.html", content=b"x")

    assert no_keys.status_code == 400
    assert no_path.status_code == 400
    assert post.status_code == 405
