"""CloudFront purges on moto and on a local server that throttles, and the freshness schedule."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from temporalio.exceptions import ApplicationError

from activities.cdn import (
    CLOUDFRONT_MAX_PATHS,
    CloudFrontPurger,
    PurgeRequest,
    ban_expression,
    ensure_local_distribution,
    plan_invalidation_paths,
)
from portal.docs_site.releases import ensure_freshness_schedule, start_release
from portal.settings import Settings
from portal.temporal import TaskQueue
from tests.docs_release.conftest import RELEASE_SPEC, DocsStack
from tests.harness.servers import ManagedProcess, free_port
from workflows.edge_freshness import SCHEDULE_ID, EdgeFreshnessInput, EdgeFreshnessWorkflow

CLOUDFRONT_XML = "http://cloudfront.amazonaws.com/doc/2020-05-31/"


def cloudfront_client(endpoint: str):  # noqa: ANN201 - a boto3 client
    return boto3.client("cloudfront", endpoint_url=endpoint, region_name="us-east-1")


def invalidation_count(client, distribution_id: str) -> int:  # noqa: ANN001
    listing = client.list_invalidations(DistributionId=distribution_id)["InvalidationList"]
    return listing["Quantity"]


async def test_retry_creates_no_second_invalidation(
    portal_settings: Settings, moto_server: ManagedProcess
):
    settings = portal_settings.model_copy(update={"docs_bucket": f"cf-{int(time.time())}"})
    client = cloudfront_client(moto_server.url)
    distribution_id = ensure_local_distribution(settings, client)
    assert ensure_local_distribution(settings, client) == distribution_id
    purger = CloudFrontPurger(client, distribution_id)
    request = PurgeRequest(
        provider="cloudfront", caller_reference="docs-release-r9-1", paths=["/", "/index.html"]
    )

    first = await purger.purge(request)
    retried = await purger.purge(request)
    other = await purger.purge(request.model_copy(update={"caller_reference": "docs-release-r9-2"}))

    assert retried.reference == first.reference
    assert other.reference != first.reference
    assert invalidation_count(client, distribution_id) == 2


def test_invalidation_paths_within_limits():
    assert plan_invalidation_paths(["/b", "/a", "/a"]) == ["/a", "/b"]
    assert plan_invalidation_paths(["/x", "/*"]) == ["/*"]
    many = [f"/reference/page-{n}.html" for n in range(CLOUDFRONT_MAX_PATHS + 1)] + ["/index.html"]
    assert plan_invalidation_paths(many) == ["/index.html", "/reference/*"]
    folders = [f"/f{n}/page.html" for n in range(CLOUDFRONT_MAX_PATHS + 1)]
    assert plan_invalidation_paths(folders) == ["/*"]
    wildcards = [f"/f{n}/*" for n in range(16)]
    assert plan_invalidation_paths(wildcards) == ["/*"]
    with pytest.raises(ValueError, match="invalid invalidation path"):
        plan_invalidation_paths(["reference/a.html"])
    with pytest.raises(ValueError, match="invalid invalidation path"):
        plan_invalidation_paths(["/a*b"])


def test_ban_expression_matches_paths():
    import re

    pattern = re.compile(ban_expression(["/reference/*", "/index.html"]))
    assert pattern.match("/reference/vonage-verify.html")
    assert pattern.match("/index.html")
    assert not pattern.match("/index.htmlx")
    assert not pattern.match("/assets/site.css")


class ThrottlingCloudFront(BaseHTTPRequestHandler):
    """A CloudFront endpoint with no invalidations that rejects new ones as too many."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = (
            f'<InvalidationList xmlns="{CLOUDFRONT_XML}"><Marker></Marker>'
            "<MaxItems>100</MaxItems><IsTruncated>false</IsTruncated>"
            "<Quantity>0</Quantity></InvalidationList>"
        )
        self._send(200, body)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = (
            f'<ErrorResponse xmlns="{CLOUDFRONT_XML}"><Error><Type>Sender</Type>'
            "<Code>TooManyInvalidationsInProgress</Code>"
            "<Message>Your request contains too many invalidations.</Message></Error>"
            "<RequestId>test</RequestId></ErrorResponse>"
        )
        self._send(400, body)

    def _send(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def throttling_cloudfront() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), ThrottlingCloudFront)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


async def test_too_many_invalidations_retried_later(throttling_cloudfront: str):
    purger = CloudFrontPurger(cloudfront_client(throttling_cloudfront), "E2EXAMPLE")
    request = PurgeRequest(provider="cloudfront", caller_reference="docs-release-r1-1")

    with pytest.raises(ApplicationError) as raised:
        await purger.purge(request)

    assert raised.value.type == "TooManyInvalidationsInProgress"
    assert not raised.value.non_retryable
    assert raised.value.next_retry_delay == timedelta(seconds=60)


async def test_freshness_check_and_schedule(docs_stack: DocsStack):
    release_id = f"f{int(time.time())}"
    handle = await start_release(
        docs_stack.client, docs_stack.settings, release_id, [RELEASE_SPEC], "test"
    )
    await asyncio.wait_for(handle.result(), 120)
    result = await docs_stack.client.execute_workflow(
        EdgeFreshnessWorkflow.run,
        EdgeFreshnessInput(sample_pages=2),
        id=f"docs-edge-freshness-{release_id}",
        task_queue=TaskQueue.DOCS,
    )
    assert result.release_id == release_id
    assert result.check is not None
    assert result.check.fresh
    metrics = docs_stack.worker_metrics()
    assert f'portal_docs_edge_stale{{site="{docs_stack.settings.docs_site}"}} 0.0' in metrics

    await ensure_freshness_schedule(docs_stack.client, docs_stack.settings)
    await ensure_freshness_schedule(docs_stack.client, docs_stack.settings)
    description = await docs_stack.client.get_schedule_handle(SCHEDULE_ID).describe()
    interval = description.schedule.spec.intervals[0].every
    assert interval == timedelta(seconds=docs_stack.settings.docs_freshness_interval_seconds)
