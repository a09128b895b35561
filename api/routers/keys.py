"""API keys of the signed-in user's tenant: `/v1/keys`.

Create returns 201 with a one-time reveal link; the secret itself comes out
once, from `POST /v1/keys/{id}/reveal`, after a recent MFA check. Revoke
returns 202 once `KeyRevocationWorkflow` is queued in Temporal, which then
retries the auth-service until the revocation lands.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import StrEnum

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from api.problems import Problem
from api.security import (
    KeyIdentity,
    get_auth_service,
    mfa_is_recent,
    mfa_required_problem,
    require_api_key,
    require_recent_mfa,
    require_role,
)
from portal.auth_service_client import (
    AuthServiceClient,
    KeyNotFoundError,
    KeyRecord,
    RequestRejectedError,
)
from portal.errors import DependencyUnavailableError
from portal.keys import catalog, revocations
from portal.keys.audit import AuditEvent, record_audit
from portal.keys.format import KeyEnvironment
from portal.keys.metrics import KEYS_CREATED, REVEALS, REVOCATIONS_REQUESTED
from portal.keys.reveal import RevealVault
from portal.keys.scopes import KeyScope
from portal.keys.sessions import PortalUser
from portal.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/keys", tags=["keys"])

DEVELOPER = "developer"
KEY_ID_PATTERN = r"^key_[0-9a-f]{20}$"
SCREENSHOT_WARNING = (
    "This secret is shown once and never again. Copy it into your secret manager now. "
    "Anyone who sees your screen, a screenshot or a screen recording can use it: stop "
    "sharing your screen before you reveal a live key, and revoke the key at once if it "
    "was seen."
)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

require_developer = require_role(DEVELOPER)
KeyIdPath = Path(..., pattern=KEY_ID_PATTERN, description="Key id, such as key_3f9a...")


class KeyStatus(StrEnum):
    """Lifecycle of a key as the portal shows it."""

    ACTIVE = "active"
    REVOCATION_PENDING = "revocation_pending"
    REVOKED = "revoked"


class CreateKeyRequest(BaseModel):
    """A new key's name, environment and scopes."""

    name: str = Field(
        ..., min_length=1, max_length=100, examples=["Checkout service"], description="Label."
    )
    environment: KeyEnvironment = Field(
        ..., description="`live` sends real messages and needs a recent MFA check; `test` never."
    )
    scopes: list[KeyScope] = Field(
        ..., min_length=1, max_length=len(KeyScope), description="What the key may do."
    )

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("name must contain a visible character")
        return stripped

    @field_validator("scopes")
    @classmethod
    def _unique_scopes(cls, value: list[KeyScope]) -> list[KeyScope]:
        if len(set(value)) != len(value):
            raise ValueError("scopes must not repeat a scope")
        return value


class KeyOut(BaseModel):
    """A key's metadata; never its secret."""

    id: str
    name: str
    environment: KeyEnvironment
    scopes: list[str]
    prefix: str = Field(..., description="Start of the secret, such as `sk_live_`.")
    last_four: str = Field(..., description="Last four characters of the secret.")
    status: KeyStatus
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None


class RevealLink(BaseModel):
    """Reveal URL and expiry of the one-time copy of a secret."""

    url: str
    expires_at: datetime
    requires_recent_mfa: bool = True
    warning: str = SCREENSHOT_WARNING


class CreatedKeyOut(KeyOut):
    """A new key and its one-time reveal link."""

    reveal: RevealLink


class KeyList(BaseModel):
    """A tenant's keys, oldest first."""

    keys: list[KeyOut]
    stale: bool = Field(
        False,
        description="True when the auth-service was unreachable and the list is the portal's "
        "last copy; statuses of pending revocations are current either way.",
    )


class RevealedSecret(BaseModel):
    """The secret, shown this once."""

    id: str
    secret: str
    environment: KeyEnvironment
    warning: str = SCREENSHOT_WARNING


class RevocationAccepted(BaseModel):
    """A queued or finished revocation."""

    id: str
    status: KeyStatus
    workflow_id: str | None = None


class KeyIdentityOut(BaseModel):
    """The API key that authenticated the request."""

    key_id: str
    tenant_id: str
    environment: KeyEnvironment
    scopes: list[str]


async def get_vault(request: Request) -> RevealVault:
    """Return the app's reveal vault."""
    return request.app.state.reveal_vault


async def developer_with_recent_mfa(
    request: Request, user: PortalUser = Depends(require_developer)
) -> PortalUser:
    """Return a developer of the tenant whose last TOTP check is recent enough."""
    return await require_recent_mfa(request, user)


