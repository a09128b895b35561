"""Verify API: confirm that a person controls a phone number with a one-time code."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel, Field, field_validator

from api.problems import Problem
from api.security import KeyIdentity, require_scope
from portal.keys.scopes import KeyScope
from portal.settings import Settings
from portal.verify.caps import CapExceeded
from portal.verify.codes import TEMPLATES, supported_language
from portal.verify.kms import VerifyKms
from portal.verify.metrics import CAP_REJECTIONS
from portal.verify.phone import InvalidPhoneNumber, PhoneNumber, parse_phone_number
from portal.verify.service import (
    Caller,
    ChannelsUnavailable,
    StartRequest,
    VerifyService,
)
from portal.verify.store import SessionRecord, SessionStatus, SessionUnavailable

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/verify", tags=["verify"])

VERIFY_SCOPE = "verify"
# The caller's API key, checked by the auth-service. `verify` grants every
# Verify call; keys created in the portal carry verify:send and verify:check.
verify_key = require_scope(VERIFY_SCOPE, KeyScope.VERIFY_SEND, KeyScope.VERIFY_CHECK)
send_key = require_scope(VERIFY_SCOPE, KeyScope.VERIFY_SEND)
check_key = require_scope(VERIFY_SCOPE, KeyScope.VERIFY_CHECK)


class Channel(StrEnum):
    """Channels a code can be sent on."""

    WHATSAPP = "whatsapp"
    SMS = "sms"
    VOICE = "voice"


class StartSessionBody(BaseModel):
    """Request body of `POST /v1/verify/sessions`."""

    to: str = Field(
        description="Phone number to verify, with its country code; E.164 such as "
        "+14155552671 is best, but spaces, brackets and dashes are accepted.",
        examples=["+14155552671"],
    )
    channels: list[Channel] = Field(
        default_factory=lambda: [Channel.WHATSAPP, Channel.SMS, Channel.VOICE],
        min_length=1,
        max_length=3,
        description="Channels to try, in order; each at most once.",
    )
    locale: str = Field(
        "en",
        pattern=r"^[a-z]{2}(-[A-Z]{2})?$",
        description=f"Language of the message: {', '.join(TEMPLATES)}, optionally with a region "
        "such as en-GB.",
    )
    code_length: int = Field(6, ge=6, le=10, description="Digits in the code.")
    channel_timeout_seconds: int = Field(
        60, ge=15, le=900, description="Seconds to wait for a check before the next channel."
    )

    @field_validator("to")
    @classmethod
    def _parse_number(cls, value: str) -> str:
        try:
            return parse_phone_number(value).e164
        except InvalidPhoneNumber as exc:
            raise ValueError(str(exc)) from None

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, value: list[Channel]) -> list[Channel]:
        if len(set(value)) != len(value):
            raise ValueError("must name each channel at most once")
        return value

    @field_validator("locale")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if not supported_language(value):
            raise ValueError(f"must be one of {', '.join(TEMPLATES)}, optionally with a region")
        return value


class CheckBody(BaseModel):
    """Request body of `POST /v1/verify/sessions/{id}/check`."""

    # Any string is taken here, so a malformed code still counts as an attempt.
    code: str = Field(max_length=64, description="The code the person received.")


class ChannelAttemptView(BaseModel):
    """A channel the session used."""

    channel: str
    status: str = Field(
        description="sending, sent, delivered, undelivered, failed, or skipped (breaker open)."
    )
    at: datetime


class SessionView(BaseModel):
    """A Verify session. Never carries the code; the number is masked."""

    id: str
    status: SessionStatus
    to: str = Field(description="The number, masked.")
    channel: str | None = Field(description="Channel of the latest (or first) send.")
    channels: list[str]
    channels_tried: list[ChannelAttemptView]
    code_length: int
    attempts_remaining: int
    created_at: datetime
    expires_at: datetime


class CheckResult(BaseModel):
    """Result of a code check."""

    id: str
    status: str = Field(description="approved or rejected.")
    attempts_remaining: int


def _timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _view(record: SessionRecord, channel: str | None = None) -> SessionView:
    return SessionView(
        id=record.session_id,
        status=record.status,
        to=record.masked_to,
        channel=record.current_channel or channel,
        channels=record.channels,
        channels_tried=[
            ChannelAttemptView(
                channel=item.channel, status=item.status, at=_timestamp(item.at / 1000)
            )
            for item in record.tried
        ],
        code_length=record.code_length,
        attempts_remaining=record.attempts_remaining,
        created_at=_timestamp(record.created_at),
        expires_at=_timestamp(record.expires_at),
    )


async def get_verify(request: Request) -> VerifyService:
    """Return the app's Verify service."""
    return request.app.state.verify


def _caller(key: KeyIdentity) -> Caller:
    return Caller(tenant_id=key.tenant_id, key_id=key.key_id)


def _not_found(session_id: str) -> Problem:
    return Problem(
        404,
        "Not found",
        f"No Verify session {session_id} belongs to your tenant. Check the id returned when "
        "the session was started.",
        type_="verify-session-not-found",
    )


