"""Static docs site of a release: rendered reference pages, an index page and a manifest.

`build_site` turns the OpenAPI documents of a release into a folder that the
S3 origin serves under `releases/<release id>/`. Asset names carry content
hashes; HTML pages and `manifest.json` keep stable names, so the CDN must be
purged when a release changes them.
"""

from portal.docs_site.build import DocsBuildError, build_site
from portal.docs_site.manifest import (
    MANIFEST_NAME,
    RELEASE_ID_PATTERN,
    Manifest,
    ManifestFile,
)

__all__ = [
    "MANIFEST_NAME",
    "RELEASE_ID_PATTERN",
    "DocsBuildError",
    "Manifest",
    "ManifestFile",
    "build_site",
]
