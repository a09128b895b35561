"""Activities that talk to the S3 origin of the docs site.

Layout of the bucket: `releases/<release id>/<path>` for every file of a
release, and `current.json`, the pointer to the release the edge serves. The
pointer changes with one PUT of a small JSON object, so readers see either the
old release or the new one. Each object carries its SHA-256 and surrogate keys
in user metadata; the edge tags cached objects with those keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from portal.docs_site import MANIFEST_NAME, DocsBuildError, Manifest
from portal.docs_site.config import (
    POINTER_KEY,
    POINTER_SURROGATE_KEY,
    RELEASES_PREFIX,
    SITE_KEY,
    SpecNotFoundError,
    release_key,
    release_prefix,
)
from portal.docs_site.local import ensure_local_build
from portal.docs_site.metrics import UPLOADED_FILES
from portal.settings import Settings

log = logging.getLogger(__name__)

# Timeouts short enough that an unreachable origin fails the attempt and
# Temporal retries it, instead of an activity hanging until its deadline.
_BOTO_CONFIG = Config(
    connect_timeout=3, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
)


class UploadBatchInput(BaseModel):
    """Files of one release for one upload activity."""

    release_id: str
    manifest_sha256: str
    spec_names: list[str] = Field(description="Documents to rebuild from if the build is gone.")
    paths: list[str] = Field(description="Paths relative to the release root.")


class UploadBatchResult(BaseModel):
    """Upload outcome: files put to the origin and files it already had."""

    uploaded: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)


class SwitchReleaseInput(BaseModel):
    """The release the pointer must name."""

    release_id: str
    manifest_sha256: str


class CurrentRelease(BaseModel):
    """Release pointer stored in the origin's `current.json`."""

    release_id: str
    manifest_sha256: str
    previous_release_id: str | None = None


def create_s3_client(settings: Settings) -> BaseClient:
    """Create an S3 client for the configured endpoint (moto locally)."""
    return boto3.client(
        "s3",
        endpoint_url=settings.aws_endpoint_url,
        region_name=settings.aws_region,
        config=_BOTO_CONFIG,
    )


