"""What `portal up` needs for Verify: the local dispatch server and Redis's ACL file."""

from __future__ import annotations

import secrets
import sys
from urllib.parse import urlparse

from portal.settings import Settings
from portal.stack import Endpoint, Service, http_ok
from portal.verify.redis_acl import render_acl_file


def dispatch_service(settings: Settings, env: dict[str, str]) -> Service:
    """Return the local dispatch server, which the worker needs before it starts."""
    admin = f"http://{settings.host}:{settings.dispatch_admin_port}"
    return Service(
        name="dispatch",
        argv=[sys.executable, "-m", "services.dispatch"],
        health=lambda: http_ok(f"{admin}/healthz"),
        endpoints=[
            Endpoint("dispatch (gRPC)", settings.dispatch_address),
            Endpoint("dispatch control plane and inboxes", f"{admin}/docs"),
        ],
        env=env,
    )


def local_redis_admin_url(settings: Settings) -> str:
    """Return the admin URL of the local Redis: the setting, else a local admin user.

    The local admin's password is drawn once and kept in the state
    directory, readable only by its owner.
    """
    if settings.redis_admin_url:
        return settings.redis_admin_url
    password_file = settings.state_dir / "redis" / "admin-password"
    if not password_file.exists():
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.touch(mode=0o600)
        password_file.write_text(secrets.token_urlsafe(24))
    portal = urlparse(settings.redis_url)
    host = f"{portal.hostname}:{portal.port or 6379}"
    return f"redis://portal-admin:{password_file.read_text().strip()}@{host}{portal.path or '/0'}"


def redis_acl_arguments(settings: Settings) -> list[str]:
    """Write the local Redis's ACL file for the portal and admin URLs; return its arguments."""
    acl_file = settings.state_dir.resolve() / "redis" / "users.acl"
    acl_file.parent.mkdir(parents=True, exist_ok=True)
    acl_file.write_text(render_acl_file(settings.redis_url, local_redis_admin_url(settings)))
    return ["--aclfile", str(acl_file), "--acllog-max-len", "1024"]
