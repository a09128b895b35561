"""FastAPI dependencies that identify the caller: a signed-in portal user or an API key.

- `current_user`: the portal user of the session token (bearer or cookie).
- `require_role(role)`: that user, if they hold `role`; else 403.
- `require_recent_mfa`: that user, if their last TOTP check is recent; else 401.
- `require_api_key`: the customer's key from `Authorization: Bearer sk_...`,
  verified by the auth-service and not pending revocation; else 401.
- `require_scope(scope)`: that key, if it carries `scope`; else 403.

An auth-service or Redis outage surfaces as `DependencyUnavailableError`,
which the problem handlers turn into a fast 503 with `Retry-After`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Depends, FastAPI, Request
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from api.problems import Problem
from portal.auth_service_client import AuthServiceClient
from portal.keys import revocations
from portal.keys.format import KeyEnvironment, parse_secret
from portal.keys.reveal import RevealVault
from portal.keys.sessions import SESSION_COOKIE, SESSION_TOKEN_PREFIX, PortalUser, SessionStore
from portal.settings import Settings

__all__ = [
    "KeyIdentity",
    "PortalUser",
    "current_user",
    "require_api_key",
    "require_recent_mfa",
    "require_role",
    "require_scope",
    "security_clients",
]

log = logging.getLogger(__name__)

SIGN_IN_HINT = (
    "Sign in with POST /v1/auth/sign-in and send the returned token as "
    "`Authorization: Bearer <token>` or in the portal_session cookie."
)


@dataclass(frozen=True)
class KeyIdentity:
    """The customer's API key that authenticated a request."""

    key_id: str
    tenant_id: str
    environment: KeyEnvironment
    scopes: tuple[str, ...]


