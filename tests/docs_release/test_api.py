"""`/v1/docs/releases`: DevRel only, clear problems for bad input, 503 when Temporal is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from api.app import create_app
from api.problems import PROBLEM_MEDIA_TYPE
from portal.settings import Settings
from tests.docs_release.conftest import RELEASE_SPEC, DocsStack
from tests.harness.keys import seed_user, sign_in
from tests.harness.servers import ManagedProcess, free_port
from workflows.docs_purge import DocsPurgeWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")


@asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
            yield client


async def signed_in_headers(http: httpx.AsyncClient, settings: Settings, role: str) -> dict:
    user = await seed_user(settings, roles=[role])
    return (await sign_in(http, user)).headers


async def test_release_needs_devrel_role(docs_stack: DocsStack, auth_service: ManagedProcess):
    async with api(docs_stack.settings) as http:
        anonymous = await http.post("/v1/docs/releases", json={"release_id": "r1"})
        developer = await signed_in_headers(http, docs_stack.settings, "developer")
        forbidden = await http.post(
            "/v1/docs/releases", json={"release_id": "r1"}, headers=developer
        )

    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert forbidden.status_code == 403
    assert forbidden.json()["required_role"] == "devrel"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"release_id": "../etc"}, "release_id"),
        ({"release_id": ""}, "release_id"),
        ({}, "release_id"),
        ({"release_id": "ok", "specs": ["../secret.json"]}, "specs.0"),
        ({"release_id": "ok", "specs": ["missing.json"]}, "specs"),
    ],
)
async def test_invalid_release_names_field(
    docs_stack: DocsStack, auth_service: ManagedProcess, body: dict, field: str
):
    async with api(docs_stack.settings) as http:
        headers = await signed_in_headers(http, docs_stack.settings, "devrel")
        response = await http.post("/v1/docs/releases", json=body, headers=headers)

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_unknown_release_not_found(docs_stack: DocsStack, auth_service: ManagedProcess):
    async with api(docs_stack.settings) as http:
        headers = await signed_in_headers(http, docs_stack.settings, "devrel")
        response = await http.get("/v1/docs/releases/no-such-release", headers=headers)

    assert response.status_code == 404
    assert response.json()["release_id"] == "no-such-release"


async def test_publish_then_read_fresh(docs_stack: DocsStack, auth_service: ManagedProcess):
    release_id = f"api-{int(time.time())}"
    async with api(docs_stack.settings) as http:
        headers = await signed_in_headers(http, docs_stack.settings, "devrel")
        started = await http.post(
            "/v1/docs/releases",
            json={"release_id": release_id, "specs": [RELEASE_SPEC]},
            headers=headers,
        )
        assert started.status_code == 202, started.text
        assert started.headers["location"] == f"/v1/docs/releases/{release_id}"
        assert started.json()["workflow_id"] == f"docs-release-{release_id}"

        state, deadline = None, time.monotonic() + 120
        while state != "fresh" and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            read = await http.get(f"/v1/docs/releases/{release_id}", headers=headers)
            assert read.status_code == 200, read.text
            state = read.json()["state"]
        again = await http.post(
            "/v1/docs/releases", json={"release_id": release_id}, headers=headers
        )
        listed = await http.get("/v1/docs/releases", headers=headers)
        purge = await http.post(f"/v1/docs/releases/{release_id}/purge", headers=headers)

    release = read.json()
    assert release["state"] == "fresh"
    assert release["edges"] == {"varnish": "fresh", "cloudfront": "fresh"}
    assert release["edge_release_id"] == release_id
    assert release["edge_manifest_sha256"] == release["manifest_sha256"]
    assert release["files_uploaded"] == release["files_total"]
    assert again.status_code == 409
    assert release_id in [item["release_id"] for item in listed.json()["releases"]]
    assert purge.status_code == 202, purge.text
    handle = docs_stack.client.get_workflow_handle_for(
        DocsPurgeWorkflow.run, purge.json()["workflow_id"]
    )
    result = await asyncio.wait_for(handle.result(), 120)
    assert result.after.fresh
    assert result.current_release_id == release_id


async def test_temporal_down_fast_503(docs_stack: DocsStack, auth_service: ManagedProcess):
    settings = docs_stack.settings.model_copy(
        update={"temporal_address": f"127.0.0.1:{free_port()}"}
    )
    async with api(settings) as http:
        headers = await signed_in_headers(http, settings, "devrel")
        started = time.monotonic()
        response = await http.get("/v1/docs/releases/r1", headers=headers)
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["dependency"] == "temporal"
    assert elapsed < 10


async def test_demo_step_publishes_fresh(docs_stack: DocsStack, auth_service: ManagedProcess):
    from portal.demo import STEPS, DemoContext
    from portal.docs_site.demo import docs_release_demo

    lines: list[str] = []
    async with api(docs_stack.settings) as http:
        ctx = DemoContext(
            settings=docs_stack.settings, http=http, temporal=docs_stack.client, echo=lines.append
        )
        await docs_release_demo(ctx)

    assert any(step.run is docs_release_demo for step in STEPS)
    assert any("state: fresh" in line for line in lines), lines
    assert any("hash matches origin" in line for line in lines), lines
