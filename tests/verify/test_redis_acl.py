"""Breach detection: the portal's least-privilege Redis user and the ACL-log job."""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, NoPermissionError

from portal.verify.redis_acl import AclLogWatcher, redis_username, render_acl_file


def denied(reason: str, user: str) -> float:
    """Return the ACL-denial counter for one reason and user class."""
    labels = {"reason": reason, "user": user}
    return REGISTRY.get_sample_value("portal_verify_redis_acl_denied_total", labels) or 0.0


@pytest.fixture
def watcher(admin_redis, redis_server) -> AclLogWatcher:
    return AclLogWatcher(
        admin_redis, redis_username(redis_server.url), redis_username(redis_server.admin_url)
    )


async def test_portal_user_is_confined(redis_server):
    portal = Redis.from_url(redis_server.url)
    try:
        await portal.set("portal:test:acl", "1", ex=60)
        assert await portal.get("portal:test:acl") == b"1"
        with pytest.raises(NoPermissionError):
            await portal.get("customer:secrets")
        for command in (("FLUSHALL",), ("KEYS", "*"), ("CONFIG", "GET", "*"), ("ACL", "LOG")):
            with pytest.raises(NoPermissionError):
                await portal.execute_command(*command)
    finally:
        await portal.aclose()


async def test_watcher_counts_denials_and_failed_logins(redis_server, watcher):
    await watcher.poll()
    before = {key: denied(*key) for key in [("key", "portal"), ("command", "portal")]}
    auth_before = denied("auth", "portal")

    portal = Redis.from_url(redis_server.url)
    with pytest.raises(NoPermissionError):
        await portal.get("customer:secrets")
    with pytest.raises(NoPermissionError):
        await portal.execute_command("CONFIG", "GET", "maxmemory")
    await portal.aclose()
    parts = urlparse(redis_server.url)
    intruder = Redis(host=parts.hostname, port=parts.port, username="portal", password="guess")
    with pytest.raises(AuthenticationError):
        await intruder.ping()
    await intruder.aclose()

    new = await watcher.poll()

    assert new[("key", "portal")] >= 1
    assert new[("command", "portal")] >= 1
    assert new[("auth", "portal")] >= 1
    for key, value in before.items():
        assert denied(*key) >= value + 1
    assert denied("auth", "portal") >= auth_before + 1
    assert await watcher.poll() == {}


async def test_watcher_counts_unknown_clients(redis_server, watcher):
    parts = urlparse(redis_server.url)
    # A connection that never logs in stays on the disabled default user.
    _, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        await watcher.poll()
        assert REGISTRY.get_sample_value("portal_verify_redis_unknown_clients") >= 1
    finally:
        writer.close()
        await writer.wait_closed()
    await asyncio.sleep(0.1)
    await watcher.poll()
    assert REGISTRY.get_sample_value("portal_verify_redis_unknown_clients") == 0
    assert REGISTRY.get_sample_value("portal_verify_redis_acl_log_up") == 1


async def test_watcher_reports_unreadable_log(redis_server):
    portal = Redis.from_url(redis_server.url)
    watcher = AclLogWatcher(portal, "portal", "portal-admin")
    assert await watcher.poll() == {}
    assert REGISTRY.get_sample_value("portal_verify_redis_acl_log_up") == 0
    await portal.aclose()


def test_acl_file_without_portal_user_confines_default():
    text = render_acl_file("redis://127.0.0.1:6379/0", "redis://portal-admin:pw@127.0.0.1:6379/0")
    first, second = text.splitlines()
    assert first.startswith("user default on nopass resetkeys ~portal:*")
    assert "-@dangerous" in first
    assert second.startswith("user portal-admin on #")
    assert "pw" not in text


def test_acl_file_needs_admin_password():
    with pytest.raises(ValueError, match="admin"):
        render_acl_file("redis://portal:pw@h:1/0", "redis://portal-admin@h:1/0")


def test_deploy_acl_file_matches_rules():
    from tests.harness.servers import REPO_ROOT

    committed = (REPO_ROOT / "deploy" / "redis" / "users.acl").read_text()
    rendered = render_acl_file(
        "redis://portal:portal-dev-password@redis:6379/0",
        "redis://portal-admin:admin-dev-password@redis:6379/0",
    )
    assert committed == rendered
