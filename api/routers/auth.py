"""Portal sign-in and step-up MFA: `/v1/auth/...`.

Signing in takes the email, the password and the current TOTP code, so
every session starts with a passed MFA check. Creating a live key and
revealing a secret need a check younger than `mfa_max_age_seconds`;
`POST /v1/auth/mfa` renews it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from datetime import UTC, datetime, timedelta

import limits
from fastapi import APIRouter, Depends, Request, Response
from limits.aio.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from api.problems import Problem
from api.security import current_user, get_auth_service, get_sessions
from portal.auth_service_client import AuthServiceClient, InvalidCredentialsError
from portal.errors import DependencyUnavailableError
from portal.keys.audit import AuditEvent, record_audit
from portal.keys.metrics import MFA_FAILURES, SIGN_IN_FAILURES
from portal.keys.sessions import SESSION_COOKIE, PortalUser, SessionStore
from portal.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/auth", tags=["auth"])

# Use [0-9] because pydantic's \d also matches Arabic-Indic and other Unicode digits.
TOTP_CODE_PATTERN = r"^[0-9]{6}$"


class SignInRequest(BaseModel):
    """Email, password and current TOTP code of a portal user."""

    email: str = Field(..., min_length=3, max_length=320, examples=["dev@example.com"])
    password: str = Field(..., min_length=1, max_length=1024)
    totp_code: str = Field(
        ...,
        pattern=TOTP_CODE_PATTERN,
        description="The 6-digit code your authenticator app shows now.",
        examples=["123456"],
    )


class MfaRequest(BaseModel):
    """A current TOTP code."""

    code: str = Field(
        ...,
        pattern=TOTP_CODE_PATTERN,
        description="The 6-digit code your authenticator app shows now.",
        examples=["123456"],
    )


class SessionUser(BaseModel):
    """The signed-in user and the freshness of their MFA check."""

    user_id: str
    tenant_id: str
    email: str
    roles: list[str]
    mfa_at: datetime | None
    mfa_valid_until: datetime | None = Field(
        None, description="Until when actions that need a recent MFA check are allowed."
    )


class SignInResponse(BaseModel):
    """A new session. The token is also set as the HttpOnly `portal_session` cookie."""

    token: str = Field(..., description="Send as `Authorization: Bearer <token>`.")
    token_type: str = "bearer"
    expires_at: datetime
    user: SessionUser


def session_user(user: PortalUser, settings: Settings) -> SessionUser:
    """Describe `user` with the time their MFA check stops counting as recent."""
    valid_until = (
        user.mfa_at + timedelta(seconds=settings.mfa_max_age_seconds) if user.mfa_at else None
    )
    return SessionUser(
        user_id=user.user_id,
        tenant_id=user.tenant_id,
        email=user.email,
        roles=sorted(user.roles),
        mfa_at=user.mfa_at,
        mfa_valid_until=valid_until,
    )


def cookie_is_secure(settings: Settings) -> bool:
    """Return whether the session cookie needs HTTPS: always, except in local and test."""
    if settings.session_cookie_secure is not None:
        return settings.session_cookie_secure
    return settings.environment not in ("local", "test")


async def enforce_rate_limit(request: Request, rule: str, scope: str, identifier: str) -> None:
    """Count one attempt against `rule` for `identifier`, or raise a 429 when none are left.

    Raises:
        Problem: 429 with `Retry-After`.
        DependencyUnavailableError: Redis is down.
    """
    limiter: MovingWindowRateLimiter = request.app.state.rate_limiter
    item = limits.parse(rule)
    try:
        allowed = await limiter.hit(item, scope, identifier)
        if allowed:
            return
        reset_at, _ = await limiter.get_window_stats(item, scope, identifier)
    except (RedisError, OSError) as exc:
        raise DependencyUnavailableError("redis", 5, f"rate limiter: {type(exc).__name__}") from exc
    retry_after = max(1, math.ceil(reset_at - time.time()))
    log.warning("rate limit reached scope=%s retry_after=%d", scope, retry_after)
    raise Problem(
        429,
        "Too many attempts",
        f"Too many {scope} attempts; the limit is {rule}. Retry in {retry_after} seconds.",
        type_="too-many-attempts",
        headers={"Retry-After": str(retry_after)},
        retry_after=retry_after,
    )


def _email_digest(email: str) -> str:
    # Rate-limit counters are keyed by a digest so Redis keys hold no email address.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _wrong_credentials() -> Problem:
    return Problem(
        401,
        "Sign-in failed",
        "The email, password or TOTP code is wrong. Check them and use the code your "
        "authenticator app shows now.",
        type_="sign-in-failed",
    )


@router.post("/sign-in", summary="Sign in with email, password and TOTP code")
async def sign_in(
    body: SignInRequest,
    request: Request,
    response: Response,
    auth_service: AuthServiceClient = Depends(get_auth_service),
    sessions: SessionStore = Depends(get_sessions),
) -> SignInResponse:
    """Check the password and the TOTP code, then start a session with a fresh MFA check."""
    settings: Settings = request.app.state.settings
    await enforce_rate_limit(
        request, settings.sign_in_rate_limit, "sign-in", _email_digest(body.email)
    )
    try:
        user = await auth_service.authenticate_user(body.email, body.password)
    except InvalidCredentialsError:
        SIGN_IN_FAILURES.labels("password").inc()
        log.info("sign-in failed reason=password")
        raise _wrong_credentials() from None

    if not await auth_service.verify_totp(user.user_id, body.totp_code):
        SIGN_IN_FAILURES.labels("totp").inc()
        MFA_FAILURES.labels("sign_in").inc()
        await record_audit(
            request.app.state.redis,
            event=AuditEvent.MFA_FAILED,
            tenant_id=user.tenant_id,
            actor=user.user_id,
            max_events=settings.audit_stream_max_events,
            reason="sign_in_wrong_code",
        )
        raise _wrong_credentials()

    session = await sessions.create(
        user_id=user.user_id,
        tenant_id=user.tenant_id,
        email=user.email,
        roles=set(user.roles),
        mfa_at=datetime.now(UTC),
    )
    await record_audit(
        request.app.state.redis,
        event=AuditEvent.SIGNED_IN,
        tenant_id=user.tenant_id,
        actor=user.user_id,
        max_events=settings.audit_stream_max_events,
    )
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="strict",
        secure=cookie_is_secure(settings),
        path="/",
    )
    response.headers["Cache-Control"] = "no-store"
    return SignInResponse(
        token=session.token,
        expires_at=session.expires_at,
        user=session_user(session.user, settings),
    )


@router.post("/mfa", summary="Pass a fresh TOTP check (step-up MFA)")
async def step_up(
    body: MfaRequest,
    request: Request,
    user: PortalUser = Depends(current_user),
    auth_service: AuthServiceClient = Depends(get_auth_service),
    sessions: SessionStore = Depends(get_sessions),
) -> SessionUser:
    """Check the current TOTP code and record the time on the session."""
    settings: Settings = request.app.state.settings
    await enforce_rate_limit(request, settings.mfa_rate_limit, "mfa", user.user_id)
    if not await auth_service.verify_totp(user.user_id, body.code):
        MFA_FAILURES.labels("step_up").inc()
        await record_audit(
            request.app.state.redis,
            event=AuditEvent.MFA_FAILED,
            tenant_id=user.tenant_id,
            actor=user.user_id,
            max_events=settings.audit_stream_max_events,
            reason="step_up_wrong_code",
        )
        raise Problem(
            401,
            "Invalid TOTP code",
            "The TOTP code is wrong or was already used. Enter the code your authenticator "
            "app shows now; a code works once.",
            type_="invalid-totp-code",
        )
    now = datetime.now(UTC)
    if not await sessions.record_mfa(request.state.session_token, now):
        raise Problem(401, "Sign-in required", "The session ended; sign in again.")
    await record_audit(
        request.app.state.redis,
        event=AuditEvent.MFA_PASSED,
        tenant_id=user.tenant_id,
        actor=user.user_id,
        max_events=settings.audit_stream_max_events,
    )
    user.mfa_at = now
    return session_user(user, settings)


@router.get("/session", summary="The signed-in user")
async def read_session(request: Request, user: PortalUser = Depends(current_user)) -> SessionUser:
    """Return the signed-in user and until when their MFA check counts as recent."""
    return session_user(user, request.app.state.settings)


@router.post("/sign-out", status_code=204, summary="End the session")
async def sign_out(
    request: Request,
    response: Response,
    user: PortalUser = Depends(current_user),
    sessions: SessionStore = Depends(get_sessions),
) -> Response:
    """End the session and clear its cookie."""
    await sessions.end(request.state.session_token)
    log.info("session ended user_id=%s", user.user_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
