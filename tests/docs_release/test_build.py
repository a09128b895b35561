"""The docs build from the real OpenAPI documents: every operation, no CDN, stable hashes."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from portal.docs_site import MANIFEST_NAME, DocsBuildError, Manifest, build_site
from portal.docs_site.render import external_resources, load_document, operations
from tests.docs_release.conftest import SPEC_NAMES

PAGES = {
    "twilio_verify_v2.json": "reference/twilio-verify-v2.html",
    "vonage_verify.yml": "reference/vonage-verify.html",
}


@pytest.fixture(scope="module")
def built(shared_specs: Path, redocly: Path, tmp_path_factory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("site") / "release"
    specs = [shared_specs / name for name in SPEC_NAMES]
    return out, build_site("2025.06.1", specs, out, redocly)


def test_every_operation_rendered(built, shared_specs: Path):
    out, _ = built
    for name, page in PAGES.items():
        html = (out / page).read_text()
        document = load_document(shared_specs / name)
        for method, path, operation in operations(document):
            operation_id = operation["operationId"]
            assert re.search(rf'id="[^"]*operation/{re.escape(operation_id)}"', html), (
                f"{name}: {method} {path} ({operation_id}) missing from {page}"
            )


def test_index_links_every_operation(built, shared_specs: Path):
    out, _ = built
    index = (out / "index.html").read_text()
    for name, page in PAGES.items():
        html = (out / page).read_text()
        for _, _, operation in operations(load_document(shared_specs / name)):
            links = re.findall(
                rf'href="{re.escape(page)}#([^"]*operation/{operation["operationId"]})"', index
            )
            assert links, f"index has no link to {operation['operationId']}"
            assert f'id="{links[0]}"' in html, f"link target {links[0]} not in {page}"


def test_snippets_embedded_per_operation(built, shared_specs: Path):
    out, _ = built
    html = (out / PAGES["vonage_verify.yml"]).read_text()
    state = json.loads(re.search(r"const __redoc_state = (\{.*?\});\n", html, re.S).group(1))
    paths = state["spec"]["data"]["paths"]
    for path, item in paths.items():
        for method, operation in item.items():
            labels = {sample["label"] for sample in operation.get("x-codeSamples", [])}
            assert {"curl", "Python", "JavaScript", "Go", "Java", "C#"} <= labels, (
                f"{method.upper()} {path} has samples {labels}"
            )


def test_pages_load_nothing_from_cdn(built):
    out, manifest = built
    for entry in manifest.files:
        if entry.path.endswith(".html"):
            html = (out / entry.path).read_text()
            assert external_resources(html) == [], entry.path
            for source in re.findall(r'<script src="([^"]+)"', html):
                target = (out / entry.path).parent / source
                assert target.resolve().is_file(), f"{entry.path} loads missing {source}"
            assert "cdn.redocly.com" not in html
            assert "fonts.googleapis.com" not in html


def test_assets_hashed_pages_not(built):
    out, manifest = built
    for entry in manifest.files:
        data = (out / entry.path).read_bytes()
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
        assert entry.size == len(data)
        if entry.path.startswith("assets/"):
            assert entry.immutable
            assert hashlib.sha256(data).hexdigest()[:12] in entry.path
        else:
            assert not entry.immutable
            assert not re.search(r"\.[0-9a-f]{12}\.", entry.path), entry.path
    paths = {entry.path for entry in manifest.files}
    assert {"index.html", *PAGES.values()} <= paths
    assert MANIFEST_NAME not in paths


def test_manifest_file_matches_result(built):
    out, manifest = built
    stored = Manifest.model_validate_json((out / MANIFEST_NAME).read_text())
    assert stored == manifest
    stored.verify()
    tampered = stored.model_copy(update={"files": stored.files[1:]})
    with pytest.raises(ValueError, match="inconsistent"):
        tampered.verify()


def test_same_input_same_manifest_hash(built, shared_specs: Path, redocly: Path, tmp_path):
    out, manifest = built
    again = build_site("2025.06.1", [shared_specs / n for n in SPEC_NAMES], tmp_path / "b", redocly)
    assert again.manifest_sha256 == manifest.manifest_sha256
    assert (tmp_path / "b" / MANIFEST_NAME).read_bytes() == (out / MANIFEST_NAME).read_bytes()


def test_release_id_changes_hash(built, shared_specs: Path, redocly: Path, tmp_path):
    _, manifest = built
    other = build_site("2025.06.2", [shared_specs / "vonage_verify.yml"], tmp_path / "c", redocly)
    assert other.manifest_sha256 != manifest.manifest_sha256


@pytest.mark.parametrize("release_id", ["", "../up", "a b", "-lead", "x" * 64])
def test_invalid_release_id_rejected(release_id: str, shared_specs: Path, redocly: Path, tmp_path):
    with pytest.raises(DocsBuildError, match="invalid release id"):
        build_site(release_id, [shared_specs / "vonage_verify.yml"], tmp_path / "d", redocly)


def test_invalid_document_names_file(redocly: Path, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.0.0\ninfo: {title: x}\n")
    with pytest.raises(DocsBuildError, match="broken.yaml is not an OpenAPI document"):
        build_site("r1", [broken], tmp_path / "e", redocly)
    assert not (tmp_path / "e").exists()
