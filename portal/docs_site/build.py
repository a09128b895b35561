"""Build a release's static site: reference pages, index page, hashed assets, manifest."""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

from portal.docs_site.index import IndexApi, describe_api, render_index
from portal.docs_site.manifest import (
    MANIFEST_NAME,
    RELEASE_ID_PATTERN,
    Manifest,
    describe_file,
    hashed_name,
)
from portal.docs_site.render import (
    RenderError,
    add_code_samples,
    load_document,
    render_reference,
)

log = logging.getLogger(__name__)

SPEC_SUFFIXES = (".json", ".yaml", ".yml")
_SITE_CSS = Path(__file__).resolve().parent / "templates" / "site.css"


class DocsBuildError(Exception):
    """The site of a release cannot be built; the message names the input and the fix."""


def redoc_bundle(renderer: Path) -> Path:
    """Return the Redoc browser bundle installed beside the Redocly CLI executable.

    `renderer` is `node_modules/.bin/redocly`; Redocly CLI renders with the
    `redoc` package in the same `node_modules`, so the bundle matches the
    server-side rendering that the page hydrates.
    """
    return renderer.parent.parent / "redoc" / "bundles" / "redoc.standalone.js"


def spec_slug(path: Path) -> str:
    """Return the page name of an OpenAPI document, such as `twilio-verify-v2`."""
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "api"


def build_site(release_id: str, spec_paths: list[Path], out_dir: Path, renderer: Path) -> Manifest:
    """Build the site of `release_id` from OpenAPI documents into `out_dir`.

    The site is written to a sibling folder first and moved into place, so
    `out_dir` contains either a complete build or none. Building the same input
    twice gives the same files and the same manifest hash.

    Args:
        release_id: Release id, matching `RELEASE_ID_PATTERN`.
        spec_paths: OpenAPI documents, one reference page each.
        out_dir: Target folder; replaced when it exists.
        renderer: The `redocly` executable.

    Returns:
        The release manifest, also written to `out_dir/manifest.json`.

    Raises:
        DocsBuildError: If an input is missing or invalid, or rendering fails.
    """
    if not re.match(RELEASE_ID_PATTERN, release_id):
        raise DocsBuildError(
            f"invalid release id {release_id!r}: use 1 to 63 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if not spec_paths:
        raise DocsBuildError("a release needs at least one OpenAPI document")
    slugs = [spec_slug(path) for path in spec_paths]
    if len(set(slugs)) != len(slugs):
        raise DocsBuildError(f"two OpenAPI documents map to the same page name: {slugs}")
    # Absolute, because Redocly runs in a scratch folder; not resolved, because
    # the bundle is found next to the `.bin` link.
    renderer = Path(os.path.abspath(renderer))
    bundle = redoc_bundle(renderer)
    if not bundle.exists():
        raise DocsBuildError(
            f"Redoc bundle not found at {bundle}; run scripts/setup.sh to install node/ tools"
        )

    staging = out_dir.with_name(f"{out_dir.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "assets").mkdir(parents=True)
    (staging / "reference").mkdir()
    log.info("docs build started release=%s documents=%d", release_id, len(spec_paths))
    try:
        bundle_path = _write_asset(staging, "redoc.standalone", "js", bundle.read_bytes())
        site_css = _write_asset(staging, "site", "css", _SITE_CSS.read_bytes())
        apis = _build_pages(release_id, spec_paths, slugs, staging, renderer, bundle_path, site_css)
        index = render_index(release_id, site_css, apis)
        (staging / "index.html").write_text(index, encoding="utf-8")
        files = [
            describe_file(staging, path)
            for path in sorted(staging.rglob("*"))
            if path.is_file() and path.name != MANIFEST_NAME
        ]
        manifest = Manifest.create(release_id, files)
        (staging / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    except (RenderError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise DocsBuildError(f"docs build of release {release_id} failed: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    log.info(
        "docs build finished release=%s files=%d manifest_sha256=%s",
        release_id,
        len(manifest.files),
        manifest.manifest_sha256,
    )
    return manifest


def _write_asset(root: Path, stem: str, suffix: str, data: bytes) -> str:
    """Write a content-hashed asset and return its path relative to the site root."""
    relative = f"assets/{hashed_name(stem, suffix, data)}"
    (root / relative).write_bytes(data)
    return relative


def _build_pages(
    release_id: str,
    spec_paths: list[Path],
    slugs: list[str],
    root: Path,
    renderer: Path,
    bundle_path: str,
    site_css: str,
) -> list[IndexApi]:
    apis = []
    for spec_path, slug in zip(spec_paths, slugs, strict=True):
        if not spec_path.is_file():
            raise DocsBuildError(f"OpenAPI document not found: {spec_path}")
        try:
            document = load_document(spec_path)
        except RenderError as exc:
            raise DocsBuildError(str(exc)) from None
        samples = add_code_samples(document, spec_path)
        page = f"reference/{slug}.html"
        title = str((document.get("info") or {}).get("title") or slug)
        html = render_reference(
            renderer,
            document,
            title=title,
            bundle_href=f"../{bundle_path}",
            template_options={
                "siteCss": f"../{site_css}",
                "indexHref": "../index.html",
                "releaseId": release_id,
            },
        )
        (root / page).write_text(html, encoding="utf-8")
        apis.append(describe_api(slug, page, document))
        log.info("reference rendered release=%s page=%s snippets=%d", release_id, page, samples)
    return apis
