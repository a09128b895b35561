"""The API keys step of `portal demo`: sign in, create, reveal once, revoke."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from typing import TYPE_CHECKING

import pyotp

from portal.auth_service_client import AuthServiceClient
from portal.keys.format import parse_secret

if TYPE_CHECKING:
    from portal.demo import DemoContext

DEMO_TENANT = "tenant-demo"
REVOCATION_WAIT_SECONDS = 60.0


def _masked(secret: str) -> str:
    return f"{secret[:8]}...{secret[-4:]}"


async def api_keys_demo(ctx: DemoContext) -> None:
    """Sign a fresh demo user in, create a test key, reveal it twice and revoke it."""
    email = f"demo-{uuid.uuid4().hex[:8]}@example.com"
    password = secrets.token_urlsafe(16)
    async with AuthServiceClient(ctx.settings) as auth_service:
        created_user = await auth_service.create_user(
            tenant_id=DEMO_TENANT, email=email, password=password, roles=["developer"]
        )
    ctx.echo(f"seeded portal user {email} in {DEMO_TENANT} with TOTP enrolled")

    totp = pyotp.TOTP(created_user.totp_secret)
    signed_in = await ctx.http.post(
        "/v1/auth/sign-in", json={"email": email, "password": password, "totp_code": totp.now()}
    )
    signed_in.raise_for_status()
    headers = {"Authorization": f"Bearer {signed_in.json()['token']}"}
    ctx.echo("POST /v1/auth/sign-in with password and TOTP code -> 200, session started")

    created = await ctx.http.post(
        "/v1/keys",
        json={"name": "demo key", "environment": "test", "scopes": ["messages:send"]},
        headers=headers,
    )
    created.raise_for_status()
    key = created.json()
    key_id = key["id"]
    ctx.echo(
        f"POST /v1/keys -> {created.status_code}: {key_id} {key['prefix']}...{key['last_four']}, "
        f"reveal once before {key['reveal']['expires_at']}"
    )

    first = await ctx.http.post(f"/v1/keys/{key_id}/reveal", headers=headers)
    first.raise_for_status()
    secret = first.json()["secret"]
    if parse_secret(secret) is None:
        raise RuntimeError("the revealed secret fails its own checksum")
    ctx.echo(
        f"POST /v1/keys/{key_id}/reveal -> 200: {_masked(secret)} "
        f"(Cache-Control: {first.headers.get('cache-control')})"
    )
    ctx.echo(f"  warning shown to the user: {first.json()['warning']}")

    second = await ctx.http.post(f"/v1/keys/{key_id}/reveal", headers=headers)
    if second.status_code != 410:
        raise RuntimeError(f"second reveal returned {second.status_code}, expected 410")
    ctx.echo(f"second reveal -> 410 Gone: {second.json()['detail']}")

    works = await ctx.http.get("/v1/keys/current", headers={"Authorization": f"Bearer {secret}"})
    ctx.echo(f"GET /v1/keys/current with the key -> {works.status_code}")

    revoked = await ctx.http.delete(f"/v1/keys/{key_id}", headers=headers)
    revoked.raise_for_status()
    workflow_id = revoked.json()["workflow_id"]
    ctx.echo(f"DELETE /v1/keys/{key_id} -> {revoked.status_code} {revoked.json()['status']}")

    deadline = time.monotonic() + REVOCATION_WAIT_SECONDS
    status = "revocation_pending"
    while status != "revoked" and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        listed = await ctx.http.get("/v1/keys", headers=headers)
        listed.raise_for_status()
        status = next(k["status"] for k in listed.json()["keys"] if k["id"] == key_id)
    if status != "revoked":
        raise RuntimeError(f"{key_id} still {status} after {REVOCATION_WAIT_SECONDS:.0f} s")
    refused = await ctx.http.get("/v1/keys/current", headers={"Authorization": f"Bearer {secret}"})
    ctx.echo(f"GET /v1/keys -> {key_id} revoked; the key now gets {refused.status_code}")
    ctx.echo(f"see the revocation in the Temporal UI: {ctx.temporal_ui_link(workflow_id)}")
