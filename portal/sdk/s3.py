"""S3 access shared by the staging store and the Maven publisher."""

from __future__ import annotations

import logging

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from portal.sdk.config import SdkConfig
from portal.sdk.errors import (
    PublishConflictError,
    PublishRejectedError,
    RegistryUnavailableError,
    SdkReleaseError,
)

log = logging.getLogger(__name__)

# Short timeouts: an unreachable endpoint should fail the attempt fast and let
# Temporal's retry policy do the waiting.
_CLIENT_CONFIG = Config(
    connect_timeout=3, read_timeout=20, retries={"max_attempts": 2, "mode": "standard"}
)
_REJECTED_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchBucket"}


def s3_client(config: SdkConfig):
    """Return a boto3 S3 client for the configured endpoint (moto locally)."""
    return boto3.client(
        "s3",
        endpoint_url=config.aws_endpoint_url,
        region_name=config.aws_region,
        config=_CLIENT_CONFIG,
    )


def error_code(exc: ClientError) -> str:
    """Return the S3 error code of `exc`, such as `NoSuchKey` or `404`."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def classify_s3_error(exc: Exception, what: str) -> SdkReleaseError:
    """Map a botocore error to retryable or non-retryable, naming `what` failed."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _REJECTED_CODES:
            return PublishRejectedError(f"{what}: S3 rejected the request ({code})")
        if code == "PreconditionFailed":
            return PublishConflictError(f"{what}: the object changed while being written")
        if status >= 500 or code in {"SlowDown", "InternalError", "ServiceUnavailable"}:
            return RegistryUnavailableError(f"{what}: S3 returned {code or status}")
        return PublishRejectedError(f"{what}: S3 returned {code or status}")
    if isinstance(exc, BotoCoreError):
        return RegistryUnavailableError(f"{what}: S3 unreachable ({type(exc).__name__})")
    return RegistryUnavailableError(f"{what}: {exc}")


def ensure_bucket(s3, bucket: str, create: bool) -> None:
    """Create `bucket` when it is missing and `create` is True (local endpoints only)."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"} or not create:
            raise
    log.info("creating bucket=%s on the local S3 endpoint", bucket)
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            raise


def read_object(s3, bucket: str, key: str) -> bytes | None:
    """Return the object's bytes, or None when the key does not exist."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
            return None
        raise
