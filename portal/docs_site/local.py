"""Built sites on the worker's disk, one folder per release, rebuilt when missing."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from portal.docs_site.build import DocsBuildError, build_site
from portal.docs_site.config import build_root, renderer_path, resolve_specs
from portal.docs_site.manifest import MANIFEST_NAME, Manifest
from portal.settings import Settings

log = logging.getLogger(__name__)


def site_dir(settings: Settings, release_id: str) -> Path:
    """Return the folder of the built site of `release_id`."""
    return build_root(settings) / release_id


def read_local_manifest(folder: Path) -> Manifest | None:
    """Return the manifest of the site in `folder`, or None when absent or inconsistent."""
    try:
        manifest = Manifest.model_validate(json.loads((folder / MANIFEST_NAME).read_text()))
        manifest.verify()
    except (OSError, ValueError) as exc:
        log.info("no usable local build folder=%s reason=%s", folder, exc)
        return None
    return manifest


def build_release(settings: Settings, release_id: str, spec_names: list[str]) -> Manifest:
    """Build the site of `release_id` from the named documents of the spec folder."""
    specs = resolve_specs(settings, spec_names)
    return build_site(release_id, specs, site_dir(settings, release_id), renderer_path(settings))


def ensure_local_build(
    settings: Settings, release_id: str, spec_names: list[str], manifest_sha256: str
) -> Path:
    """Return the folder of the site whose manifest hash is `manifest_sha256`.

    Another worker may have built the release, or this one may have restarted
    with a clean disk: the site is then rebuilt, which gives the same files
    when the documents are unchanged.

    Raises:
        DocsBuildError: If the rebuilt site differs from the release's manifest,
            because the documents changed after the build.
    """
    folder = site_dir(settings, release_id)
    manifest = read_local_manifest(folder)
    if manifest is not None and manifest.manifest_sha256 == manifest_sha256:
        return folder
    log.info("rebuilding site for upload release=%s", release_id)
    manifest = build_release(settings, release_id, spec_names)
    if manifest.manifest_sha256 != manifest_sha256:
        raise DocsBuildError(
            f"rebuilt site of release {release_id} has manifest hash {manifest.manifest_sha256}, "
            f"not {manifest_sha256}: its OpenAPI documents changed since the build; "
            "publish a new release id"
        )
    return folder
