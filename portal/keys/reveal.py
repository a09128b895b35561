"""The one-time reveal copy of a new secret: envelope-encrypted with a KMS data key in Redis.

Creating a key seals its secret with AES-256-GCM under a fresh KMS data key
and stores only the ciphertext and the KMS-encrypted data key, with a TTL.
Revealing takes the record with GETDEL, so of any number of concurrent
reveals exactly one gets it. If KMS fails after GETDEL, the record is put
back for the time it had left, so a KMS outage does not destroy the copy.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis.asyncio import Redis
from redis.exceptions import RedisError

from portal.errors import DependencyUnavailableError
from portal.settings import Settings

log = logging.getLogger(__name__)

_RECORD = "portal:keys:reveal:{tenant_id}:{key_id}"
_PURPOSE = "api-key-reveal"
_RECORD_VERSION = 1


@dataclass(frozen=True)
class DataKey:
    """A KMS data key: the plaintext for one encryption and its KMS-encrypted copy."""

    plaintext: bytes = field(repr=False)
    encrypted: bytes = field(repr=False)


def _encryption_context(tenant_id: str) -> dict[str, str]:
    return {"purpose": _PURPOSE, "tenant_id": tenant_id}


def _aad(tenant_id: str, key_id: str) -> bytes:
    # Binds the ciphertext to its key id, so a record copied under another id fails to open.
    return f"{tenant_id}/{key_id}".encode()


def _redis_unavailable(exc: Exception) -> DependencyUnavailableError:
    return DependencyUnavailableError("redis", 5, f"reveal copy: {type(exc).__name__}")


def _kms_unavailable(exc: Exception) -> DependencyUnavailableError:
    return DependencyUnavailableError("kms", 5, f"KMS call failed: {type(exc).__name__}")


class RevealVault:
    """Seals and reveals the one-time copies of new secrets.

    Args:
        settings: Portal settings: AWS endpoint and region, KMS alias, TTL.
        redis: Redis client for the sealed records.
    """

    def __init__(self, settings: Settings, redis: Redis) -> None:
        self._redis = redis
        self._alias = settings.keys_kms_key_alias
        self._ttl = settings.key_reveal_ttl_seconds
        # Local and test stacks run moto, where the key must be created first.
        self._create_missing_key = settings.environment in ("local", "test")
        self._key_ready = False
        self._kms = boto3.client(
            "kms",
            endpoint_url=settings.aws_endpoint_url,
            region_name=settings.aws_region,
            config=Config(
                connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"}
            ),
        )

    @property
    def ttl_seconds(self) -> int:
        """Seconds a sealed copy waits to be revealed."""
        return self._ttl

    def _ensure_key(self) -> None:
        if self._key_ready:
            return
        try:
            self._kms.describe_key(KeyId=self._alias)
        except self._kms.exceptions.NotFoundException:
            if not self._create_missing_key:
                raise
            key_id = self._kms.create_key(
                Description="devportal: one-time copies of new API key secrets",
                KeyUsage="ENCRYPT_DECRYPT",
            )["KeyMetadata"]["KeyId"]
            self._kms.create_alias(AliasName=self._alias, TargetKeyId=key_id)
            log.info("created KMS key alias=%s for the local stack", self._alias)
        self._key_ready = True

    def _generate_data_key(self, tenant_id: str) -> DataKey:
        self._ensure_key()
        response = self._kms.generate_data_key(
            KeyId=self._alias,
            KeySpec="AES_256",
            EncryptionContext=_encryption_context(tenant_id),
        )
        return DataKey(plaintext=response["Plaintext"], encrypted=response["CiphertextBlob"])

    def _decrypt_data_key(self, tenant_id: str, encrypted: bytes) -> bytes:
        response = self._kms.decrypt(
            CiphertextBlob=encrypted, EncryptionContext=_encryption_context(tenant_id)
        )
        return response["Plaintext"]

    async def new_data_key(self, tenant_id: str) -> DataKey:
        """Ask KMS for a data key before the secret exists, so a KMS outage creates no key.

        Raises:
            DependencyUnavailableError: KMS is down.
        """
        try:
            return await asyncio.to_thread(self._generate_data_key, tenant_id)
        except (BotoCoreError, ClientError) as exc:
            raise _kms_unavailable(exc) from exc

    async def seal(
        self, data_key: DataKey, *, tenant_id: str, key_id: str, secret: str
    ) -> datetime:
        """Store the encrypted copy of `secret` until revealed or expired; return the expiry.

        Raises:
            DependencyUnavailableError: Redis is down.
        """
        nonce = os.urandom(12)
        ciphertext = AESGCM(data_key.plaintext).encrypt(
            nonce, secret.encode(), _aad(tenant_id, key_id)
        )
        expires_at = datetime.now(UTC) + timedelta(seconds=self._ttl)
        record = {
            "v": _RECORD_VERSION,
            "data_key": base64.b64encode(data_key.encrypted).decode(),
            "nonce": base64.b64encode(nonce).decode(),
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "expires_at": expires_at.isoformat(),
        }
        try:
            await self._redis.set(
                _RECORD.format(tenant_id=tenant_id, key_id=key_id), json.dumps(record), ex=self._ttl
            )
        except (RedisError, OSError) as exc:
            raise _redis_unavailable(exc) from exc
        return expires_at

    async def reveal(self, *, tenant_id: str, key_id: str) -> str | None:
        """Take the copy and decrypt it; None when it was revealed already or expired.

        Raises:
            DependencyUnavailableError: Redis or KMS is down; the copy is kept.
        """
        name = _RECORD.format(tenant_id=tenant_id, key_id=key_id)
        try:
            raw = await self._redis.getdel(name)
        except (RedisError, OSError) as exc:
            raise _redis_unavailable(exc) from exc
        if raw is None:
            return None
        record = json.loads(raw)
        try:
            plaintext_key = await asyncio.to_thread(
                self._decrypt_data_key, tenant_id, base64.b64decode(record["data_key"])
            )
        except (BotoCoreError, ClientError) as exc:
            await self._put_back(name, raw, datetime.fromisoformat(record["expires_at"]))
            raise _kms_unavailable(exc) from exc
        secret = AESGCM(plaintext_key).decrypt(
            base64.b64decode(record["nonce"]),
            base64.b64decode(record["ciphertext"]),
            _aad(tenant_id, key_id),
        )
        return secret.decode()

    async def _put_back(self, name: str, raw: bytes, expires_at: datetime) -> None:
        remaining_ms = int((expires_at - datetime.now(UTC)).total_seconds() * 1000)
        if remaining_ms <= 0:
            return
        try:
            await self._redis.set(name, raw, px=remaining_ms, nx=True)
        except (RedisError, OSError) as exc:
            log.error("could not restore reveal copy after a KMS failure error=%r", exc)
            return
        log.warning("restored reveal copy after a KMS failure ttl_ms=%d", remaining_ms)

    async def discard(self, *, tenant_id: str, key_id: str) -> None:
        """Delete an unrevealed copy, as when its key is revoked.

        Raises:
            DependencyUnavailableError: Redis is down.
        """
        try:
            await self._redis.delete(_RECORD.format(tenant_id=tenant_id, key_id=key_id))
        except (RedisError, OSError) as exc:
            raise _redis_unavailable(exc) from exc
