"""Versioned data keys of Verify: the code pepper and the phone-number key.

Redis stores each version's wrapped (KMS-encrypted) key; the plaintext
lives only in process memory, unwrapped through KMS on first use. Rotating
installs a new version and marks the previous one retired after the
retention, which is at least a session's lifetime, so every code sent under
an older pepper still verifies until its session expires.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis.asyncio import Redis

from portal.verify.kms import VerifyKms

log = logging.getLogger(__name__)

PEPPER = "pepper"
NUMBER_KEY = "number"
KEY_PREFIX = "portal:verify:keys"

# KEYS[1]: the ring's meta hash. ARGV: wrapped key (base64), now (s),
# retention (s), "1" to install only into an empty ring, version key prefix.
_INSTALL = """
local current = tonumber(redis.call('HGET', KEYS[1], 'current') or '0')
if ARGV[4] == '1' and current > 0 then
  return {current, 0}
end
local version = redis.call('HINCRBY', KEYS[1], 'last', 1)
redis.call('HSET', ARGV[5] .. version, 'wrapped', ARGV[1], 'created_at', ARGV[2])
if current > 0 then
  redis.call('HSET', ARGV[5] .. current, 'retire_at', tonumber(ARGV[2]) + tonumber(ARGV[3]))
end
redis.call('HSET', KEYS[1], 'current', version, 'created_at', ARGV[2])
return {version, 1}
"""


class KeyVersionMissing(Exception):
    """A data key version is not in Redis: it was pruned after its retention, or never existed."""


class DataKeyRing:
    """One versioned data key (the pepper or the phone-number key).

    Args:
        redis: Redis client.
        kms: KMS client that creates and unwraps the data keys.
        purpose: `pepper` or `number`; part of the Redis keys and of the KMS
            encryption context.
        retention_seconds: How long a replaced version stays usable.
    """

    def __init__(self, redis: Redis, kms: VerifyKms, purpose: str, retention_seconds: int) -> None:
        self._redis = redis
        self._kms = kms
        self.purpose = purpose
        self.retention_seconds = retention_seconds
        # The hash tag keeps the meta hash and every version in one cluster slot.
        self._meta_key = f"{KEY_PREFIX}:{{{purpose}}}"
        self._version_prefix = f"{KEY_PREFIX}:{{{purpose}}}:v"
        self._plaintext: dict[int, bytes] = {}
        self._unwrapping: dict[int, asyncio.Future[bytes]] = {}
        self._current: tuple[int, float] | None = None
        self._install = redis.register_script(_INSTALL)

    async def current_version(self) -> int:
        """Return the version new material is protected with, creating version 1 if none.

        Raises:
            DependencyUnavailableError: KMS is down while the first version is created.
        """
        raw = await self._redis.hget(self._meta_key, "current")
        if raw is not None:
            return int(raw)
        wrapped = await self._kms.generate_data_key(self.purpose)
        return await self.install(wrapped, only_if_empty=True)

    async def current(self, max_age: float = 0) -> tuple[int, bytes]:
        """Return the current version and its plaintext key.

        Args:
            max_age: Seconds a version read earlier may be reused without asking
                Redis again. Safe for keys whose older versions stay usable after
                a rotation; 0 always reads Redis.
        """
        now = time.monotonic()
        if self._current is not None and now - self._current[1] < max_age:
            version = self._current[0]
        else:
            version = await self.current_version()
            self._current = (version, now)
        return version, await self.key(version)

    async def key(self, version: int) -> bytes:
        """Return the plaintext key of `version`, unwrapping it through KMS on first use.

        Raises:
            KeyVersionMissing: the version was pruned or never existed.
        """
        cached = self._plaintext.get(version)
        if cached is not None:
            return cached
        # One unwrap per version: the requests that find the cache cold share
        # the first one's KMS call, and its result or its error.
        task = self._unwrapping.get(version)
        if task is None:
            task = asyncio.ensure_future(self._unwrap(version))
            self._unwrapping[version] = task
            task.add_done_callback(lambda done: self._unwrap_done(version, done))
        # A caller that gives up must not cancel the call the others wait on.
        return await asyncio.shield(task)

    async def _unwrap(self, version: int) -> bytes:
        wrapped = await self._redis.hget(self._version_key(version), "wrapped")
        if wrapped is None:
            raise KeyVersionMissing(f"{self.purpose} key version {version} is not in Redis")
        plaintext = await self._kms.unwrap(base64.b64decode(wrapped), self.purpose)
        self._plaintext[version] = plaintext
        log.info("unwrapped data key purpose=%s version=%d", self.purpose, version)
        return plaintext

    def _unwrap_done(self, version: int, task: asyncio.Future[bytes]) -> None:
        self._unwrapping.pop(version, None)
        # Mark a failure as seen even when every waiter gave up; the next call retries.
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.warning(
                "data key unwrap failed purpose=%s version=%d error=%r",
                self.purpose,
                version,
                error,
            )

    async def install(self, wrapped: bytes, *, only_if_empty: bool = False) -> int:
        """Make `wrapped` the current version and start the previous version's retention.

        Args:
            wrapped: The KMS-wrapped data key.
            only_if_empty: Install only when the ring has no version yet, so
                processes starting together agree on version 1.

        Returns:
            The current version after the call.
        """
        version, installed = await self._install(
            keys=[self._meta_key],
            args=[
                base64.b64encode(wrapped).decode(),
                f"{time.time():.3f}",
                self.retention_seconds,
                "1" if only_if_empty else "0",
                self._version_prefix,
            ],
        )
        if installed:
            log.info("installed data key purpose=%s version=%d", self.purpose, version)
        return int(version)

    async def prune(self, now: float | None = None) -> list[int]:
        """Delete the versions whose retention has passed; return their numbers."""
        now = time.time() if now is None else now
        meta = await self._redis.hgetall(self._meta_key)
        current = int(meta.get(b"current", 0))
        pruned = []
        for version in range(1, current):
            retire_at = await self._redis.hget(self._version_key(version), "retire_at")
            if retire_at is not None and float(retire_at) <= now:
                await self._redis.delete(self._version_key(version))
                self._plaintext.pop(version, None)
                pruned.append(version)
        if pruned:
            log.info("pruned data keys purpose=%s versions=%s", self.purpose, pruned)
        return pruned

    async def current_age_seconds(self, now: float | None = None) -> float | None:
        """Return the seconds since the current version was installed, or None without one."""
        created_at = await self._redis.hget(self._meta_key, "created_at")
        if created_at is None:
            return None
        return (time.time() if now is None else now) - float(created_at)

    def _version_key(self, version: int) -> str:
        return f"{self._version_prefix}{version}"


def code_digest(pepper: bytes, session_id: str, code: str) -> bytes:
    """Return HMAC-SHA256 of a code under the pepper, bound to its session.

    Binding the session id means one digest never matches another session's
    code, and without the pepper (which never leaves process memory) the
    digests cannot be searched for the small space of codes.
    """
    return hmac.new(pepper, f"{session_id}:{code}".encode(), hashlib.sha256).digest()


def recipient_id(number_key: bytes, e164: str) -> str:
    """Return the pseudonymous id of a recipient that caps key on: HMAC-SHA256 of the E.164 form."""
    digest = hmac.new(number_key, f"recipient:{e164}".encode(), hashlib.sha256).hexdigest()
    return digest[:32]


def encrypt_number(number_key: bytes, version: int, session_id: str, e164: str) -> str:
    """Encrypt a phone number with AES-256-GCM, bound to its session; return `version:base64`."""
    nonce = os.urandom(12)
    sealed = AESGCM(number_key).encrypt(nonce, e164.encode(), session_id.encode())
    return f"{version}:{base64.b64encode(nonce + sealed).decode()}"


def split_version(stored: str) -> tuple[int, str]:
    """Split a stored `version:value` into its key version and value."""
    version, _, value = stored.partition(":")
    return int(version), value


def decrypt_number(number_key: bytes, session_id: str, value: str) -> str:
    """Decrypt the value part of `encrypt_number`'s output.

    Raises:
        cryptography.exceptions.InvalidTag: the value was altered or belongs
            to another session.
    """
    raw = base64.b64decode(value)
    return AESGCM(number_key).decrypt(raw[:12], raw[12:], session_id.encode()).decode()
