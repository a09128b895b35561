"""Test helpers for the auth-service, portal users and signed-in sessions.

- `start_auth_service(workdir)`: a local auth-service on a free port with its
  SQLite file in `workdir`, as a `ManagedProcess` tests can stop and restart.
- `await seed_user(settings)`: a portal user of a fresh tenant, with a known
  password and TOTP secret.
- `await sign_in(http, user)`: a signed-in session (fresh MFA) for that user.
- `await user.totp_code()`: a TOTP code the auth-service has not seen yet.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp

from portal.auth_service_client import AuthServiceClient
from portal.errors import DependencyUnavailableError
from portal.settings import Settings
from tests.harness.servers import ManagedProcess, free_port, port_open

# Tries of a set-up user creation that finds the auth-service unreachable.
SEED_ATTEMPTS = 3
TOTP_INTERVAL_SECONDS = 30


def start_auth_service(workdir: Path, port: int | None = None) -> ManagedProcess:
    """Start `python -m services.auth_service` on a free port, its SQLite file in `workdir`.

    The returned process has `address` (HOST:PORT) and `database` attributes;
    `restart()` brings it back on the same port with the same data.
    """
    import sys

    port = port or free_port()
    database = workdir / "auth.db"
    server = ManagedProcess(
        "auth-service",
        [sys.executable, "-m", "services.auth_service"],
        workdir,
        ready=lambda: port_open(port),
        env={
            "PORTAL_ENVIRONMENT": "test",
            "PORTAL_HOST": "127.0.0.1",
            "PORTAL_STATE_DIR": str(workdir / "state"),
            "PORTAL_AUTH_SERVICE_ADDRESS": f"127.0.0.1:{port}",
            "PORTAL_AUTH_SERVICE_DB": str(database),
            "PORTAL_LOG_LEVEL": "INFO",
        },
    )
    server.port = port  # type: ignore[attr-defined]
    server.address = f"127.0.0.1:{port}"  # type: ignore[attr-defined]
    server.database = database  # type: ignore[attr-defined]
    return server.start()


@dataclass
class SeededUser:
    """A portal user created for a test, with everything needed to sign in."""

    user_id: str
    tenant_id: str
    email: str
    password: str = field(repr=False)
    totp_secret: str = field(repr=False)
    roles: frozenset[str]
    _last_step: int = field(default=0, repr=False)

    async def totp_code(self) -> str:
        """Return a code for a time step this helper has not used, waiting when none is left.

        The auth-service accepts each time step once and at most one step
        ahead, so this gives two codes at once and then one every 30 s.
        """
        while True:
            current = int(time.time() // TOTP_INTERVAL_SECONDS)
            step = max(self._last_step + 1, current)
            if step <= current + 1:
                self._last_step = step
                return pyotp.TOTP(self.totp_secret).generate_otp(step)
            await asyncio.sleep((current + 1) * TOTP_INTERVAL_SECONDS - time.time() + 0.05)


@dataclass(frozen=True)
class SignedIn:
    """A signed-in session of a seeded user."""

    user: SeededUser
    token: str = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        """Headers that authenticate a request with this session."""
        return {"Authorization": f"Bearer {self.token}"}


async def seed_user(
    settings: Settings,
    *,
    roles: Iterable[str] = ("developer",),
    tenant_id: str | None = None,
    email: str | None = None,
) -> SeededUser:
    """Create a portal user in the auth-service of `settings`; a fresh tenant unless given."""
    tenant_id = tenant_id or f"tenant-{uuid.uuid4().hex[:10]}"
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    password = secrets.token_urlsafe(18)
    totp_secret = pyotp.random_base32()
    # Set-up is not under test: a machine loaded by browsers and servers
    # starting at once may miss the production deadline or the first connect.
    patient = settings.model_copy(update={"auth_service_timeout_seconds": 15.0})
    async with AuthServiceClient(patient) as client:
        for attempt in range(1, SEED_ATTEMPTS + 1):
            try:
                created = await client.create_user(
                    tenant_id=tenant_id,
                    email=email,
                    password=password,
                    roles=roles,
                    totp_secret=totp_secret,
                )
                break
            except DependencyUnavailableError:
                if attempt == SEED_ATTEMPTS:
                    raise
                await asyncio.sleep(1.0)
    return SeededUser(
        user_id=created.user.user_id,
        tenant_id=tenant_id,
        email=email,
        password=password,
        totp_secret=totp_secret,
        roles=frozenset(roles),
    )


async def sign_in(http: httpx.AsyncClient, user: SeededUser) -> SignedIn:
    """Sign `user` in through `POST /v1/auth/sign-in`; the session's MFA check is fresh."""
    response = await http.post(
        "/v1/auth/sign-in",
        json={"email": user.email, "password": user.password, "totp_code": await user.totp_code()},
    )
    assert response.status_code == 200, response.text
    return SignedIn(user=user, token=response.json()["token"])


def settings_environment(settings: Settings) -> dict[str, str]:
    """Return `PORTAL_*` variables that make a child process load exactly `settings`."""
    env: dict[str, str] = {}
    for name, value in settings:
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"PORTAL_{name.upper()}"] = str(value)
    return env


def start_worker(settings: Settings, workdir: Path) -> ManagedProcess:
    """Start `python -m workers` for `settings` as a process tests can SIGKILL and start again.

    Ready once its metrics endpoint responds, which happens before it polls.
    """
    import sys

    port = settings.worker_metrics_port
    return ManagedProcess(
        "worker",
        [sys.executable, "-m", "workers"],
        workdir,
        ready=lambda: port_open(port),
        env=settings_environment(settings),
        startup_timeout=60.0,
    ).start()