def _key_out(record: KeyRecord, pending: set[str]) -> KeyOut:
    if record.revoked:
        status = KeyStatus.REVOKED
    elif record.key_id in pending:
        status = KeyStatus.REVOCATION_PENDING
    else:
        status = KeyStatus.ACTIVE
    return KeyOut(
        id=record.key_id,
        name=record.name,
        environment=record.environment,
        scopes=list(record.scopes),
        prefix=record.prefix,
        last_four=record.last_four,
        status=status,
        created_at=record.created_at,
        created_by=record.created_by,
        revoked_at=record.revoked_at,
    )


async def _audit(
    request: Request, event: AuditEvent, user: PortalUser, key_id: str | None = None
) -> None:
    await record_audit(
        request.app.state.redis,
        event=event,
        tenant_id=user.tenant_id,
        actor=user.user_id,
        key_id=key_id,
        max_events=request.app.state.settings.audit_stream_max_events,
    )


async def _revoke_orphan(request: Request, user: PortalUser, key_id: str) -> None:
    """Queue the revocation of a key whose secret could not be stored for reveal."""
    try:
        await revocations.start_revocation(
            request.app.state.temporal,
            request.app.state.settings,
            tenant_id=user.tenant_id,
            key_id=key_id,
            requested_by=user.user_id,
            requested_at=datetime.now(UTC),
        )
    except DependencyUnavailableError:
        # TODO: sweep keys that have neither a reveal copy nor a revocation. Nobody can
        # use such a key, because its secret was never shown.
        log.error("orphaned key left active key_id=%s tenant=%s", key_id, user.tenant_id)


@router.post(
    "",
    status_code=201,
    summary="Create an API key",
    responses={401: {"description": "A live key needs a recent MFA check."}},
)
async def create_key(
    body: CreateKeyRequest,
    request: Request,
    response: Response,
    user: PortalUser = Depends(require_developer),
    auth_service: AuthServiceClient = Depends(get_auth_service),
    vault: RevealVault = Depends(get_vault),
) -> CreatedKeyOut:
    """Create a key in the auth-service and hold its secret, encrypted, for one reveal."""
    settings: Settings = request.app.state.settings
    if body.environment is KeyEnvironment.LIVE and not mfa_is_recent(
        user, settings.mfa_max_age_seconds
    ):
        raise mfa_required_problem(settings.mfa_max_age_seconds)

    # KMS first: if it is down, fail before a key exists whose secret would be lost.
    data_key = await vault.new_data_key(user.tenant_id)
    try:
        created = await auth_service.create_key(
            tenant_id=user.tenant_id,
            name=body.name,
            environment=body.environment,
            scopes=[scope.value for scope in body.scopes],
            created_by=user.user_id,
        )
    except RequestRejectedError as exc:
        raise Problem(400, "Invalid request", str(exc), type_="invalid-request") from exc

    key = created.key
    try:
        expires_at = await vault.seal(
            data_key, tenant_id=user.tenant_id, key_id=key.key_id, secret=created.secret
        )
    except DependencyUnavailableError:
        await _revoke_orphan(request, user, key.key_id)
        raise
    del created

    await catalog.remember(request.app.state.redis, user.tenant_id, [key])
    await _audit(request, AuditEvent.KEY_CREATED, user, key.key_id)
    KEYS_CREATED.labels(key.environment.value).inc()
    response.headers["Location"] = f"/v1/keys/{key.key_id}"
    return CreatedKeyOut(
        **_key_out(key, set()).model_dump(),
        reveal=RevealLink(url=f"/v1/keys/{key.key_id}/reveal", expires_at=expires_at),
    )


@router.get("", summary="List the tenant's API keys")
async def list_keys(
    request: Request,
    user: PortalUser = Depends(require_developer),
    auth_service: AuthServiceClient = Depends(get_auth_service),
) -> KeyList:
    """List keys with their status; served from the portal's copy while the auth-service is down."""
    redis = request.app.state.redis
    stale = False
    try:
        records = await auth_service.list_keys(user.tenant_id)
        await catalog.remember(redis, user.tenant_id, records)
    except DependencyUnavailableError:
        records = await catalog.cached_keys(redis, user.tenant_id)
        stale = True
        log.info("key list served from the catalog tenant=%s keys=%d", user.tenant_id, len(records))

    pending, answered = await _pending_revocations(request, user.tenant_id)
    if not answered:
        raise DependencyUnavailableError(
            "redis", 5, "neither Redis nor Temporal could say which revocations are pending"
        )
    return KeyList(keys=[_key_out(record, pending) for record in records], stale=stale)


async def _pending_revocations(request: Request, tenant_id: str) -> tuple[set[str], bool]:
    """Return pending key ids from Redis and Temporal, and whether either of them responded."""
    pending: set[str] = set()
    answered = False
    try:
        pending |= await revocations.pending_in_redis(request.app.state.redis, tenant_id)
        answered = True
    except DependencyUnavailableError as exc:
        log.warning("pending revocations unknown to Redis tenant=%s reason=%s", tenant_id, exc)
    # Visibility covers a marker Redis lost, such as after a restart without persistence.
    try:
        pending |= await revocations.pending_in_temporal(request.app.state.temporal, tenant_id)
        answered = True
    except DependencyUnavailableError as exc:
        log.warning("pending revocations unknown to Temporal tenant=%s reason=%s", tenant_id, exc)
    return pending, answered