def _session_problem(session_id: str, status: str) -> Problem:
    """Return the problem for a check or cancel on a session in `status`."""
    if status == "not_found":
        return _not_found(session_id)
    if status == SessionStatus.APPROVED:
        return Problem(
            409,
            "Session already approved",
            f"Session {session_id} is already approved; each code is usable once.",
            type_="verify-session-approved",
            session_status=status,
        )
    if status in (SessionStatus.LOCKED, "exhausted"):
        return Problem(
            429,
            "Too many attempts",
            f"Session {session_id} used all its check attempts and sends no more codes. "
            "Start a new session.",
            type_="verify-too-many-attempts",
            session_status=SessionStatus.LOCKED.value,
        )
    if status == SessionStatus.FAILED:
        return Problem(
            410,
            "Session ended",
            f"Session {session_id} failed: no channel delivered a code. Start a new session.",
            type_="verify-session-ended",
            session_status=status,
        )
    return Problem(
        410,
        "Session ended",
        f"Session {session_id} is {status}. Start a new session.",
        type_="verify-session-ended",
        session_status=status,
    )


def _cap_problem(exc: CapExceeded) -> Problem:
    CAP_REJECTIONS.labels(exc.cap).inc()
    return Problem(
        429,
        "Cap exceeded",
        f"The {exc.cap} cap ({exc.limit}) is reached; retry in {exc.retry_after} seconds.",
        type_="verify-cap-exceeded",
        headers={"Retry-After": str(exc.retry_after)},
        cap=exc.cap.value,
        limit=exc.limit,
        retry_after=exc.retry_after,
    )


@router.post(
    "/sessions",
    status_code=201,
    summary="Start a Verify session",
    response_model=SessionView,
)
async def start_session(
    body: StartSessionBody,
    response: Response,
    key: Annotated[KeyIdentity, Depends(send_key)],
    verify: Annotated[VerifyService, Depends(get_verify)],
) -> SessionView:
    """Send a one-time code to `to` on the first available channel, falling back to the next.

    Returns 201 with the session and 400 for an invalid field. A reached cap
    gives 429 with `Retry-After`, naming the cap. When the auth-service,
    Redis, KMS or Temporal is down, or every requested channel is, the
    response is 503 with `Retry-After` and no session is kept.
    """
    number: PhoneNumber = parse_phone_number(body.to)
    request = StartRequest(
        to=number,
        channels=[channel.value for channel in body.channels],
        locale=body.locale,
        code_length=body.code_length,
        channel_timeout_seconds=body.channel_timeout_seconds,
    )
    try:
        record = await verify.start(_caller(key), request)
    except CapExceeded as exc:
        raise _cap_problem(exc) from None
    except ChannelsUnavailable as exc:
        raise Problem(
            503,
            "Channels unavailable",
            f"Every requested channel ({', '.join(request.channels)}) is failing; retry in "
            f"{exc.retry_after} seconds or add another channel.",
            type_="verify-channels-unavailable",
            headers={"Retry-After": str(exc.retry_after)},
            retry_after=exc.retry_after,
        ) from None
    response.headers["Location"] = f"/v1/verify/sessions/{record.session_id}"
    return _view(record)


@router.get("/sessions/{session_id}", summary="Read a Verify session", response_model=SessionView)
async def get_session(
    session_id: str,
    key: Annotated[KeyIdentity, Depends(verify_key)],
    verify: Annotated[VerifyService, Depends(get_verify)],
) -> SessionView:
    """Return the session's status and channels tried; never the code, the number masked."""
    record = await verify.get(_caller(key), session_id)
    if record is None:
        raise _not_found(session_id)
    return _view(record)


@router.post("/sessions/{session_id}/check", summary="Check a code", response_model=CheckResult)
async def check_code(
    session_id: str,
    body: CheckBody,
    key: Annotated[KeyIdentity, Depends(check_key)],
    verify: Annotated[VerifyService, Depends(get_verify)],
) -> CheckResult:
    """Check a code against every code sent in the session.

    Returns 200 with `approved` or `rejected`; 400 when the code is not
    digits of the session's length (still an attempt); 409 after approval;
    410 for an expired, cancelled or failed session; 429 once the attempts
    are used up.
    """
    try:
        outcome = await verify.check(_caller(key), session_id, body.code)
    except SessionUnavailable as exc:
        raise _session_problem(session_id, exc.status) from None
    if outcome.result == "invalid_code":
        raise Problem(
            400,
            "Invalid request",
            "Invalid value for code. See `errors` for the value it expects.",
            type_="invalid-request",
            errors=[
                {
                    "field": "code",
                    "in": "body",
                    "message": "must be the digits 0-9 only, as many as the session's "
                    "code_length; this check counted as an attempt",
                }
            ],
            attempts_remaining=outcome.attempts_remaining,
        )
    return CheckResult(
        id=session_id, status=outcome.result, attempts_remaining=outcome.attempts_remaining
    )


@router.post(
    "/sessions/{session_id}/cancel", summary="Cancel a Verify session", response_model=SessionView
)
async def cancel_session(
    session_id: str,
    key: Annotated[KeyIdentity, Depends(send_key)],
    verify: Annotated[VerifyService, Depends(get_verify)],
) -> SessionView:
    """Stop sending codes and make every code of the session unusable. Cancelling twice is fine."""
    status = await verify.cancel(_caller(key), session_id)
    if status in (SessionStatus.LOCKED, SessionStatus.FAILED):
        raise Problem(
            409,
            "Session already ended",
            f"Session {session_id} already ended as {status}; there is nothing to cancel.",
            type_="verify-session-ended",
            session_status=status,
        )
    if status != SessionStatus.CANCELLED:
        raise _session_problem(session_id, status)
    record = await verify.get(_caller(key), session_id)
    if record is None:
        raise _not_found(session_id)
    return _view(record)


@asynccontextmanager
async def verify_clients(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """Create the Verify service on `app.state` for the app's lifetime."""
    app.state.verify = VerifyService(
        settings, app.state.redis, app.state.temporal, VerifyKms(settings)
    )
    yield
