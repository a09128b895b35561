"""gRPC server of the local auth-service: the `auth.v1.AuthService` contract and gRPC health."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections.abc import Iterable
from pathlib import Path

import grpc
import pyotp
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from portal.keys.format import KeyEnvironment
from portal.settings import Settings
from protos.auth.v1 import auth_pb2, auth_pb2_grpc
from services.auth_service.store import AuthStore, EmailTakenError, StoredKey, StoredUser

log = logging.getLogger(__name__)

SERVICE_NAME = "auth.v1.AuthService"
# Fixed pepper for local development and tests only; `load_pepper` rejects
# it in staging and production.
DEVELOPMENT_PEPPER = b"devportal-local-development-pepper"
STOP_GRACE_SECONDS = 5.0
MIN_PEPPER_BYTES = 16

TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SCOPE_PATTERN = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
ROLE_PATTERN = re.compile(r"^[a-z][a-z_-]{1,31}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]+$")
MAX_SCOPES = 20
MAX_NAME_LENGTH = 100
MIN_PASSWORD_LENGTH = 12

_ENVIRONMENTS = {
    auth_pb2.ENVIRONMENT_LIVE: KeyEnvironment.LIVE,
    auth_pb2.ENVIRONMENT_TEST: KeyEnvironment.TEST,
}
_ENVIRONMENT_TO_PROTO = {value: key for key, value in _ENVIRONMENTS.items()}


class InvalidArgument(Exception):
    """A request field is invalid; the message names it and the form it expects."""


def database_path(settings: Settings) -> Path:
    """Return the SQLite file of the local auth-service."""
    return settings.auth_service_db or settings.state_dir / "auth-service" / "auth.db"


def load_pepper(settings: Settings) -> bytes:
    """Return the HMAC pepper, rejecting the development one outside local and test.

    Raises:
        SystemExit: PORTAL_AUTH_SERVICE_PEPPER is unset in staging or production.
    """
    if settings.auth_service_pepper is not None:
        pepper = settings.auth_service_pepper.get_secret_value().encode()
        if len(pepper) < MIN_PEPPER_BYTES:
            raise SystemExit(
                f"PORTAL_AUTH_SERVICE_PEPPER is too short: use at least {MIN_PEPPER_BYTES} "
                "random bytes from the secret store."
            )
        return pepper
    if settings.environment in ("staging", "production"):
        raise SystemExit(
            f"PORTAL_AUTH_SERVICE_PEPPER is missing: the {settings.environment} auth-service "
            "needs its own pepper; set it from the secret store."
        )
    log.warning("using the development pepper environment=%s", settings.environment)
    return DEVELOPMENT_PEPPER


def _timestamp(seconds: float | None) -> Timestamp | None:
    if seconds is None:
        return None
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def key_to_proto(key: StoredKey) -> auth_pb2.Key:
    """Convert a stored key to the contract's `Key` message."""
    return auth_pb2.Key(
        key_id=key.key_id,
        tenant_id=key.tenant_id,
        name=key.name,
        environment=_ENVIRONMENT_TO_PROTO[key.environment],
        scopes=list(key.scopes),
        prefix=key.prefix,
        last_four=key.last_four,
        state=auth_pb2.KEY_STATE_REVOKED if key.revoked else auth_pb2.KEY_STATE_ACTIVE,
        created_at=_timestamp(key.created_at),
        revoked_at=_timestamp(key.revoked_at),
        created_by=key.created_by,
    )


def user_to_proto(user: StoredUser) -> auth_pb2.User:
    """Convert a stored user to the contract's `User` message."""
    return auth_pb2.User(
        user_id=user.user_id, tenant_id=user.tenant_id, email=user.email, roles=list(user.roles)
    )


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidArgument(message)


def _check_tenant(tenant_id: str) -> None:
    _require(
        bool(TENANT_PATTERN.match(tenant_id)),
        "tenant_id is invalid: use 1 to 64 letters, digits, '-' or '_'.",
    )


