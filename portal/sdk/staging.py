"""The staging bucket: built artifacts with their checksums, and release records.

A release builds each language once and stages the files under
`staging/<version>/<language>/`; every publish attempt, on any worker,
downloads those exact bytes. The manifest is written last, so its presence
means the whole artifact is staged. Records under `records/<version>.json`
keep each release's outcome after its workflow history is gone.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from portal.sdk.errors import SdkReleaseError
from portal.sdk.languages import Language
from portal.sdk.models import ReleaseStatus, StagedArtifact, StagedFile
from portal.sdk.s3 import classify_s3_error, ensure_bucket, read_object
from portal.sdk.tools import file_checksums

log = logging.getLogger(__name__)


class StagingStore:
    """Reads and writes staged artifacts and release records in one S3 bucket.

    Methods are blocking (boto3); call them from a thread in async code.
    """

    def __init__(self, s3, bucket: str, create_bucket: bool) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._create_bucket = create_bucket
        self._bucket_ready = False

    def _ready(self) -> None:
        if not self._bucket_ready:
            ensure_bucket(self._s3, self._bucket, self._create_bucket)
            self._bucket_ready = True

    @staticmethod
    def _prefix(language: Language, version: str) -> str:
        return f"staging/{version}/{language}/"

    def load_manifest(self, language: Language, version: str) -> StagedArtifact | None:
        """Return the staged artifact of `language` at `version`, or None when not staged."""
        try:
            self._ready()
            data = read_object(
                self._s3, self._bucket, self._prefix(language, version) + "manifest.json"
            )
        except (ClientError, BotoCoreError) as exc:
            raise classify_s3_error(exc, "reading the staging manifest") from None
        return StagedArtifact.model_validate_json(data) if data is not None else None

    def stage(
        self,
        language: Language,
        version: str,
        registry_version: str,
        package: str,
        files: list[Path],
    ) -> StagedArtifact:
        """Upload `files` with their checksums and write the manifest last."""
        prefix = self._prefix(language, version)
        staged: list[StagedFile] = []
        try:
            self._ready()
            for path in files:
                sums = file_checksums(path)
                key = prefix + path.name
                self._s3.upload_file(
                    str(path), self._bucket, key, ExtraArgs={"Metadata": {"sha256": sums["sha256"]}}
                )
                staged.append(StagedFile(name=path.name, key=key, size=path.stat().st_size, **sums))
            artifact = StagedArtifact(
                language=language,
                version=version,
                registry_version=registry_version,
                package=package,
                files=staged,
            )
            self._s3.put_object(
                Bucket=self._bucket,
                Key=prefix + "manifest.json",
                Body=artifact.model_dump_json(indent=2).encode(),
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError) as exc:
            raise classify_s3_error(exc, "staging the artifact") from None
        log.info(
            "staged artifact language=%s version=%s bucket=%s files=%d",
            language,
            version,
            self._bucket,
            len(staged),
        )
        return artifact

    def download(self, artifact: StagedArtifact, folder: Path) -> dict[str, Path]:
        """Download the artifact's files into `folder` and check their sha256.

        Raises:
            SdkReleaseError: when a download fails or its checksum differs from the manifest.
        """
        folder.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        for staged in artifact.files:
            target = folder / staged.name
            try:
                self._s3.download_file(self._bucket, staged.key, str(target))
            except (ClientError, BotoCoreError) as exc:
                raise classify_s3_error(exc, f"downloading staged {staged.name}") from None
            actual = file_checksums(target)["sha256"]
            if actual != staged.sha256:
                raise SdkReleaseError(
                    f"staged {staged.name} has sha256 {actual}, "
                    f"but the manifest lists {staged.sha256}"
                )
            paths[staged.name] = target
        return paths

    def put_record(self, status: ReleaseStatus) -> None:
        """Store the outcome of a release under `records/<version>.json`."""
        try:
            self._ready()
            self._s3.put_object(
                Bucket=self._bucket,
                Key=f"records/{status.version}.json",
                Body=status.model_dump_json(indent=2).encode(),
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError) as exc:
            raise classify_s3_error(exc, "recording the release") from None

    def get_record(self, version: str) -> ReleaseStatus | None:
        """Return the stored outcome of release `version`, or None."""
        try:
            self._ready()
            data = read_object(self._s3, self._bucket, f"records/{version}.json")
        except (ClientError, BotoCoreError) as exc:
            raise classify_s3_error(exc, "reading the release record") from None
        return ReleaseStatus.model_validate(json.loads(data)) if data is not None else None

    def list_records(self) -> list[ReleaseStatus]:
        """Return every stored release outcome."""
        records: list[ReleaseStatus] = []
        try:
            self._ready()
            paginator = self._s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix="records/"):
                for entry in page.get("Contents", []):
                    data = read_object(self._s3, self._bucket, entry["Key"])
                    if data is not None:
                        records.append(ReleaseStatus.model_validate_json(data))
        except (ClientError, BotoCoreError) as exc:
            raise classify_s3_error(exc, "listing release records") from None
        return records
