"""KMS calls of Verify: data keys for the code pepper and the phone-number key.

KMS returns each data key twice: in plaintext and encrypted ("wrapped")
under the portal's KMS key. Verify stores only the wrapped copy and unwraps
it into process memory when it needs it, so a copy of Redis alone yields
neither the pepper nor the phone numbers.
"""

from __future__ import annotations

import asyncio
import logging

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from portal.errors import DependencyUnavailableError
from portal.settings import Settings

log = logging.getLogger(__name__)

KMS_DEPENDENCY = "kms"
KMS_TIMEOUT_SECONDS = 2.0
# Errors a later retry can cure; any other ClientError is a configuration fault.
RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "KMSInternalException", "DependencyTimeoutException"}
)


class KmsConfigurationError(Exception):
    """KMS rejected the request for a reason no retry cures (missing key, no permission)."""


class VerifyKms:
    """Creates and unwraps the data keys of Verify through AWS KMS (moto locally).

    Args:
        settings: Portal settings; `verify_kms_key_alias`, `aws_endpoint_url`
            and `aws_region` are read.
        client: A boto3 KMS client to use instead of one built from `settings`.
    """

    def __init__(self, settings: Settings, client: object | None = None) -> None:
        self.alias = settings.verify_kms_key_alias
        # Only a local KMS stand-in (moto) gets the key created on demand; on real
        # AWS the key and its policy belong to the infrastructure code.
        self._create_missing_key = settings.aws_endpoint_url is not None
        self._client = client or boto3.client(
            "kms",
            endpoint_url=settings.aws_endpoint_url,
            region_name=settings.aws_region,
            config=Config(
                connect_timeout=KMS_TIMEOUT_SECONDS,
                read_timeout=KMS_TIMEOUT_SECONDS,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )
        self._key_ready = False

    async def generate_data_key(self, purpose: str) -> bytes:
        """Create an AES-256 data key for `purpose` and return only its wrapped form.

        Raises:
            DependencyUnavailableError: KMS cannot be reached or is throttling.
            KmsConfigurationError: KMS rejected the request for good.
        """
        return await asyncio.to_thread(self._generate_data_key, purpose)

    async def unwrap(self, wrapped: bytes, purpose: str) -> bytes:
        """Return the plaintext of a data key created for `purpose`.

        Raises:
            DependencyUnavailableError: KMS cannot be reached or is throttling.
            KmsConfigurationError: the wrapped key is not one of ours, or was
                created for another purpose.
        """
        response = await asyncio.to_thread(
            self._call, "decrypt", CiphertextBlob=wrapped, EncryptionContext=_context(purpose)
        )
        return response["Plaintext"]

    def _generate_data_key(self, purpose: str) -> bytes:
        self._ensure_key()
        response = self._call(
            "generate_data_key",
            KeyId=self.alias,
            KeySpec="AES_256",
            EncryptionContext=_context(purpose),
        )
        log.info("created data key purpose=%s kms_key=%s", purpose, self.alias)
        return response["CiphertextBlob"]

    def _ensure_key(self) -> None:
        if self._key_ready:
            return
        try:
            self._call("describe_key", KeyId=self.alias)
        except KmsConfigurationError as exc:
            if not (self._create_missing_key and "NotFoundException" in str(exc)):
                raise
            self._create_key()
        self._key_ready = True

    def _create_key(self) -> None:
        created = self._call(
            "create_key",
            Description="devportal Verify: wraps the code pepper and the phone-number key",
            KeyUsage="ENCRYPT_DECRYPT",
        )["KeyMetadata"]
        try:
            self._call("create_alias", AliasName=self.alias, TargetKeyId=created["KeyId"])
        except KmsConfigurationError as exc:
            if "AlreadyExistsException" not in str(exc):
                raise
            # Another process created the alias first; its key serves both.
            log.info("KMS alias created concurrently alias=%s; using it", self.alias)
            return
        log.info("created KMS key alias=%s key=%s", self.alias, created["KeyId"])

    def _call(self, operation: str, **kwargs: object) -> dict:
        try:
            return getattr(self._client, operation)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            if code in RETRYABLE_CODES:
                log.warning("KMS call failed operation=%s code=%s", operation, code)
                raise DependencyUnavailableError(KMS_DEPENDENCY, 5, f"{operation}: {code}") from exc
            raise KmsConfigurationError(f"KMS {operation} failed: {code}") from exc
        except BotoCoreError as exc:
            log.warning("KMS unreachable operation=%s error=%s", operation, type(exc).__name__)
            raise DependencyUnavailableError(
                KMS_DEPENDENCY, 5, f"{operation}: {type(exc).__name__}"
            ) from exc


def _context(purpose: str) -> dict[str, str]:
    # KMS binds the encryption context to the wrapped key: a pepper cannot be
    # unwrapped as a number key, and IAM policies can require the context.
    return {"portal": "verify", "purpose": purpose}