def _check_scopes(scopes: Iterable[str]) -> list[str]:
    scopes = list(scopes)
    _require(0 < len(scopes) <= MAX_SCOPES, f"scopes must list 1 to {MAX_SCOPES} scopes.")
    for scope in scopes:
        _require(
            bool(SCOPE_PATTERN.match(scope)),
            f"scope {scope!r} is invalid: use lowercase letters, digits and '_.:-'.",
        )
    return sorted(set(scopes))


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """Implements `auth.v1.AuthService` on an `AuthStore`."""

    def __init__(self, store: AuthStore) -> None:
        self._store = store

    async def _abort_invalid(self, context: grpc.aio.ServicerContext, exc: InvalidArgument) -> None:
        log.info("rejected request reason=%s", exc)
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

    async def CreateKey(  # noqa: N802 - the name is fixed by the generated base class
        self, request: auth_pb2.CreateKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateKeyResponse:
        try:
            _check_tenant(request.tenant_id)
            _require(
                0 < len(request.name.strip()) <= MAX_NAME_LENGTH,
                f"name must have 1 to {MAX_NAME_LENGTH} characters.",
            )
            _require(request.environment in _ENVIRONMENTS, "environment must be LIVE or TEST.")
            _require(bool(request.created_by), "created_by is missing.")
            scopes = _check_scopes(request.scopes)
        except InvalidArgument as exc:
            await self._abort_invalid(context, exc)
            raise
        key, secret = self._store.create_key(
            request.tenant_id,
            request.name.strip(),
            _ENVIRONMENTS[request.environment],
            scopes,
            request.created_by,
        )
        log.info(
            "key created key_id=%s tenant=%s environment=%s created_by=%s",
            key.key_id,
            key.tenant_id,
            key.environment.value,
            key.created_by,
        )
        return auth_pb2.CreateKeyResponse(key=key_to_proto(key), secret=secret)

    async def ListKeys(  # noqa: N802
        self, request: auth_pb2.ListKeysRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListKeysResponse:
        try:
            _check_tenant(request.tenant_id)
        except InvalidArgument as exc:
            await self._abort_invalid(context, exc)
            raise
        keys = self._store.list_keys(request.tenant_id)
        return auth_pb2.ListKeysResponse(keys=[key_to_proto(key) for key in keys])

    async def GetKey(  # noqa: N802
        self, request: auth_pb2.GetKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Key:
        key = self._store.get_key(request.tenant_id, request.key_id)
        if key is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"tenant has no key {request.key_id}")
        return key_to_proto(key)

    async def RevokeKey(  # noqa: N802
        self, request: auth_pb2.RevokeKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.Key:
        key = self._store.revoke_key(request.tenant_id, request.key_id, request.requested_by)
        if key is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"tenant has no key {request.key_id}")
        log.info(
            "key revoked key_id=%s tenant=%s requested_by=%s",
            key.key_id,
            key.tenant_id,
            request.requested_by,
        )
        return key_to_proto(key)

    async def VerifyKey(  # noqa: N802
        self, request: auth_pb2.VerifyKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.VerifyKeyResponse:
        key = self._store.verify_key(request.secret)
        if key is None:
            return auth_pb2.VerifyKeyResponse(found=False)
        return auth_pb2.VerifyKeyResponse(
            found=True,
            key_id=key.key_id,
            tenant_id=key.tenant_id,
            environment=_ENVIRONMENT_TO_PROTO[key.environment],
            scopes=list(key.scopes),
        )

    async def CreateUser(  # noqa: N802
        self, request: auth_pb2.CreateUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateUserResponse:
        try:
            _check_tenant(request.tenant_id)
            _require(bool(EMAIL_PATTERN.match(request.email)), "email is invalid.")
            _require(
                len(request.password) >= MIN_PASSWORD_LENGTH,
                f"password must have at least {MIN_PASSWORD_LENGTH} characters.",
            )
            _require(len(request.roles) > 0, "roles must list at least one role.")
            for role in request.roles:
                _require(bool(ROLE_PATTERN.match(role)), f"role {role!r} is invalid.")
            totp_secret = request.totp_secret or pyotp.random_base32()
            try:
                pyotp.TOTP(totp_secret).now()
            except Exception as exc:  # noqa: BLE001 - pyotp raises several types for bad base32
                raise InvalidArgument("totp_secret is invalid: use base32.") from exc
        except InvalidArgument as exc:
            await self._abort_invalid(context, exc)
            raise
        try:
            user = await asyncio.to_thread(
                self._store.create_user,
                request.tenant_id,
                request.email,
                request.password,
                list(request.roles),
                totp_secret,
            )
        except EmailTakenError:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, "a user with this email exists")
        log.info("user created user_id=%s tenant=%s", user.user_id, user.tenant_id)
        uri = pyotp.TOTP(totp_secret).provisioning_uri(
            name=user.email, issuer_name="devportal (local)"
        )
        return auth_pb2.CreateUserResponse(
            user=user_to_proto(user), totp_secret=totp_secret, totp_provisioning_uri=uri
        )

    async def AuthenticateUser(  # noqa: N802
        self, request: auth_pb2.AuthenticateUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.User:
        # scrypt takes tens of milliseconds; keep it off the event loop.
        user = await asyncio.to_thread(
            self._store.authenticate_user, request.email, request.password
        )
        if user is None:
            log.info("sign-in rejected: wrong email or password")
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong email or password")
        return user_to_proto(user)

    async def VerifyTotp(  # noqa: N802
        self, request: auth_pb2.VerifyTotpRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.VerifyTotpResponse:
        valid = self._store.verify_totp(request.user_id, request.code)
        if not valid:
            log.info("TOTP code rejected user_id=%s", request.user_id)
        return auth_pb2.VerifyTotpResponse(valid=valid)


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve the contract and gRPC health on the port of `auth_service_address` until `stop`.

    Args:
        settings: Portal settings; the server binds `host` and the port of
            `auth_service_address`.
        stop: Event that stops the server; SIGINT and SIGTERM set it when None.
    """
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)

    path = database_path(settings)
    store = AuthStore(path, load_pepper(settings))
    server = grpc.aio.server()
    auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(store), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = settings.auth_service_address.rsplit(":", 1)[1]
    bind = f"{settings.host}:{port}"
    if server.add_insecure_port(bind) == 0:
        raise SystemExit(f"auth-service cannot bind {bind}: the port is in use or invalid")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("auth-service started address=%s database=%s", bind, path)

    await stop.wait()
    log.info("auth-service stopping: draining calls for up to %.0f s", STOP_GRACE_SECONDS)
    await health_servicer.enter_graceful_shutdown()
    await server.stop(STOP_GRACE_SECONDS)
    store.close()
    log.info("auth-service stopped")