async def _known_key(
    request: Request, auth_service: AuthServiceClient, user: PortalUser, key_id: str
) -> KeyRecord:
    """Return the tenant's key from the auth-service, else from the portal's copy.

    Raises:
        Problem: 404 when the tenant has no such key.
        DependencyUnavailableError: Neither source is reachable.
    """
    try:
        return await auth_service.get_key(user.tenant_id, key_id)
    except KeyNotFoundError:
        raise Problem(
            404, "Not found", f"Your tenant has no key {key_id}.", type_="key-not-found"
        ) from None
    except DependencyUnavailableError:
        record = await catalog.cached_key(request.app.state.redis, user.tenant_id, key_id)
        if record is None:
            raise
        return record


@router.post(
    "/{key_id}/reveal",
    summary="Reveal a new key's secret, once",
    responses={
        401: {"description": "No MFA check within the last 5 minutes (configurable)."},
        410: {"description": "Already revealed or expired."},
    },
)
async def reveal_key(
    request: Request,
    key_id: str = KeyIdPath,
    user: PortalUser = Depends(developer_with_recent_mfa),
    auth_service: AuthServiceClient = Depends(get_auth_service),
    vault: RevealVault = Depends(get_vault),
) -> JSONResponse:
    """Return the secret the first time; every later call, by anyone, gets 410 Gone."""
    secret = await vault.reveal(tenant_id=user.tenant_id, key_id=key_id)
    if secret is None:
        REVEALS.labels("gone").inc()
        # Ids the tenant never had get 404, so a 410 means only that this copy is gone.
        record = await catalog.cached_key(request.app.state.redis, user.tenant_id, key_id)
        if record is None:
            await _known_key(request, auth_service, user, key_id)
        raise Problem(
            410,
            "Secret no longer available",
            f"The secret of {key_id} was already revealed, or its one-time copy expired after "
            f"{vault.ttl_seconds // 60} minutes. It cannot be shown again: create a new key "
            "and revoke this one if you did not store it.",
            type_="secret-gone",
            headers=NO_STORE,
        )
    REVEALS.labels("revealed").inc()
    await _audit(request, AuditEvent.KEY_REVEALED, user, key_id)
    environment = KeyEnvironment.LIVE if secret.startswith("sk_live_") else KeyEnvironment.TEST
    body = RevealedSecret(id=key_id, secret=secret, environment=environment)
    return JSONResponse(body.model_dump(mode="json"), headers=NO_STORE)


@router.delete(
    "/{key_id}",
    status_code=202,
    summary="Revoke an API key",
    responses={200: {"description": "The key was already revoked."}},
)
async def revoke_key(
    request: Request,
    response: Response,
    key_id: str = KeyIdPath,
    user: PortalUser = Depends(require_developer),
    auth_service: AuthServiceClient = Depends(get_auth_service),
) -> RevocationAccepted:
    """Queue the key's revocation durably; the portal refuses the key from now on."""
    record = await _known_key(request, auth_service, user, key_id)
    if record.revoked:
        response.status_code = 200
        return RevocationAccepted(id=key_id, status=KeyStatus.REVOKED)

    requested_at = datetime.now(UTC)
    workflow_id = await revocations.start_revocation(
        request.app.state.temporal,
        request.app.state.settings,
        tenant_id=user.tenant_id,
        key_id=key_id,
        requested_by=user.user_id,
        requested_at=requested_at,
    )
    try:
        await revocations.mark_pending(
            request.app.state.redis, user.tenant_id, key_id, requested_at
        )
    except DependencyUnavailableError as exc:
        # The workflow's first step writes the same marker once Redis is back.
        log.warning("pending marker left to the workflow key_id=%s reason=%s", key_id, exc)
    REVOCATIONS_REQUESTED.inc()
    await _audit(request, AuditEvent.KEY_REVOCATION_REQUESTED, user, key_id)
    return RevocationAccepted(
        id=key_id, status=KeyStatus.REVOCATION_PENDING, workflow_id=workflow_id
    )


@router.get("/current", summary="Identify the API key of this request")
async def current_key(key: KeyIdentity = Depends(require_api_key)) -> KeyIdentityOut:
    """Return the key sent as `Authorization: Bearer sk_...`, to check that it works."""
    return KeyIdentityOut(
        key_id=key.key_id,
        tenant_id=key.tenant_id,
        environment=key.environment,
        scopes=list(key.scopes),
    )
