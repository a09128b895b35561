"""The SDK step of `portal demo`: release the next version and show each registry holds it."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from typing import TYPE_CHECKING

import pyotp

from portal.auth_service_client import AuthServiceClient
from portal.sdk.config import sdk_config
from portal.sdk.languages import REGISTRY_NAMES, Language
from portal.sdk.publishers import build_publisher
from portal.sdk.versions import max_version

if TYPE_CHECKING:
    from portal.demo import DemoContext

DEMO_TENANT = "tenant-demo"
RELEASE_WAIT_SECONDS = 300.0


async def _devrel_headers(ctx: DemoContext) -> dict[str, str]:
    """Create a DevRel user in the auth-service, sign in, and return the session's headers."""
    email = f"devrel-sdk-{uuid.uuid4().hex[:8]}@example.com"
    password = secrets.token_urlsafe(16)
    async with AuthServiceClient(ctx.settings) as auth_service:
        created = await auth_service.create_user(
            tenant_id=DEMO_TENANT, email=email, password=password, roles=["devrel"]
        )
    code = pyotp.TOTP(created.totp_secret).now()
    response = await ctx.http.post(
        "/v1/auth/sign-in", json={"email": email, "password": password, "totp_code": code}
    )
    response.raise_for_status()
    ctx.echo(f"signed in DevRel user {email}")
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def _next_version(ctx: DemoContext) -> str:
    """Return the patch release after the highest version any registry holds."""
    config = sdk_config(ctx.settings)
    latest = await asyncio.gather(
        *(build_publisher(language, config).latest_version() for language in Language)
    )
    current = max_version(version for version in latest if version)
    if current is None:
        return "1.0.0"
    major, minor, patch = current.split("-", 1)[0].split(".")
    return f"{major}.{minor}.{int(patch) + 1}"


async def sdk_release_demo(ctx: DemoContext) -> None:
    """Release the next SDK version through the API and read it back from every registry."""
    headers = await _devrel_headers(ctx)
    version = await _next_version(ctx)
    started = await ctx.http.post("/v1/sdk/releases", json={"version": version}, headers=headers)
    started.raise_for_status()
    release = started.json()
    ctx.echo(f"POST /v1/sdk/releases -> {started.status_code}: version {version}")
    ctx.echo(f"see it in the Temporal UI: {ctx.temporal_ui_link(release['workflow_id'])}")

    deadline = time.monotonic() + RELEASE_WAIT_SECONDS
    shown: dict[str, str] = {}
    while release["state"] == "publishing" and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        response = await ctx.http.get(f"/v1/sdk/releases/{version}", headers=headers)
        response.raise_for_status()
        release = response.json()
        for language, entry in release["languages"].items():
            if shown.get(language) != entry["state"]:
                shown[language] = entry["state"]
                ctx.echo(f"  {language}: {entry['state']}")
    if release["state"] != "published":
        raise RuntimeError(f"release {version} ended {release['state']}: {release}")

    config = sdk_config(ctx.settings)
    for language in Language:
        latest = await build_publisher(language, config).latest_version()
        location = release["languages"][language]["location"]
        ctx.echo(f"{REGISTRY_NAMES[language]} holds {latest}: {location}")
        if latest != version:
            raise RuntimeError(f"{REGISTRY_NAMES[language]} reports {latest}, not {version}")
