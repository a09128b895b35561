"""Values the docs area derives from the portal settings."""

from __future__ import annotations

import re
from pathlib import Path

from portal.docs_site.build import SPEC_SUFFIXES
from portal.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
POINTER_KEY = "current.json"
RELEASES_PREFIX = "releases/"
# Surrogate key on every object of the docs site, and on the release pointer alone.
SITE_KEY = "docs"
POINTER_SURROGATE_KEY = "docs-pointer"
SPEC_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.(json|yaml|yml)$"


class SpecNotFoundError(Exception):
    """A release names an OpenAPI document that the spec folder does not hold."""


def release_key(release_id: str) -> str:
    """Return the surrogate key of every object of one release, such as `release-2024.06.1`."""
    return f"release-{release_id}"


def release_prefix(release_id: str) -> str:
    """Return the S3 key prefix of a release's files."""
    return f"{RELEASES_PREFIX}{release_id}/"


def edge_url(settings: Settings) -> str:
    """Return the base URL of the CDN edge, without a trailing slash."""
    url = settings.docs_edge_url or f"http://{settings.host}:{settings.varnish_port}"
    return url.rstrip("/")


def cdn_providers(settings: Settings) -> list[str]:
    """Return the CDNs a release purges, in order, each once."""
    return list(dict.fromkeys(settings.docs_cdn_providers.split(",")))


def renderer_path(settings: Settings) -> Path:
    """Return the Redocly CLI executable."""
    return settings.docs_renderer or REPO_ROOT / "node" / "node_modules" / ".bin" / "redocly"


def build_root(settings: Settings) -> Path:
    """Return the folder holding one built site per release."""
    return settings.docs_build_dir or settings.state_dir / "docs" / "builds"


def spec_dir(settings: Settings) -> Path:
    """Return the folder of the OpenAPI documents, relative paths taken from the repository."""
    return settings.docs_spec_path


def available_specs(settings: Settings) -> list[str]:
    """Return the names of the OpenAPI documents in the spec folder, sorted."""
    folder = spec_dir(settings)
    if not folder.is_dir():
        return []
    return sorted(
        path.name
        for path in folder.iterdir()
        if path.is_file()
        and path.suffix in SPEC_SUFFIXES
        and re.match(SPEC_NAME_PATTERN, path.name)
    )


def resolve_specs(settings: Settings, names: list[str]) -> list[Path]:
    """Return the paths of the named OpenAPI documents in the spec folder.

    Raises:
        SpecNotFoundError: naming each missing or invalid name and what the folder holds.
    """
    folder = spec_dir(settings)
    known = available_specs(settings)
    wrong = [name for name in names if name not in known]
    if wrong:
        raise SpecNotFoundError(
            f"unknown OpenAPI document(s) {wrong} in {folder}; available: {known or 'none'}"
        )
    return [folder / name for name in names]
