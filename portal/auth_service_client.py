"""The portal's client of the auth-service, which owns API keys and portal identities.

Every process shares one grpc.aio channel per client. Each call has a
deadline, and gRPC's own retry policy retries only idempotent calls. An
aiobreaker circuit breaker turns a dead auth-service into an immediate
`DependencyUnavailableError` (HTTP 503 with `Retry-After`) instead of a
queue of calls waiting for their deadline. The breaker's state is exported
as `portal_dependency_circuit_state{dependency="auth-service"}`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc
from aiobreaker import CircuitBreaker, CircuitBreakerError
from aiobreaker.state import CircuitBreakerState

from portal.errors import DependencyUnavailableError
from portal.keys.format import KeyEnvironment
from portal.metrics import CircuitStateExporter
from portal.settings import Settings
from protos.auth.v1 import auth_pb2, auth_pb2_grpc

log = logging.getLogger(__name__)

DEPENDENCY = "auth-service"
SERVICE_NAME = "auth.v1.AuthService"

# Read-only or idempotent methods. The others change state, so a retry would
# repeat the change: a second key, a second user or a consumed TOTP time step.
IDEMPOTENT_METHODS = ("ListKeys", "GetKey", "RevokeKey", "VerifyKey", "AuthenticateUser")

# Status codes that mean "the auth-service cannot serve now" and count
# against the breaker. Every other code is a response about the request itself.
UNAVAILABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
    }
)

_ENVIRONMENT_TO_PROTO = {
    KeyEnvironment.LIVE: auth_pb2.ENVIRONMENT_LIVE,
    KeyEnvironment.TEST: auth_pb2.ENVIRONMENT_TEST,
}
_ENVIRONMENT_FROM_PROTO = {value: key for key, value in _ENVIRONMENT_TO_PROTO.items()}

T = TypeVar("T")


class AuthServiceError(Exception):
    """The auth-service responded and rejected this request."""


class KeyNotFoundError(AuthServiceError):
    """The tenant has no key with this id."""


class UserExistsError(AuthServiceError):
    """A portal user with this email already exists."""


class InvalidCredentialsError(AuthServiceError):
    """The email or password is wrong; the auth-service does not say which."""


class RequestRejectedError(AuthServiceError):
    """The auth-service rejected the request as invalid. The message names the reason."""


@dataclass(frozen=True)
class KeyRecord:
    """Metadata of one API key, as the auth-service stores it. Never the secret."""

    key_id: str
    tenant_id: str
    name: str
    environment: KeyEnvironment
    scopes: tuple[str, ...]
    prefix: str
    last_four: str
    revoked: bool
    created_at: datetime
    revoked_at: datetime | None
    created_by: str


@dataclass(frozen=True)
class CreatedKey:
    """A new key and its secret, which exists in plaintext only in this object."""

    key: KeyRecord
    secret: str = field(repr=False)


@dataclass(frozen=True)
class VerifiedKey:
    """The active key a presented secret belongs to."""

    key_id: str
    tenant_id: str
    environment: KeyEnvironment
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class UserRecord:
    """A portal user of a tenant."""

    user_id: str
    tenant_id: str
    email: str
    roles: frozenset[str]


@dataclass(frozen=True)
class CreatedUser:
    """A new portal user with the TOTP secret enrolled for them, returned once."""

    user: UserRecord
    totp_secret: str = field(repr=False)
    totp_provisioning_uri: str = field(repr=False)


def _timestamp(value: Any, present: bool) -> datetime | None:
    return value.ToDatetime(tzinfo=UTC) if present else None


def key_from_proto(message: auth_pb2.Key) -> KeyRecord:
    """Convert the contract's `Key` message to a `KeyRecord`."""
    return KeyRecord(
        key_id=message.key_id,
        tenant_id=message.tenant_id,
        name=message.name,
        environment=_ENVIRONMENT_FROM_PROTO[message.environment],
        scopes=tuple(message.scopes),
        prefix=message.prefix,
        last_four=message.last_four,
        revoked=message.state == auth_pb2.KEY_STATE_REVOKED,
        created_at=message.created_at.ToDatetime(tzinfo=UTC),
        revoked_at=_timestamp(message.revoked_at, message.HasField("revoked_at")),
        created_by=message.created_by,
    )


