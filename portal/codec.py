"""Temporal payload codec: AES-256-GCM under data keys from AWS KMS (envelope encryption).

Every payload that leaves a portal process (workflow and activity inputs and
results, signals, memos, failure messages and stack traces) is serialized,
encrypted with the process's current data key and replaced by a payload with
`encoding: binary/encrypted`. Its metadata carries the data key's id and the
data key wrapped (encrypted) by the portal's KMS key. Any process with
`kms:Decrypt` on that key can therefore read any history, however old, and
rotating to a new data key never strands payloads written under an earlier one.

KMS is called only to create a data key (at the first encode, then after
`payload_data_key_max_age_seconds` or `payload_data_key_max_uses`) and to
unwrap a data key this process has not seen yet. Unwrapped keys stay cached
in memory. Search attributes are never encoded by Temporal, which is why
they must not carry personal data.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import boto3
from aiobreaker import CircuitBreaker, CircuitBreakerError
from aiobreaker.state import CircuitBreakerState
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from prometheus_client import Counter
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from portal.errors import DependencyUnavailableError
from portal.metrics import CircuitStateExporter
from portal.settings import Settings

log = logging.getLogger(__name__)

ENCODING = b"binary/encrypted"
CIPHER = b"AES-256-GCM"
METADATA_ENCODING = "encoding"
METADATA_CIPHER = "encryption-cipher"
METADATA_KEY_ID = "encryption-key-id"
METADATA_WRAPPED_KEY = "encryption-wrapped-key"

NONCE_BYTES = 12
# Bound to every data key by KMS: IAM policies can require it, and a data key
# wrapped for another purpose does not unwrap here.
ENCRYPTION_CONTEXT = {"service": "devportal", "purpose": "temporal-payloads"}
# Unwrapped data keys kept in memory; one per rotation, so this covers years.
MAX_CACHED_KEYS = 1024
KMS_DEPENDENCY = "kms"
# KMS Decrypt errors that mean the wrapped data key is not one of ours.
UNWRAP_REJECTED_CODES = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})
# KMS errors that a later retry can cure; any other error is a configuration fault.
RETRYABLE_KMS_CODES = frozenset(
    {
        "DependencyTimeoutException",
        "KMSInternalException",
        "ThrottlingException",
        "LimitExceededException",
        "KeyUnavailableException",
        "RequestLimitExceeded",
    }
)

CODEC_PAYLOADS = Counter(
    "portal_ops_codec_payloads_total",
    "Payloads passed through the payload codec, by operation (encode, decode) and outcome "
    "(encrypted, decrypted, plaintext, error).",
    ["operation", "outcome"],
)
KMS_REQUESTS = Counter(
    "portal_ops_codec_kms_requests_total",
    "KMS calls of the payload codec, by operation and outcome (ok, error).",
    ["operation", "outcome"],
)
DATA_KEY_ROTATIONS = Counter(
    "portal_ops_codec_data_key_rotations_total",
    "Data keys created by this process for encrypting payloads.",
)


class PayloadDecryptionError(ValueError):
    """An encrypted payload cannot be decrypted: tampered with, truncated or foreign."""


class KmsKeyError(RuntimeError):
    """KMS rejected the portal's request for a reason no retry cures (permissions, key state)."""


def _not_an_outage(error: Exception) -> bool:
    # Only throttling and unreachable KMS open the breaker; a missing key or a
    # denied permission would fail the same way on every retry.
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") not in RETRYABLE_KMS_CODES
    return not isinstance(error, BotoCoreError)


@dataclass
class DataKey:
    """An unwrapped data key, its id and the wrapped copy stored beside each payload."""

    key_id: str
    wrapped: bytes
    aead: AESGCM
    created: float
    uses: int = 0


def data_key_id(wrapped: bytes) -> str:
    """Return the id of a data key: the first 16 bytes of SHA-256 over its wrapped form, as hex."""
    return hashlib.sha256(wrapped).hexdigest()[:32]


