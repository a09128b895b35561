"""Java: a Maven repository layout in an S3 bucket.

For version V of G:A the repository holds, under `<prefix>/<G as path>/<A>/`:
`V/A-V.jar` and `V/A-V.pom`, each with `.md5`, `.sha1`, `.sha256` and
`.sha512` files, and `maven-metadata.xml` (with its checksums) listing
every version. Maven and Gradle resolve it over HTTP like any remote
repository.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from pathlib import Path
from xml.etree import ElementTree

import semver
from botocore.exceptions import BotoCoreError, ClientError

from portal.sdk.config import MAVEN_ARTIFACT, MAVEN_GROUP
from portal.sdk.errors import PublishConflictError, RegistryUnavailableError
from portal.sdk.languages import Language
from portal.sdk.models import StagedArtifact
from portal.sdk.publishers.base import Publisher
from portal.sdk.s3 import classify_s3_error, ensure_bucket, error_code, read_object, s3_client
from portal.sdk.versions import from_registry_version, max_version

log = logging.getLogger(__name__)

CHECKSUMS = ("md5", "sha1", "sha256", "sha512")
METADATA_WRITE_ATTEMPTS = 5


def _digests(data: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, data).hexdigest() for name in CHECKSUMS}


def render_metadata(versions: list[str], updated: str) -> bytes:
    """Return maven-metadata.xml listing `versions`, with `latest` and `release` set."""
    ordered_versions = sorted(set(versions), key=_semver_key)
    root = ElementTree.Element("metadata")
    ElementTree.SubElement(root, "groupId").text = MAVEN_GROUP
    ElementTree.SubElement(root, "artifactId").text = MAVEN_ARTIFACT
    versioning = ElementTree.SubElement(root, "versioning")
    ElementTree.SubElement(versioning, "latest").text = ordered_versions[-1]
    stable = [version for version in ordered_versions if "-" not in version]
    if stable:
        ElementTree.SubElement(versioning, "release").text = stable[-1]
    listed = ElementTree.SubElement(versioning, "versions")
    for version in ordered_versions:
        ElementTree.SubElement(listed, "version").text = version
    ElementTree.SubElement(versioning, "lastUpdated").text = updated
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def _semver_key(version: str) -> tuple[int, semver.Version]:
    # Versions that are not semver (written by other tools) sort first.
    try:
        return (1, semver.Version.parse(version))
    except ValueError:
        return (0, semver.Version(0))


def parse_metadata(data: bytes) -> list[str]:
    """Return the versions a maven-metadata.xml lists."""
    root = ElementTree.fromstring(data)
    return [
        element.text for element in root.iterfind("./versioning/versions/version") if element.text
    ]


class MavenS3Publisher(Publisher):
    """Writes the Maven layout with boto3; blocking calls run in a thread."""

    language = Language.JAVA

    def __init__(self, config) -> None:
        super().__init__(config)
        self._s3 = s3_client(config)
        self._bucket = config.maven_bucket
        self._base = f"{config.maven_prefix}/{MAVEN_GROUP.replace('.', '/')}/{MAVEN_ARTIFACT}"

    @property
    def metadata_key(self) -> str:
        """Key of the artifact's maven-metadata.xml."""
        return f"{self._base}/maven-metadata.xml"

    def file_key(self, version: str, name: str) -> str:
        """Key of one file of `version` in the layout."""
        return f"{self._base}/{version}/{name}"

    async def _call(self, what: str, function, *args, **kwargs):
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise classify_s3_error(exc, f"{self.registry}: {what}") from None

    def _ensure_bucket(self) -> None:
        ensure_bucket(self._s3, self._bucket, self.config.local_aws)

    def _get(self, key: str) -> bytes | None:
        self._ensure_bucket()
        return read_object(self._s3, self._bucket, key)

    def _head(self, key: str) -> dict | None:
        try:
            return self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    async def _listed_versions(self) -> list[str]:
        data = await self._call("reading maven-metadata.xml", self._get, self.metadata_key)
        return parse_metadata(data) if data else []

    async def holds(self, artifact: StagedArtifact, files: dict[str, Path]) -> bool:
        """Return True when every file, its checksums and the metadata entry are in place."""
        complete = True
        for staged in artifact.files:
            key = self.file_key(artifact.registry_version, staged.name)
            data = await self._call(f"reading {staged.name}", self._get, key)
            if data is None:
                complete = False
                continue
            sha256 = hashlib.sha256(data).hexdigest()
            if sha256 != staged.sha256:
                raise self.conflict(
                    artifact, f"{staged.name} has sha256 {sha256}, ours {staged.sha256}"
                )
            for checksum in CHECKSUMS:
                if await self._call("reading a checksum", self._head, f"{key}.{checksum}") is None:
                    complete = False
        if artifact.registry_version not in await self._listed_versions():
            complete = False
        return complete

    def _put_new(self, key: str, body: bytes, content_type: str) -> None:
        """Write `key` only when absent; an existing object must hold the same bytes."""
        existing = self._get(key)
        if existing is not None:
            if existing != body:
                raise PublishConflictError(f"{key} exists with different content")
            return
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)

    def _put_checksums(self, key: str, body: bytes) -> None:
        for checksum, value in _digests(body).items():
            self._s3.put_object(
                Bucket=self._bucket,
                Key=f"{key}.{checksum}",
                Body=value.encode(),
                ContentType="text/plain",
            )

    def _upload_files(self, artifact: StagedArtifact, files: dict[str, Path]) -> None:
        # POM before jar, checksums after each file: a reader that finds the jar
        # also finds what it needs to verify it.
        for staged in sorted(artifact.files, key=lambda entry: not entry.name.endswith(".pom")):
            body = files[staged.name].read_bytes()
            key = self.file_key(artifact.registry_version, staged.name)
            content_type = (
                "application/xml" if staged.name.endswith(".pom") else "application/java-archive"
            )
            try:
                self._put_new(key, body, content_type)
            except PublishConflictError:
                raise self.conflict(artifact, f"{staged.name} differs") from None
            self._put_checksums(key, body)

    def _add_to_metadata(self, version: str) -> None:
        """Add `version` to maven-metadata.xml with a conditional write, re-reading on a race."""
        for _ in range(METADATA_WRITE_ATTEMPTS):
            try:
                current = self._s3.get_object(Bucket=self._bucket, Key=self.metadata_key)
                versions, condition = (
                    parse_metadata(current["Body"].read()),
                    {"IfMatch": current["ETag"]},
                )
            except ClientError as exc:
                if error_code(exc) not in {"NoSuchKey", "404"}:
                    raise
                versions, condition = [], {"IfNoneMatch": "*"}
            if version in versions:
                return
            body = render_metadata(
                [*versions, version], time.strftime("%Y%m%d%H%M%S", time.gmtime())
            )
            try:
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=self.metadata_key,
                    Body=body,
                    ContentType="application/xml",
                    **condition,
                )
            except ClientError as exc:
                if error_code(exc) in {"PreconditionFailed", "ConditionalRequestConflict"}:
                    log.info("maven-metadata.xml changed during the update; reading it again")
                    continue
                raise
            self._put_checksums(self.metadata_key, body)
            return
        raise RegistryUnavailableError(
            f"{self.registry}: maven-metadata.xml kept changing during {METADATA_WRITE_ATTEMPTS} "
            "update attempts"
        )

    async def upload(self, artifact: StagedArtifact, files: dict[str, Path]) -> None:
        """Write the jar, the POM, their checksums, then the metadata entry."""
        await self._call("writing the artifact", self._upload_files, artifact, files)
        await self._call(
            "updating maven-metadata.xml", self._add_to_metadata, artifact.registry_version
        )
        log.info("wrote maven layout bucket=%s version=%s", self._bucket, artifact.registry_version)

    async def latest_version(self) -> str | None:
        """Return the highest release version maven-metadata.xml lists."""
        versions = [
            release
            for text in await self._listed_versions()
            if (release := from_registry_version(self.language, text))
        ]
        return max_version(versions)

    def location(self, artifact: StagedArtifact) -> str:
        """Return the jar's URL in the repository."""
        # TODO: publish only jar and POM; Maven Central would also need sources and
        # javadoc jars with GPG signatures, and anonymous Maven clients need a public
        # bucket policy or a CDN in front of the bucket.
        group_path = MAVEN_GROUP.replace(".", "/")
        version = artifact.registry_version
        return (
            f"{self.config.maven_repository_url}/{group_path}/{MAVEN_ARTIFACT}/{version}/"
            f"{artifact.primary.name}"
        )