def user_from_proto(message: auth_pb2.User) -> UserRecord:
    """Convert the contract's `User` message to a `UserRecord`."""
    return UserRecord(
        user_id=message.user_id,
        tenant_id=message.tenant_id,
        email=message.email,
        roles=frozenset(message.roles),
    )


def channel_options(settings: Settings) -> list[tuple[str, Any]]:
    """Return the channel options: retry policy for idempotent calls, quick reconnects."""
    service_config = {
        "methodConfig": [
            {
                "name": [{"service": SERVICE_NAME, "method": m} for m in IDEMPOTENT_METHODS],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "0.2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
    del settings  # The policy is the same everywhere; the deadline is per call.
    return [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", json.dumps(service_config)),
        # gRPC's default reconnect backoff grows to 120 s, which would keep the
        # portal failing long after a restarted auth-service is back.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.min_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 2000),
        ("grpc.keepalive_time_ms", 30000),
        ("grpc.keepalive_timeout_ms", 5000),
    ]


class AuthServiceClient:
    """Calls the auth-service over one shared channel, behind a circuit breaker.

    Args:
        settings: Portal settings: address, deadline and breaker thresholds.
    """

    def __init__(self, settings: Settings) -> None:
        self._address = settings.auth_service_address
        self._timeout = settings.auth_service_timeout_seconds
        self._reset_seconds = settings.auth_service_breaker_reset_seconds
        self._channel = grpc.aio.insecure_channel(self._address, options=channel_options(settings))
        self._stub = auth_pb2_grpc.AuthServiceStub(self._channel)
        self.breaker = CircuitBreaker(
            fail_max=settings.auth_service_breaker_failures,
            timeout_duration=timedelta(seconds=self._reset_seconds),
            exclude=[AuthServiceError],
            listeners=[CircuitStateExporter(DEPENDENCY)],
            name=DEPENDENCY,
        )
        log.info(
            "auth-service client created address=%s timeout=%.2fs", self._address, self._timeout
        )

    async def close(self) -> None:
        """Close the channel; calls in flight fail with CANCELLED."""
        await self._channel.close()
        log.info("auth-service client closed address=%s", self._address)

    async def __aenter__(self) -> AuthServiceClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _retry_after(self) -> int:
        """Return the seconds until the breaker lets a trial call through, at least 1."""
        # aiobreaker's opens_at raises TypeError while the breaker has never opened.
        if self.breaker.current_state == CircuitBreakerState.CLOSED:
            return math.ceil(self._reset_seconds)
        opens_at = self.breaker.opens_at
        remaining = (opens_at - datetime.now()).total_seconds() if opens_at else self._reset_seconds
        return math.ceil(min(max(remaining, 1.0), self._reset_seconds))

    async def _invoke(self, method: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code in UNAVAILABLE_CODES:
                log.warning(
                    "auth-service call failed method=%s code=%s address=%s",
                    method,
                    code.name,
                    self._address,
                )
                raise DependencyUnavailableError(
                    DEPENDENCY, self._retry_after(), f"{method} failed with {code.name}"
                ) from exc
            if code == grpc.StatusCode.NOT_FOUND:
                raise KeyNotFoundError(exc.details() or "not found") from exc
            if code == grpc.StatusCode.ALREADY_EXISTS:
                raise UserExistsError(exc.details() or "already exists") from exc
            if code == grpc.StatusCode.UNAUTHENTICATED:
                raise InvalidCredentialsError(exc.details() or "invalid credentials") from exc
            raise RequestRejectedError(f"{code.name}: {exc.details()}") from exc

    async def _call(self, method: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await self.breaker.call_async(self._invoke, method, call)
        except CircuitBreakerError as exc:
            # Raised both while open and by the failure that opens it.
            raise DependencyUnavailableError(
                DEPENDENCY, self._retry_after(), f"{method} not sent: circuit breaker open"
            ) from exc

    async def create_key(
        self,
        *,
        tenant_id: str,
        name: str,
        environment: KeyEnvironment,
        scopes: Iterable[str],
        created_by: str,
    ) -> CreatedKey:
        """Create a key; the result carries its secret, which the auth-service never returns again.

        Raises:
            DependencyUnavailableError: The auth-service is down or the breaker is open.
            RequestRejectedError: The auth-service rejected a field.
        """
        request = auth_pb2.CreateKeyRequest(
            tenant_id=tenant_id,
            name=name,
            environment=_ENVIRONMENT_TO_PROTO[environment],
            scopes=list(scopes),
            created_by=created_by,
        )
        response = await self._call(
            "CreateKey", lambda: self._stub.CreateKey(request, timeout=self._timeout)
        )
        return CreatedKey(key=key_from_proto(response.key), secret=response.secret)

    async def list_keys(self, tenant_id: str) -> list[KeyRecord]:
        """List a tenant's keys, revoked ones included, oldest first."""
        request = auth_pb2.ListKeysRequest(tenant_id=tenant_id)
        response = await self._call(
            "ListKeys", lambda: self._stub.ListKeys(request, timeout=self._timeout)
        )
        return [key_from_proto(key) for key in response.keys]

    async def get_key(self, tenant_id: str, key_id: str) -> KeyRecord:
        """Read one key of a tenant.

        Raises:
            KeyNotFoundError: The tenant has no key with this id.
        """
        request = auth_pb2.GetKeyRequest(tenant_id=tenant_id, key_id=key_id)
        response = await self._call(
            "GetKey", lambda: self._stub.GetKey(request, timeout=self._timeout)
        )
        return key_from_proto(response)

    async def revoke_key(self, tenant_id: str, key_id: str, requested_by: str) -> KeyRecord:
        """Revoke a key; revoking a revoked key succeeds and returns it unchanged.

        Raises:
            KeyNotFoundError: The tenant has no key with this id.
        """
        request = auth_pb2.RevokeKeyRequest(
            tenant_id=tenant_id, key_id=key_id, requested_by=requested_by
        )
        response = await self._call(
            "RevokeKey", lambda: self._stub.RevokeKey(request, timeout=self._timeout)
        )
        return key_from_proto(response)

    async def verify_key(self, secret: str) -> VerifiedKey | None:
        """Return the active key `secret` belongs to, or None for an unknown or revoked one."""
        request = auth_pb2.VerifyKeyRequest(secret=secret)
        response = await self._call(
            "VerifyKey", lambda: self._stub.VerifyKey(request, timeout=self._timeout)
        )
        if not response.found:
            return None
        return VerifiedKey(
            key_id=response.key_id,
            tenant_id=response.tenant_id,
            environment=_ENVIRONMENT_FROM_PROTO[response.environment],
            scopes=tuple(response.scopes),
        )

    async def create_user(
        self,
        *,
        tenant_id: str,
        email: str,
        password: str,
        roles: Iterable[str],
        totp_secret: str = "",
    ) -> CreatedUser:
        """Create a portal user with TOTP enrolled; generate the TOTP secret when empty.

        Raises:
            UserExistsError: The email is taken.
            RequestRejectedError: A field is invalid, such as a short password.
        """
        request = auth_pb2.CreateUserRequest(
            tenant_id=tenant_id,
            email=email,
            password=password,
            roles=sorted(roles),
            totp_secret=totp_secret,
        )
        response = await self._call(
            "CreateUser", lambda: self._stub.CreateUser(request, timeout=self._timeout)
        )
        return CreatedUser(
            user=user_from_proto(response.user),
            totp_secret=response.totp_secret,
            totp_provisioning_uri=response.totp_provisioning_uri,
        )

    async def authenticate_user(self, email: str, password: str) -> UserRecord:
        """Check an email and password.

        Raises:
            InvalidCredentialsError: Either is wrong.
        """
        request = auth_pb2.AuthenticateUserRequest(email=email, password=password)
        response = await self._call(
            "AuthenticateUser", lambda: self._stub.AuthenticateUser(request, timeout=self._timeout)
        )
        return user_from_proto(response)

    async def verify_totp(self, user_id: str, code: str) -> bool:
        """Return True when `code` is the user's current TOTP code and was not used before."""
        request = auth_pb2.VerifyTotpRequest(user_id=user_id, code=code)
        response = await self._call(
            "VerifyTotp", lambda: self._stub.VerifyTotp(request, timeout=self._timeout)
        )
        return response.valid
