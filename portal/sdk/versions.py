"""Version rules of an SDK release and how each registry spells a version.

A release version is semver `MAJOR.MINOR.PATCH` with an optional
`-alpha.N`, `-beta.N` or `-rc.N` pre-release and no build metadata. That
subset is what every registry can express: PEP 440 has no arbitrary
pre-release labels, and npm and PyPI drop build metadata.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import semver
from packaging.version import InvalidVersion, Version

from portal.sdk.languages import Language

# Use [0-9] because \d also matches non-ASCII digits, which semver rejects.
VERSION_PATTERN = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(alpha|beta|rc)\.(0|[1-9][0-9]*))?$"
)
_VERSION_RE = re.compile(VERSION_PATTERN)
_PEP440_PRE = {"a": "alpha", "b": "beta", "rc": "rc"}


class InvalidVersionError(ValueError):
    """A release version that is not in the accepted semver form."""


class VersionTooLowError(ValueError):
    """A release version lower than one a registry or a past release already holds."""

    def __init__(self, version: str, latest: str, where: str) -> None:
        self.version = version
        self.latest = latest
        self.where = where
        super().__init__(
            f"version {version} is lower than {latest}, the latest in {where}; "
            f"release {latest} again or a version above it"
        )


def parse_version(text: str) -> semver.Version:
    """Parse a release version.

    Raises:
        InvalidVersionError: when `text` is not MAJOR.MINOR.PATCH with an optional
            -alpha.N, -beta.N or -rc.N suffix.
    """
    if not isinstance(text, str) or not _VERSION_RE.fullmatch(text):
        raise InvalidVersionError(
            f"{text!r} is not a release version: use MAJOR.MINOR.PATCH such as 1.4.0, "
            "optionally with -alpha.N, -beta.N or -rc.N"
        )
    return semver.Version.parse(text)


def is_valid_version(text: str) -> bool:
    """Return True when `text` is an accepted release version."""
    return isinstance(text, str) and bool(_VERSION_RE.fullmatch(text))


def max_version(versions: Iterable[str]) -> str | None:
    """Return the highest of `versions` by semver precedence, or None when empty."""
    parsed = [semver.Version.parse(version) for version in versions]
    return str(max(parsed)) if parsed else None


def check_not_lower(version: str, latest: str | None, where: str) -> None:
    """Raise VersionTooLowError when `version` is below `latest`; equal is allowed.

    Releasing the latest version again is how a partial release is completed,
    so only a strictly lower version is rejected.
    """
    if latest is not None and parse_version(version) < semver.Version.parse(latest):
        raise VersionTooLowError(version, latest, where)


def registry_version(language: Language, version: str) -> str:
    """Return how the registry of `language` spells release `version`.

    PyPI uses the normalized PEP 440 form (`1.2.0rc1`), the Go module proxy
    protocol a `v` prefix (`v1.2.0-rc.1`), npm and Maven the semver text.
    """
    parse_version(version)
    if language is Language.PYTHON:
        return str(Version(version))
    if language is Language.GO:
        return f"v{version}"
    return version


def from_registry_version(language: Language, text: str) -> str | None:
    """Return the release version a registry's version string stands for, or None.

    Strings that no release could have produced (a Go pseudo-version, a PEP 440
    post-release, a Maven SNAPSHOT) return None so latest-version readings
    ignore them.
    """
    if language is Language.GO:
        candidate = text[1:] if text.startswith("v") else None
        return candidate if candidate and is_valid_version(candidate) else None
    if language is Language.PYTHON:
        try:
            parsed = Version(text)
        except InvalidVersion:
            return None
        if parsed.post is not None or parsed.dev is not None or parsed.local or parsed.epoch:
            return None
        base = ".".join(str(part) for part in (list(parsed.release) + [0, 0])[:3])
        if len(parsed.release) > 3:
            return None
        if parsed.pre is None:
            return base
        label, number = parsed.pre
        return f"{base}-{_PEP440_PRE[label]}.{number}"
    return text if is_valid_version(text) else None
