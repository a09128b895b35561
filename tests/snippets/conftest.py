"""Fixtures of the snippet tests: shared and hostile API descriptions and the capture server."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal.snippets import Document
from tests.snippets.capture import CaptureServer, make_ca

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = REPO_ROOT.parent / "shared" / "specs"
HOSTILE_DIR = Path(__file__).parent / "hostile"

SHARED_SPECS = {
    "twilio-verify-v2": (SPECS_DIR / "twilio_verify_v2.json", "TWILIO"),
    "vonage-verify": (SPECS_DIR / "vonage_verify.yml", "VONAGE"),
}
# Hostile documents that must produce snippets; the others must be rejected.
HOSTILE_SPECS = {
    "quoting": (HOSTILE_DIR / "quoting.yaml", "HOSTILE"),
    "unicode": (HOSTILE_DIR / "unicode.json", "HOSTILE"),
    "swagger2": (HOSTILE_DIR / "swagger2.yaml", "LEGACY"),
    "refs": (HOSTILE_DIR / "refs.yaml", "REFS"),
    "fake-secrets": (HOSTILE_DIR / "fake_secrets.yaml", "ACME"),
}
ALL_SPECS = {**SHARED_SPECS, **HOSTILE_SPECS}


def load_spec(spec_id: str) -> tuple[Document, str]:
    """Return the document `spec_id` and its credential prefix; skip if the file is absent."""
    path, prefix = ALL_SPECS[spec_id]
    if not path.exists():
        pytest.skip(f"{path} is not present: the shared specs live beside the repository")
    return Document.load(path), prefix


def point_at(document: Document, base_url: str) -> Document:
    """Return a copy of `document` whose every server is `base_url` (https, no trailing slash)."""
    root: dict[str, Any] = copy.deepcopy(document.root)
    if document.version == 2:
        host_and_path = base_url.removeprefix("https://")
        host, _, path = host_and_path.partition("/")
        root["schemes"] = ["https"]
        root["host"] = host
        root["basePath"] = "/" + path
        for item in (root.get("paths") or {}).values():
            for operation in item.values() if isinstance(item, dict) else []:
                if isinstance(operation, dict) and "schemes" in operation:
                    operation["schemes"] = ["https"]
    else:
        root["servers"] = [{"url": base_url}]
        for item in (root.get("paths") or {}).values():
            if not isinstance(item, dict):
                continue
            if "servers" in item:
                item["servers"] = [{"url": base_url}]
            for operation in item.values():
                if isinstance(operation, dict) and "servers" in operation:
                    operation["servers"] = [{"url": base_url}]
    return Document(root, document.source)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A throwaway CA and the capture server's certificate and key."""
    return make_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def capture_server(tls_files: tuple[Path, Path, Path]) -> Iterator[CaptureServer]:
    """The HTTPS capture server, running for the whole session."""
    _, chain, key = tls_files
    server = CaptureServer(chain, key).start()
    yield server
    server.stop()
