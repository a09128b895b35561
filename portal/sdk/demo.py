"""The SDK step of `portal demo`: release the next version and show each registry holds it."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from typing import TYPE_CHECKING

import pyotp

from portal.auth_service_client import AuthServiceClient
from portal.sdk.languages import REGISTRY_NAMES, Language
from portal.sdk.models import VersionSkewInput
from portal.sdk.versions import max_version
from portal.temporal import TaskQueue
from workflows.version_skew import VersionSkewWorkflow

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


async def _registry_versions(ctx: DemoContext) -> dict[str, str | None]:
    """Run the version skew check on the worker; return the latest version per language.

    The worker, not this process, has the registry credentials.
    """
    report = await ctx.temporal.execute_workflow(
        VersionSkewWorkflow.run,
        VersionSkewInput(),
        id=f"sdk-version-skew-demo-{uuid.uuid4().hex[:8]}",
        task_queue=TaskQueue.SDK,
        static_summary="Version skew check run by portal demo",
    )
    for reading in report.readings:
        if not reading.reachable:
            raise RuntimeError(f"{REGISTRY_NAMES[reading.language]} unreachable: {reading.error}")
    return {reading.language.value: reading.latest for reading in report.readings}


def _next_patch(latest: dict[str, str | None]) -> str:
    """Return the patch release after the highest version any registry holds."""
    current = max_version(version for version in latest.values() if version)
    if current is None:
        return "1.0.0"
    major, minor, patch = current.split("-", 1)[0].split(".")
    return f"{major}.{minor}.{int(patch) + 1}"


async def sdk_release_demo(ctx: DemoContext) -> None:
    """Release the next SDK version through the API and read it back from every registry."""
    headers = await _devrel_headers(ctx)
    version = _next_patch(await _registry_versions(ctx))
    started = await ctx.http.post("/v1/sdk/releases", json={"version": version}, headers=headers)
    started.raise_for_status()
    release = started.json()
    ctx.echo(f"POST /v1/sdk/releases -> {started.status_code}: version {version}")
    ctx.echo(f"see it in the Temporal UI: {ctx.temporal_ui_link(release['workflow_id'])}")

    deadline = time.monotonic() + RELEASE_WAIT_SECONDS
    last_states: dict[str, str] = {}
    while release["state"] == "publishing" and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        response = await ctx.http.get(f"/v1/sdk/releases/{version}", headers=headers)
        response.raise_for_status()
        release = response.json()
        for language, entry in release["languages"].items():
            if last_states.get(language) != entry["state"]:
                last_states[language] = entry["state"]
                ctx.echo(f"  {language}: {entry['state']}")
    if release["state"] != "published":
        raise RuntimeError(f"release {version} ended {release['state']}: {release}")

    latest = await _registry_versions(ctx)
    for language, entry in release["languages"].items():
        registry = REGISTRY_NAMES[Language(language)]
        ctx.echo(f"{registry} holds {latest[language]}: {entry['location']}")
        if latest[language] != version:
            raise RuntimeError(f"{registry} reports {latest[language]}, not {version}")