def cache_control(settings: Settings, immutable: bool) -> str:
    """Return the Cache-Control header the origin stores with an object."""
    if immutable:
        return f"public, max-age={settings.docs_asset_max_age_seconds}, immutable"
    return f"public, max-age={settings.docs_html_max_age_seconds}"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3OriginActivities:
    """Activities on the docs bucket, sharing one S3 client."""

    def __init__(self, settings: Settings, client: BaseClient | None = None) -> None:
        self._settings = settings
        self._bucket = settings.docs_bucket
        self._s3 = client or create_s3_client(settings)

    async def _call(self, operation: str, **kwargs: object) -> dict:
        method = getattr(self._s3, operation)
        return await asyncio.to_thread(method, **kwargs)

    @activity.defn
    async def ensure_docs_origin(self) -> None:
        """Create the docs bucket unless it exists, with versioning and public read access."""
        try:
            await self._call("head_bucket", Bucket=self._bucket)
        except ClientError as exc:
            if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            await self._create_bucket()
        # Versions keep every object a release ever put, so a bad release can be
        # restored by copying its versions back.
        await self._call(
            "put_bucket_versioning",
            Bucket=self._bucket,
            VersioningConfiguration={"Status": "Enabled"},
        )
        # The edge fetches anonymously, as readers would; only the site is public.
        try:
            await self._call("put_bucket_policy", Bucket=self._bucket, Policy=self._read_policy())
        except ClientError as exc:
            if _error_code(exc) != "AccessDenied":
                raise
            log.warning(
                "public read policy not applied bucket=%s error=%s; the CDN must sign its "
                "origin requests instead",
                self._bucket,
                exc,
            )

    async def _create_bucket(self) -> None:
        kwargs: dict[str, object] = {"Bucket": self._bucket}
        if self._settings.aws_region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self._settings.aws_region}
        try:
            await self._call("create_bucket", **kwargs)
        except ClientError as exc:
            if _error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
        log.info("docs bucket created bucket=%s", self._bucket)

    def _read_policy(self) -> str:
        arn = f"arn:aws:s3:::{self._bucket}"
        statement = {
            "Sid": "PublicDocsRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": [f"{arn}/{RELEASES_PREFIX}*", f"{arn}/{POINTER_KEY}"],
        }
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    @activity.defn
    async def upload_release_files(self, batch: UploadBatchInput) -> UploadBatchResult:
        """Put a batch of a release's files to the origin, skipping those already there.

        A file counts as there when the object's stored SHA-256 and size match,
        so a retry after a crash puts only what the crash left unfinished.
        """
        try:
            folder = await asyncio.to_thread(
                ensure_local_build,
                self._settings,
                batch.release_id,
                batch.spec_names,
                batch.manifest_sha256,
            )
        except (DocsBuildError, SpecNotFoundError) as exc:
            raise ApplicationError(str(exc), type="DocsBuildError", non_retryable=True) from exc
        manifest = Manifest.model_validate_json((folder / MANIFEST_NAME).read_text())
        result = UploadBatchResult()
        for number, path in enumerate(batch.paths):
            if await self._upload_one(batch.release_id, folder, manifest, path):
                result.uploaded.append(path)
            else:
                result.skipped.append(path)
            activity.heartbeat(number + 1)
        log.info(
            "upload batch done release=%s uploaded=%d skipped=%d attempt=%d",
            batch.release_id,
            len(result.uploaded),
            len(result.skipped),
            activity.info().attempt,
        )
        return result

    async def _upload_one(
        self, release_id: str, folder: Path, manifest: Manifest, path: str
    ) -> bool:
        data = (folder / path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if path == MANIFEST_NAME:
            immutable, media_type = False, "application/json"
        else:
            entry = manifest.file(path)
            if entry.sha256 != digest:
                raise ApplicationError(
                    f"local file {path} of release {release_id} does not match its manifest",
                    type="DocsBuildError",
                    non_retryable=True,
                )
            immutable, media_type = entry.immutable, entry.content_type
        key = release_prefix(release_id) + path
        if await self._stored_sha256(key, len(data)) == digest:
            UPLOADED_FILES.labels("skipped").inc()
            log.info("upload skipped, origin has it release=%s key=%s", release_id, key)
            return False
        delay = self._settings.docs_upload_delay_seconds
        if delay:
            await asyncio.sleep(delay)
        await self._call(
            "put_object",
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType=media_type,
            CacheControl=cache_control(self._settings, immutable),
            Metadata={
                "sha256": digest,
                "release-id": release_id,
                "surrogate-key": f"{SITE_KEY} {release_key(release_id)}",
            },
        )
        UPLOADED_FILES.labels("uploaded").inc()
        log.info("uploaded release=%s key=%s bytes=%d", release_id, key, len(data))
        return True

    async def _stored_sha256(self, key: str, size: int) -> str | None:
        try:
            head = await self._call("head_object", Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        if head.get("ContentLength") != size:
            return None
        return head.get("Metadata", {}).get("sha256")

    @activity.defn
    async def switch_current_release(self, switch: SwitchReleaseInput) -> CurrentRelease:
        """Point `current.json` at a release whose files are all at the origin.

        Returns:
            The new pointer, naming the release it replaced.
        """
        manifest = await self._read_manifest(switch.release_id)
        if manifest is None or manifest.manifest_sha256 != switch.manifest_sha256:
            raise ApplicationError(
                f"origin has no complete manifest of release {switch.release_id}; "
                "upload the release before switching to it",
                type="ReleaseIncomplete",
                non_retryable=True,
            )
        previous = await self._read_pointer()
        pointer = CurrentRelease(
            release_id=switch.release_id,
            manifest_sha256=switch.manifest_sha256,
            previous_release_id=(
                previous.previous_release_id
                if previous and previous.release_id == switch.release_id
                else (previous.release_id if previous else None)
            ),
        )
        await self._call(
            "put_object",
            Bucket=self._bucket,
            Key=POINTER_KEY,
            Body=pointer.model_dump_json().encode(),
            ContentType="application/json",
            CacheControl=cache_control(self._settings, immutable=False),
            Metadata={
                "release-id": switch.release_id,
                "manifest-sha256": switch.manifest_sha256,
                "surrogate-key": f"{SITE_KEY} {POINTER_SURROGATE_KEY}",
            },
        )
        log.info(
            "current release switched release=%s previous=%s",
            switch.release_id,
            pointer.previous_release_id,
        )
        return pointer

    @activity.defn
    async def read_current_release(self) -> CurrentRelease | None:
        """Return what the origin's pointer names, or None before the first release."""
        return await self._read_pointer()

    @activity.defn
    async def read_release_manifest(self, release_id: str) -> Manifest | None:
        """Return the manifest of a release as the origin stores it, or None."""
        return await self._read_manifest(release_id)

    async def _read_pointer(self) -> CurrentRelease | None:
        body = await self._get_json(POINTER_KEY)
        return None if body is None else CurrentRelease.model_validate(body)

    async def _read_manifest(self, release_id: str) -> Manifest | None:
        body = await self._get_json(release_prefix(release_id) + MANIFEST_NAME)
        if body is None:
            return None
        manifest = Manifest.model_validate(body)
        manifest.verify()
        return manifest

    async def _get_json(self, key: str) -> dict | None:
        try:
            response = await self._call("get_object", Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                return None
            raise
        except BotoCoreError as exc:
            raise ApplicationError(
                f"S3 origin unreachable: {exc}", type="OriginUnavailable"
            ) from exc
        body = await asyncio.to_thread(response["Body"].read)
        return json.loads(body)
