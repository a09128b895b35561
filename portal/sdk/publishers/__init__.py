"""One publisher per registry, behind the `Publisher` interface."""

from __future__ import annotations

from portal.sdk.config import SdkConfig
from portal.sdk.languages import Language
from portal.sdk.publishers.base import Publisher


def build_publisher(language: Language, config: SdkConfig) -> Publisher:
    """Return the publisher of `language`'s registry."""
    from portal.sdk.publishers.git_tags import GitTagPublisher
    from portal.sdk.publishers.maven_s3 import MavenS3Publisher
    from portal.sdk.publishers.npm import NpmPublisher
    from portal.sdk.publishers.pypi import PypiPublisher

    publishers: dict[Language, type[Publisher]] = {
        Language.PYTHON: PypiPublisher,
        Language.TYPESCRIPT: NpmPublisher,
        Language.GO: GitTagPublisher,
        Language.JAVA: MavenS3Publisher,
    }
    return publishers[language](config)


__all__ = ["Publisher", "build_publisher"]