@asynccontextmanager
async def security_clients(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """Create the auth-service client, session store, reveal vault and rate limiter on `app.state`.

    The auth-service is deliberately not a readiness probe: while it is down
    the API must still accept revocations and serve everything else.
    """
    app.state.auth_service = AuthServiceClient(settings)
    app.state.sessions = SessionStore(app.state.redis, settings.session_ttl_seconds)
    app.state.reveal_vault = RevealVault(settings, app.state.redis)
    app.state.rate_limiter = MovingWindowRateLimiter(
        RedisStorage(
            "async+" + settings.redis_url,
            implementation="redispy",
            socket_connect_timeout=1.0,
            socket_timeout=2.0,
        )
    )
    try:
        yield
    finally:
        await app.state.auth_service.close()


async def get_auth_service(request: Request) -> AuthServiceClient:
    """Return the app's shared auth-service client."""
    return request.app.state.auth_service


async def get_sessions(request: Request) -> SessionStore:
    """Return the app's session store."""
    return request.app.state.sessions


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def session_token(request: Request) -> str | None:
    """Return the session token of the request: the bearer token, else the cookie."""
    token = _bearer(request) or request.cookies.get(SESSION_COOKIE)
    if token and token.startswith(SESSION_TOKEN_PREFIX):
        return token
    return None


def _sign_in_required(detail: str) -> Problem:
    return Problem(
        401,
        "Sign-in required",
        detail,
        type_="sign-in-required",
        headers={"WWW-Authenticate": 'Bearer realm="portal"'},
    )


async def current_user(
    request: Request, sessions: SessionStore = Depends(get_sessions)
) -> PortalUser:
    """Return the signed-in portal user of the request.

    Raises:
        Problem: 401 without a valid session token.
        DependencyUnavailableError: Redis is down.
    """
    token = session_token(request)
    if token is None:
        bearer = _bearer(request)
        if bearer and bearer.startswith("sk_"):
            raise _sign_in_required(
                "This endpoint takes a portal session, not an API key. " + SIGN_IN_HINT
            )
        raise _sign_in_required("No portal session was sent. " + SIGN_IN_HINT)
    user = await sessions.get(token)
    if user is None:
        raise _sign_in_required("The portal session expired or was ended. " + SIGN_IN_HINT)
    request.state.session_token = token
    return user


def require_role(role: str) -> Callable[..., Awaitable[PortalUser]]:
    """Return a dependency that admits signed-in users who hold `role`."""

    async def dependency(user: PortalUser = Depends(current_user)) -> PortalUser:
        if role not in user.roles:
            held = ", ".join(sorted(user.roles)) or "none"
            raise Problem(
                403,
                "Role required",
                f"This action needs the `{role}` role; your roles: {held}. "
                "Ask an admin of your tenant to grant it.",
                type_="role-required",
                required_role=role,
            )
        return user

    return dependency


def mfa_is_recent(user: PortalUser, max_age_seconds: int, now: datetime | None = None) -> bool:
    """Return True when the user passed a TOTP check within the last `max_age_seconds`."""
    if user.mfa_at is None:
        return False
    return (now or datetime.now(UTC)) - user.mfa_at <= timedelta(seconds=max_age_seconds)


def mfa_required_problem(max_age_seconds: int) -> Problem:
    """Return the 401 problem that explains how to pass a fresh TOTP check."""
    if max_age_seconds >= 120:
        window = f"{max_age_seconds // 60} minutes"
    else:
        window = f"{max_age_seconds} seconds"
    return Problem(
        401,
        "Recent MFA required",
        f"This action needs a TOTP check within the last {window}. POST the current code "
        'from your authenticator app to /v1/auth/mfa as {"code": "123456"}, then retry.',
        type_="mfa-required",
        headers={
            "WWW-Authenticate": (
                f'Bearer error="insufficient_user_authentication", max_age={max_age_seconds}'
            )
        },
        mfa_url="/v1/auth/mfa",
        max_age_seconds=max_age_seconds,
    )


async def require_recent_mfa(
    request: Request, user: PortalUser = Depends(current_user)
) -> PortalUser:
    """Return the signed-in user if their last TOTP check is recent enough.

    Raises:
        Problem: 401 naming /v1/auth/mfa when the check is missing or too old.
    """
    max_age = request.app.state.settings.mfa_max_age_seconds
    if not mfa_is_recent(user, max_age):
        raise mfa_required_problem(max_age)
    return user


def _invalid_key(detail: str) -> Problem:
    return Problem(
        401,
        "Invalid API key",
        detail,
        type_="invalid-api-key",
        headers={"WWW-Authenticate": 'Bearer realm="api"'},
    )


async def require_api_key(
    request: Request, auth_service: AuthServiceClient = Depends(get_auth_service)
) -> KeyIdentity:
    """Return the customer's API key that authenticates the request.

    Raises:
        Problem: 401 when the key is missing, malformed, unknown, revoked or
            pending revocation.
        DependencyUnavailableError: The auth-service or Redis is down.
    """
    secret = _bearer(request)
    if secret is None:
        raise _invalid_key("No API key was sent: send `Authorization: Bearer sk_live_...`.")
    # The checksum rejects look-alikes before any call to the auth-service.
    if parse_secret(secret) is None:
        raise _invalid_key(
            "The API key is malformed: a key starts with sk_live_ or sk_test_ and has "
            "38 more letters and digits. Copy it again from where you stored it."
        )
    verified = await auth_service.verify_key(secret)
    if verified is None:
        raise _invalid_key("The API key is unknown or revoked. Create a key in the portal.")
    if await revocations.is_pending(request.app.state.redis, verified.key_id):
        log.info("rejected key pending revocation key_id=%s", verified.key_id)
        raise _invalid_key(
            f"The API key {verified.key_id} is being revoked. Create a new key in the portal."
        )
    identity = KeyIdentity(
        verified.key_id, verified.tenant_id, verified.environment, verified.scopes
    )
    request.state.api_key = identity
    return identity


def require_scope(scope: str, *alternatives: str) -> Callable[..., Awaitable[KeyIdentity]]:
    """Return a dependency that admits API keys carrying `scope` or one of `alternatives`."""

    async def dependency(key: KeyIdentity = Depends(require_api_key)) -> KeyIdentity:
        if scope not in key.scopes and not set(alternatives) & set(key.scopes):
            accepted = " or ".join(f"`{name}`" for name in (scope, *alternatives))
            raise Problem(
                403,
                "Scope required",
                f"The API key {key.key_id} lacks the {accepted} scope. Create a key with it.",
                type_="scope-required",
                required_scope=scope,
                accepted_scopes=[scope, *alternatives],
            )
        return key

    return dependency
