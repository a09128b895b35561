"""The docs step of `portal demo`: publish a release through the API and prove the edge fresh."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from typing import TYPE_CHECKING

import httpx
import pyotp

from portal.auth_service_client import AuthServiceClient
from portal.docs_site.config import edge_url

if TYPE_CHECKING:
    from portal.demo import DemoContext

DEMO_TENANT = "tenant-demo"
RELEASE_WAIT_SECONDS = 180.0


async def docs_release_demo(ctx: DemoContext) -> None:
    """Publish a docs release as a DevRel user, wait until the edge serves it, compare hashes."""
    email = f"devrel-{uuid.uuid4().hex[:8]}@example.com"
    password = secrets.token_urlsafe(16)
    async with AuthServiceClient(ctx.settings) as auth_service:
        created = await auth_service.create_user(
            tenant_id=DEMO_TENANT, email=email, password=password, roles=["devrel"]
        )
    signed_in = await ctx.http.post(
        "/v1/auth/sign-in",
        json={
            "email": email,
            "password": password,
            "totp_code": pyotp.TOTP(created.totp_secret).now(),
        },
    )
    signed_in.raise_for_status()
    headers = {"Authorization": f"Bearer {signed_in.json()['token']}"}
    ctx.echo(f"signed in DevRel user {email}")

    release_id = time.strftime("demo-%Y%m%d-%H%M%S")
    started = await ctx.http.post(
        "/v1/docs/releases", json={"release_id": release_id}, headers=headers
    )
    started.raise_for_status()
    workflow_id = started.json()["workflow_id"]
    ctx.echo(f"POST /v1/docs/releases -> {started.status_code}: {release_id}")
    ctx.echo(f"see it in the Temporal UI: {ctx.temporal_ui_link(workflow_id)}")

    deadline = time.monotonic() + RELEASE_WAIT_SECONDS
    state = None
    release: dict = {}
    while time.monotonic() < deadline:
        response = await ctx.http.get(f"/v1/docs/releases/{release_id}", headers=headers)
        response.raise_for_status()
        release = response.json()
        if release["state"] != state:
            state = release["state"]
            ctx.echo(f"  state: {state} edges: {release['edges']}")
        if state in ("fresh", "stale", "failed"):
            break
        await asyncio.sleep(1.0)
    if state != "fresh":
        raise RuntimeError(f"release {release_id} ended {state}: {release}")
    ctx.echo(
        f"uploaded {release['files_uploaded']} files, skipped {release['files_skipped']}, "
        f"purge rounds {release['purge_rounds']}"
    )

    edge = edge_url(ctx.settings)
    async with httpx.AsyncClient(timeout=10.0) as client:
        manifest = (await client.get(f"{edge}/manifest.json")).json()
        index = await client.get(f"{edge}/")
    expected = {entry["path"]: entry["sha256"] for entry in manifest["files"]}["index.html"]
    if manifest["manifest_sha256"] != release["manifest_sha256"]:
        raise RuntimeError(f"edge serves manifest {manifest['manifest_sha256']}, not the release's")
    if hashlib.sha256(index.content).hexdigest() != expected:
        raise RuntimeError("the edge's index page differs from the release's manifest")
    ctx.echo(f"GET {edge}/manifest.json -> release {manifest['release_id']}, hash matches origin")
    ctx.echo(f"GET {edge}/ -> index page matches the manifest ({index.headers.get('x-cache')})")
