import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from api.problems import PROBLEM_MEDIA_TYPE
from portal.keys.format import parse_secret
from portal.keys.sessions import session_digest
from tests.harness.keys import seed_user, sign_in
from tests.keys.leaks import find_leaks
from workflows.key_revocation import KeyRevocationWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

TEST_KEY = {"name": "CI pipeline", "environment": "test", "scopes": ["messages:send"]}
LIVE_KEY = {"name": "Checkout", "environment": "live", "scopes": ["verify:send", "verify:check"]}


async def make_stale_mfa(redis_url: str, token: str) -> None:
    """Age the session's MFA check past the limit, as if minutes had passed."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    await redis.hset(f"portal:session:{session_digest(token)}", "mfa_at", old)
    await redis.aclose()


async def create_and_reveal(api_client, session, body=TEST_KEY) -> tuple[str, str]:
    created = await api_client.post("/v1/keys", json=body, headers=session.headers)
    assert created.status_code == 201, created.text
    key_id = created.json()["id"]
    revealed = await api_client.post(f"/v1/keys/{key_id}/reveal", headers=session.headers)
    assert revealed.status_code == 200, revealed.text
    return key_id, revealed.json()["secret"]


async def test_create_returns_reveal_link_not_secret(api_client, portal_settings):
    session = await sign_in(api_client, await seed_user(portal_settings))
    response = await api_client.post("/v1/keys", json=TEST_KEY, headers=session.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("key_")
    assert body["prefix"] == "sk_test_"
    assert len(body["last_four"]) == 4
    assert body["status"] == "active"
    assert body["reveal"]["url"] == f"/v1/keys/{body['id']}/reveal"
    assert "secret" not in body
    assert "sk_test_" + "x" not in response.text
    assert response.headers["location"] == f"/v1/keys/{body['id']}"


async def test_reveal_once_then_gone(api_client, portal_settings):
    session = await sign_in(api_client, await seed_user(portal_settings))
    created = await api_client.post("/v1/keys", json=TEST_KEY, headers=session.headers)
    key_id = created.json()["id"]

    first = await api_client.post(f"/v1/keys/{key_id}/reveal", headers=session.headers)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    secret = first.json()["secret"]
    assert parse_secret(secret) is not None
    assert secret.endswith(created.json()["last_four"])
    assert "screenshot" in first.json()["warning"]

    second = await api_client.post(f"/v1/keys/{key_id}/reveal", headers=session.headers)
    assert second.status_code == 410
    assert second.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert second.headers["cache-control"] == "no-store"


async def test_concurrent_reveals_give_one_secret(api_client, portal_settings):
    session = await sign_in(api_client, await seed_user(portal_settings))
    created = await api_client.post("/v1/keys", json=TEST_KEY, headers=session.headers)
    url = f"/v1/keys/{created.json()['id']}/reveal"

    responses = await asyncio.gather(
        *(api_client.post(url, headers=session.headers) for _ in range(10))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [410] * 9
    after = await api_client.post(url, headers=session.headers)
    assert after.status_code == 410


async def test_reveal_needs_recent_mfa(api_client, portal_settings, redis_server):
    user = await seed_user(portal_settings)
    session = await sign_in(api_client, user)
    created = await api_client.post("/v1/keys", json=TEST_KEY, headers=session.headers)
    url = f"/v1/keys/{created.json()['id']}/reveal"
    await make_stale_mfa(redis_server.url, session.token)

    refused = await api_client.post(url, headers=session.headers)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("/mfa-required")
    assert "/v1/auth/mfa" in refused.json()["detail"]

    step_up = await api_client.post(
        "/v1/auth/mfa", json={"code": await user.totp_code()}, headers=session.headers
    )
    assert step_up.status_code == 200, step_up.text
    revealed = await api_client.post(url, headers=session.headers)
    assert revealed.status_code == 200


async def test_live_key_needs_recent_mfa(api_client, portal_settings, redis_server):
    session = await sign_in(api_client, await seed_user(portal_settings))
    await make_stale_mfa(redis_server.url, session.token)
    live = await api_client.post("/v1/keys", json=LIVE_KEY, headers=session.headers)
    assert live.status_code == 401
    assert live.json()["type"].endswith("/mfa-required")
    test = await api_client.post("/v1/keys", json=TEST_KEY, headers=session.headers)
    assert test.status_code == 201


async def test_devrel_cannot_create_keys(api_client, portal_settings):
    session = await sign_in(api_client, await seed_user(portal_settings, roles=["devrel"]))
    response = await api_client.post("/v1/keys", json=TEST_KEY, headers=session.headers)
    assert response.status_code == 403
    assert response.json()["required_role"] == "developer"


async def test_create_rejects_unknown_scope(api_client, portal_settings):
    session = await sign_in(api_client, await seed_user(portal_settings))
    body = {**TEST_KEY, "scopes": ["messages:delete-everything"]}
    response = await api_client.post("/v1/keys", json=body, headers=session.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith("scopes")


async def test_wrong_mfa_code_audited(api_client, portal_settings):
    user = await seed_user(portal_settings)
    session = await sign_in(api_client, user)
    code = await user.totp_code()
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    response = await api_client.post("/v1/auth/mfa", json={"code": wrong}, headers=session.headers)
    assert response.status_code == 401
    audit = await api_client.get("/v1/audit", headers=session.headers)
    events = [event["event"] for event in audit.json()["events"]]
    assert "auth.mfa_failed" in events


async def test_mfa_attempts_rate_limited(api_client, portal_settings):
    session = await sign_in(api_client, await seed_user(portal_settings))
    statuses = []
    for _ in range(6):
        response = await api_client.post(
            "/v1/auth/mfa", json={"code": "000000"}, headers=session.headers
        )
        statuses.append(response.status_code)
    assert statuses[-1] == 429
    assert int(response.headers["retry-after"]) > 0


async def test_api_key_authenticates_until_revoked(
    api_client, portal_settings, portal_worker, temporal_client
):
    session = await sign_in(api_client, await seed_user(portal_settings))
    key_id, secret = await create_and_reveal(api_client, session)
    bearer = {"Authorization": f"Bearer {secret}"}

    identity = await api_client.get("/v1/keys/current", headers=bearer)
    assert identity.status_code == 200, identity.text
    assert identity.json()["key_id"] == key_id

    revoked = await api_client.delete(f"/v1/keys/{key_id}", headers=session.headers)
    assert revoked.status_code == 202, revoked.text
    assert revoked.json()["status"] == "revocation_pending"
    assert revoked.json()["workflow_id"] == f"revoke-key-{key_id}"

    refused = await api_client.get("/v1/keys/current", headers=bearer)
    assert refused.status_code == 401

    handle = temporal_client.get_workflow_handle_for(
        KeyRevocationWorkflow.run, f"revoke-key-{key_id}"
    )
    result = await asyncio.wait_for(handle.result(), 30)
    assert result.outcome == "revoked"
    listed = await api_client.get("/v1/keys", headers=session.headers)
    statuses = {key["id"]: key["status"] for key in listed.json()["keys"]}
    assert statuses[key_id] == "revoked"

    again = await api_client.delete(f"/v1/keys/{key_id}", headers=session.headers)
    assert again.status_code == 200
    assert again.json()["status"] == "revoked"

    audit = await api_client.get("/v1/audit", headers=session.headers)
    events = [event["event"] for event in audit.json()["events"]]
    for expected in ("key.created", "key.revealed", "key.revocation_requested", "key.revoked"):
        assert expected in events


async def test_revoke_other_tenants_key_not_found(api_client, portal_settings):
    owner = await sign_in(api_client, await seed_user(portal_settings))
    other = await sign_in(api_client, await seed_user(portal_settings))
    created = await api_client.post("/v1/keys", json=TEST_KEY, headers=owner.headers)
    key_id = created.json()["id"]

    revoke = await api_client.delete(f"/v1/keys/{key_id}", headers=other.headers)
    assert revoke.status_code == 404
    reveal = await api_client.post(f"/v1/keys/{key_id}/reveal", headers=other.headers)
    assert reveal.status_code == 404
    mine = await api_client.post(f"/v1/keys/{key_id}/reveal", headers=owner.headers)
    assert mine.status_code == 200


async def test_malformed_api_key_rejected(api_client):
    response = await api_client.get(
        "/v1/keys/current", headers={"Authorization": "Bearer sk_live_notarealkey"}
    )
    assert response.status_code == 401
    assert "malformed" in response.json()["detail"]


async def test_list_shows_pending_then_revoked(
    api_client, portal_settings, portal_worker, temporal_client
):
    session = await sign_in(api_client, await seed_user(portal_settings))
    kept, _ = await create_and_reveal(api_client, session)
    gone, _ = await create_and_reveal(api_client, session)
    await api_client.delete(f"/v1/keys/{gone}", headers=session.headers)

    async def statuses() -> dict[str, str]:
        listed = await api_client.get("/v1/keys", headers=session.headers)
        return {key["id"]: key["status"] for key in listed.json()["keys"]}

    first = await statuses()
    assert first[kept] == "active"
    assert first[gone] in ("revocation_pending", "revoked")
    await temporal_client.get_workflow_handle(f"revoke-key-{gone}").result()
    final = await statuses()
    assert final == {kept: "active", gone: "revoked"}


async def test_no_secret_in_logs_redis_or_history(
    api_client, portal_settings, portal_worker, temporal_client, redis_server, auth_service, caplog
):
    caplog.set_level(logging.DEBUG)
    user = await seed_user(portal_settings)
    session = await sign_in(api_client, user)
    secrets = []
    for body in (TEST_KEY, LIVE_KEY):
        key_id, secret = await create_and_reveal(api_client, session, body)
        secrets.append(secret)
        assert (
            await api_client.get("/v1/keys/current", headers={"Authorization": f"Bearer {secret}"})
        ).status_code == 200
        await api_client.delete(f"/v1/keys/{key_id}", headers=session.headers)
        handle = temporal_client.get_workflow_handle_for(
            KeyRevocationWorkflow.run, f"revoke-key-{key_id}"
        )
        assert (await handle.result()).outcome == "revoked"

    leaks = await find_leaks(
        secrets,
        redis_url=redis_server.url,
        temporal=temporal_client,
        history_query=(
            f"WorkflowType = 'KeyRevocationWorkflow' AND PortalTenant = '{user.tenant_id}'"
        ),
        logs={"test process": caplog.text, "auth-service": auth_service.log_text()},
    )
    assert leaks == []