class KmsKeyring:
    """Creates, unwraps and caches the data keys of the payload codec.

    Args:
        settings: Portal settings; `aws_endpoint_url`, `aws_region` and the
            `payload_*` fields are read.
        client: A boto3 KMS client to use instead of one built from `settings`.
    """

    def __init__(self, settings: Settings, client: object | None = None) -> None:
        self._alias = settings.payload_kms_key_alias
        self._max_age = float(settings.payload_data_key_max_age_seconds)
        self._max_uses = settings.payload_data_key_max_uses
        # Only a local KMS stand-in (moto) gets the key created on demand; on real
        # AWS the key and its policy belong to the infrastructure code.
        self._create_missing_key = settings.aws_endpoint_url is not None
        self._client = client or boto3.client(
            "kms",
            endpoint_url=settings.aws_endpoint_url,
            region_name=settings.aws_region,
            config=Config(
                connect_timeout=settings.payload_kms_timeout_seconds,
                read_timeout=settings.payload_kms_timeout_seconds,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )
        self._breaker_reset = settings.payload_kms_breaker_reset_seconds
        self._breaker = CircuitBreaker(
            fail_max=settings.payload_kms_breaker_failures,
            timeout_duration=timedelta(seconds=self._breaker_reset),
            exclude=[_not_an_outage],
            listeners=[CircuitStateExporter(KMS_DEPENDENCY)],
            name=KMS_DEPENDENCY,
        )
        self._lock = threading.Lock()
        self._current: DataKey | None = None
        self._cache: OrderedDict[str, DataKey] = OrderedDict()
        self._kms_key_id: str | None = None

    @property
    def alias(self) -> str:
        """KMS alias of the key that wraps every data key."""
        return self._alias

    @property
    def circuit_open(self) -> bool:
        """True while the KMS circuit breaker refuses calls."""
        return self._breaker.current_state == CircuitBreakerState.OPEN

    def rotate(self) -> None:
        """Drop the current data key, so the next encode creates a new one."""
        with self._lock:
            self._current = None

    def forget_cached_keys(self) -> None:
        """Drop every unwrapped data key, as a restarted process would have none."""
        with self._lock:
            self._current = None
            self._cache.clear()

    def cached_current_key(self) -> DataKey | None:
        """Return the current data key without blocking, or None when KMS must be asked."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            key = self._current
            if key is None or self._expired(key):
                return None
            key.uses += 1
            return key
        finally:
            self._lock.release()

    def cached_key(self, key_id: str) -> DataKey | None:
        """Return the unwrapped data key `key_id` without blocking, or None when not at hand."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            key = self._cache.get(key_id)
            if key is not None:
                self._cache.move_to_end(key_id)
            return key
        finally:
            self._lock.release()

    def current_key(self) -> DataKey:
        """Return the data key to encrypt with, creating one through KMS when due.

        Blocks until KMS responds, so async callers run it in a thread.

        Raises:
            DependencyUnavailableError: KMS cannot be reached or is throttling.
            KmsKeyError: KMS rejected the request for good (missing key, no permission).
        """
        with self._lock:
            key = self._current
            if key is None or self._expired(key):
                key = self._generate_data_key()
                self._current = key
                self._remember(key)
            key.uses += 1
            return key

    def key_for(self, key_id: str, wrapped: bytes) -> DataKey:
        """Return the data key `key_id`, unwrapping `wrapped` through KMS when not cached.

        Blocks until KMS responds, so async callers run it in a thread.

        Raises:
            PayloadDecryptionError: `wrapped` does not match `key_id`, or KMS
                cannot unwrap it (another key, another encryption context).
            DependencyUnavailableError: KMS cannot be reached or is throttling.
        """
        with self._lock:
            cached = self._cache.get(key_id)
            if cached is not None:
                self._cache.move_to_end(key_id)
                return cached
            if data_key_id(wrapped) != key_id:
                raise PayloadDecryptionError(
                    f"wrapped data key does not match key id {key_id}; the payload was altered"
                )
            plaintext = self._call_kms(
                "decrypt",
                CiphertextBlob=wrapped,
                EncryptionContext=ENCRYPTION_CONTEXT,
            )["Plaintext"]
            key = DataKey(key_id, wrapped, AESGCM(plaintext), time.monotonic())
            self._remember(key)
            log.info("unwrapped data key key_id=%s", key_id)
            return key

    def _expired(self, key: DataKey) -> bool:
        return key.uses >= self._max_uses or time.monotonic() - key.created >= self._max_age

    def _remember(self, key: DataKey) -> None:
        self._cache[key.key_id] = key
        self._cache.move_to_end(key.key_id)
        while len(self._cache) > MAX_CACHED_KEYS:
            self._cache.popitem(last=False)

    def _generate_data_key(self) -> DataKey:
        kms_key_id = self._resolve_kms_key()
        response = self._call_kms(
            "generate_data_key",
            KeyId=kms_key_id,
            KeySpec="AES_256",
            EncryptionContext=ENCRYPTION_CONTEXT,
        )
        wrapped = response["CiphertextBlob"]
        aead = AESGCM(response["Plaintext"])
        key = DataKey(data_key_id(wrapped), wrapped, aead, time.monotonic())
        DATA_KEY_ROTATIONS.inc()
        log.info("created data key key_id=%s kms_key=%s", key.key_id, self._alias)
        return key

    def _resolve_kms_key(self) -> str:
        if self._kms_key_id is not None:
            return self._kms_key_id
        expected = frozenset({"NotFoundException"}) if self._create_missing_key else frozenset()
        try:
            metadata = self._call_kms("describe_key", expected, KeyId=self._alias)["KeyMetadata"]
        except KmsKeyError as exc:
            if not (self._create_missing_key and "NotFoundException" in str(exc)):
                raise
            log.info("KMS alias missing alias=%s; creating a key for it locally", self._alias)
            metadata = self._create_kms_key()
        self._kms_key_id = metadata["Arn"]
        return self._kms_key_id

    def _create_kms_key(self) -> dict:
        created = self._call_kms(
            "create_key",
            Description="devportal: wraps the data keys of Temporal payloads",
            KeyUsage="ENCRYPT_DECRYPT",
        )["KeyMetadata"]
        try:
            self._call_kms("create_alias", AliasName=self._alias, TargetKeyId=created["KeyId"])
        except KmsKeyError as exc:
            # Another process created the alias first: use its key, drop ours.
            if "AlreadyExistsException" not in str(exc):
                raise
            log.info("KMS alias created concurrently alias=%s; using it", self._alias)
            self._call_kms("schedule_key_deletion", KeyId=created["KeyId"], PendingWindowInDays=7)
            return self._call_kms("describe_key", KeyId=self._alias)["KeyMetadata"]
        log.info("created KMS key alias=%s key=%s", self._alias, created["KeyId"])
        return created

    def _call_kms(
        self, operation: str, expected: frozenset[str] = frozenset(), **kwargs: object
    ) -> dict:
        """Call KMS; error codes in `expected` are neither counted as errors nor logged."""
        try:
            response = self._breaker.call(getattr(self._client, operation), **kwargs)
        except CircuitBreakerError as exc:
            # Raised instead of the error that opened the breaker, and while it stays open.
            KMS_REQUESTS.labels(operation, "error").inc()
            log.warning("KMS call rejected operation=%s: circuit breaker open", operation)
            retry_after = max(1, round(self._breaker_reset))
            raise DependencyUnavailableError(
                KMS_DEPENDENCY, retry_after, f"{operation}: circuit breaker open"
            ) from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            message = exc.response.get("Error", {}).get("Message", "")
            if code not in expected:
                KMS_REQUESTS.labels(operation, "error").inc()
                log.warning("KMS call failed operation=%s code=%s", operation, code)
            if code in RETRYABLE_KMS_CODES:
                raise DependencyUnavailableError(KMS_DEPENDENCY, 5, f"{operation}: {code}") from exc
            if operation == "decrypt" and code in UNWRAP_REJECTED_CODES:
                raise PayloadDecryptionError(
                    f"KMS cannot unwrap the payload's data key ({code}); it was wrapped by "
                    "another key or for another purpose"
                ) from exc
            raise KmsKeyError(f"KMS {operation} failed: {code}: {message}") from exc
        except BotoCoreError as exc:
            KMS_REQUESTS.labels(operation, "error").inc()
            log.warning("KMS unreachable operation=%s error=%s", operation, type(exc).__name__)
            raise DependencyUnavailableError(KMS_DEPENDENCY, 5, f"{operation}: {exc}") from exc
        KMS_REQUESTS.labels(operation, "ok").inc()
        return response


class EncryptionCodec(PayloadCodec):
    """Encrypts every payload with AES-256-GCM under a KMS data key.

    Decoding passes payloads without `encoding: binary/encrypted` through
    unchanged, so histories written before encryption was enabled, and
    replay fixtures stored decoded, still read.

    Args:
        keyring: Source of data keys.
    """

    def __init__(self, keyring: KmsKeyring) -> None:
        self.keyring = keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload, metadata included, into a `binary/encrypted` payload."""
        if not payloads:
            return []
        # boto3 blocks, so a KMS call runs off the event loop; a cached key does not need one.
        key = self.keyring.cached_current_key() or await asyncio.to_thread(self.keyring.current_key)
        encoded = [self._encrypt(key, payload) for payload in payloads]
        CODEC_PAYLOADS.labels("encode", "encrypted").inc(len(encoded))
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt each `binary/encrypted` payload; pass any other payload through."""
        decoded: list[Payload] = []
        for payload in payloads:
            if payload.metadata.get(METADATA_ENCODING) != ENCODING:
                CODEC_PAYLOADS.labels("decode", "plaintext").inc()
                decoded.append(payload)
                continue
            try:
                decoded.append(await self._decrypt(payload))
            except (PayloadDecryptionError, DependencyUnavailableError, KmsKeyError):
                CODEC_PAYLOADS.labels("decode", "error").inc()
                raise
            CODEC_PAYLOADS.labels("decode", "decrypted").inc()
        return decoded

    def _encrypt(self, key: DataKey, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = key.aead.encrypt(nonce, payload.SerializeToString(), key.key_id.encode())
        return Payload(
            metadata={
                METADATA_ENCODING: ENCODING,
                METADATA_CIPHER: CIPHER,
                METADATA_KEY_ID: key.key_id.encode(),
                METADATA_WRAPPED_KEY: key.wrapped,
            },
            data=nonce + ciphertext,
        )

    async def _decrypt(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(METADATA_KEY_ID, b"").decode()
        wrapped = payload.metadata.get(METADATA_WRAPPED_KEY, b"")
        if not key_id or not wrapped:
            raise PayloadDecryptionError(
                f"encrypted payload lacks {METADATA_KEY_ID} or {METADATA_WRAPPED_KEY} metadata"
            )
        if len(payload.data) <= NONCE_BYTES:
            raise PayloadDecryptionError(f"encrypted payload under key {key_id} is truncated")
        key = self.keyring.cached_key(key_id) or await asyncio.to_thread(
            self.keyring.key_for, key_id, wrapped
        )
        nonce, ciphertext = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plaintext = key.aead.decrypt(nonce, ciphertext, key_id.encode())
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload under key {key_id} failed authentication; it was altered"
            ) from None
        return Payload.FromString(plaintext)


class DecodeOnlyCodec(PayloadCodec):
    """Decodes through `inner` and leaves payloads as they are on encode.

    For replay: a replayer sends nothing to Temporal, so encrypting the
    commands it builds would only cost KMS calls (and fail where there is no
    KMS, as in CI replaying committed fixtures).

    Args:
        inner: The codec that decodes.
    """

    def __init__(self, inner: PayloadCodec) -> None:
        self.inner = inner

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Return `payloads` unchanged."""
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decode through the inner codec."""
        return await self.inner.decode(payloads)


def build_codec(settings: Settings) -> EncryptionCodec:
    """Return the portal's payload codec for `settings`; no KMS call happens until first use."""
    return EncryptionCodec(KmsKeyring(settings))
