"""The release manifest: every file of a built site with its size and SHA-256.

The manifest hash covers the release id and every file entry, so two builds
of the same input produce the same hash, and the edge is fresh exactly when
the manifest it serves carries the origin's hash.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from pathlib import Path

from pydantic import BaseModel, Field

MANIFEST_NAME = "manifest.json"

# Release ids end up in S3 keys, surrogate keys, workflow ids and CloudFront
# caller references, so they stay short and URL-safe.
RELEASE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"

# `name.0123456789ab.ext`: twelve hex digits of the content's SHA-256.
HASHED_NAME = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}


class ManifestFile(BaseModel):
    """One file of a release, as the origin must serve it."""

    path: str = Field(description="Path relative to the release root, with `/` separators.")
    size: int = Field(ge=0, description="Size in bytes.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the content, hex.")
    content_type: str = Field(description="Media type the origin stores with the object.")
    immutable: bool = Field(
        description="True for assets whose name carries a content hash: cached for a year."
    )


class Manifest(BaseModel):
    """Every file of a release and a hash over all of them."""

    release_id: str = Field(pattern=RELEASE_ID_PATTERN)
    files: list[ManifestFile]
    manifest_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @classmethod
    def create(cls, release_id: str, files: list[ManifestFile]) -> Manifest:
        """Build a manifest, sorting `files` by path and computing the hash."""
        ordered = sorted(files, key=lambda item: item.path)
        return cls(
            release_id=release_id,
            files=ordered,
            manifest_sha256=manifest_hash(release_id, ordered),
        )

    def file(self, path: str) -> ManifestFile:
        """Return the entry of `path`.

        Raises:
            KeyError: If the release has no such file.
        """
        for entry in self.files:
            if entry.path == path:
                return entry
        raise KeyError(path)

    def to_json(self) -> str:
        """Serialize the manifest as it is stored at the origin."""
        return json.dumps(self.model_dump(), indent=2, sort_keys=True) + "\n"

    def verify(self) -> None:
        """Check that `manifest_sha256` matches the entries.

        Raises:
            ValueError: If the hash does not match, as for a truncated or edited manifest.
        """
        expected = manifest_hash(self.release_id, self.files)
        if expected != self.manifest_sha256:
            raise ValueError(
                f"manifest of release {self.release_id} is inconsistent: "
                f"stored hash {self.manifest_sha256}, computed {expected}"
            )


def manifest_hash(release_id: str, files: list[ManifestFile]) -> str:
    """Return the SHA-256 of the canonical JSON of the release id and file entries."""
    canonical = json.dumps(
        {"release_id": release_id, "files": [entry.model_dump() for entry in files]},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def content_type(path: str) -> str:
    """Return the media type the origin serves `path` with."""
    suffix = Path(path).suffix.lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def is_hashed_asset(path: str) -> bool:
    """Return True when the file name carries a content hash, as `site.0123456789ab.css`."""
    return bool(HASHED_NAME.search(path))


def describe_file(root: Path, path: Path) -> ManifestFile:
    """Read `path` below `root` and return its manifest entry."""
    data = path.read_bytes()
    relative = path.relative_to(root).as_posix()
    return ManifestFile(
        path=relative,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type=content_type(relative),
        immutable=is_hashed_asset(relative),
    )


def hashed_name(stem: str, suffix: str, data: bytes) -> str:
    """Return `stem.<12 hex digits of SHA-256>.suffix` for an asset with content `data`."""
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:12]}.{suffix}"
