"""Named API descriptions the portal serves snippets for, such as `twilio-verify-v2`."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from portal.settings import load_settings
from portal.snippets.generator import Snippet, build_snippets


@dataclass(frozen=True)
class CatalogEntry:
    """One named API description.

    Attributes:
        spec_id: Name used in URLs.
        filename: File name inside the specs folder.
        env_prefix: Prefix of the credential environment variables in its snippets.
    """

    spec_id: str
    filename: str
    env_prefix: str


CATALOG: dict[str, CatalogEntry] = {
    entry.spec_id: entry
    for entry in (
        CatalogEntry("twilio-verify-v2", "twilio_verify_v2.json", "TWILIO"),
        CatalogEntry("vonage-verify", "vonage_verify.yml", "VONAGE"),
    )
}


def specs_dir() -> Path:
    """Return the API descriptions folder, `PORTAL_DOCS_SPEC_DIR`."""
    return load_settings().docs_spec_path


def spec_path(spec_id: str, directory: Path | None = None) -> Path:
    """Return the file of the named description.

    Raises:
        KeyError: If `spec_id` is not in `CATALOG`.
    """
    return (directory or specs_dir()) / CATALOG[spec_id].filename


def catalog_snippets(spec_id: str, directory: Path | None = None) -> tuple[Snippet, ...]:
    """Return every snippet of the named description, built once per file version.

    Raises:
        KeyError: If `spec_id` is not in `CATALOG`.
        SnippetError: If the description cannot be turned into safe snippets.
        FileNotFoundError: If the description's file is missing.
    """
    path = spec_path(spec_id, directory)
    stat = path.stat()
    return _cached(str(path), stat.st_mtime_ns, stat.st_size, CATALOG[spec_id].env_prefix)


@functools.lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int, size: int, env_prefix: str) -> tuple[Snippet, ...]:
    return tuple(build_snippets(path, env_prefix=env_prefix))
