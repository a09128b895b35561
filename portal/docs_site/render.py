"""Reference pages rendered by Redocly CLI (`redocly build-docs`), with no CDN at run time.

Redocly's page loads the Redoc bundle from its CDN. The portal serves its own
copy instead, as a content-hashed asset of the release, and rejects a page that
still loads a script or stylesheet from another host.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).resolve().parent / "templates" / "reference.hbs"
RENDER_TIMEOUT_SECONDS = 180

# The script tag Redocly CLI 1.x writes into the page head.
_CDN_SCRIPT = re.compile(
    r'<script src="https://cdn\.redocly\.com/redoc/v[0-9.]+/bundles/redoc\.standalone\.js">'
)
# Any script or stylesheet that a browser would fetch from another host.
_EXTERNAL_RESOURCE = re.compile(
    r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//[^\"'\s>]+", re.IGNORECASE
)
_EXTERNAL_IMPORT = re.compile(r"@import\s+(?:url\()?[\"']?(?:https?:)?//", re.IGNORECASE)

# Redoc picks the highlighter from `lang`; the tab shows `label`.
_REDOC_LANG = {
    "curl": "Shell",
    "python": "Python",
    "javascript": "JavaScript",
    "go": "Go",
    "java": "Java",
    "csharp": "C#",
}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class RenderError(Exception):
    """The renderer failed or produced a page that would fetch from a CDN."""


def load_document(path: Path) -> dict[str, Any]:
    """Load an OpenAPI document from JSON or YAML.

    Raises:
        RenderError: If the file is not a JSON or YAML mapping.
    """
    text = path.read_text(encoding="utf-8")
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise RenderError(f"{path.name} is not valid JSON or YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
        raise RenderError(f"{path.name} is not an OpenAPI document: it has no `paths` mapping")
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Return `(METHOD, path, operation)` for every operation, in document order."""
    found = []
    for path, item in document["paths"].items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                found.append((method.upper(), path, operation))
    return found


def add_code_samples(document: dict[str, Any], spec_path: Path) -> int:
    """Attach the portal's generated snippets to each operation as Redoc `x-codeSamples`.

    The snippet generator is optional: without `portal.snippets` the page has
    only the document's own samples.

    Returns:
        The number of snippets attached.
    """
    try:
        from portal.snippets.generator import build_snippets
    except ImportError:
        log.info("snippet generator not installed; reference has no generated snippets")
        return 0
    from portal.snippets.languages import LANGUAGES

    by_operation: dict[tuple[str, str], list[dict[str, str]]] = {}
    for snippet in build_snippets(spec_path):
        language = LANGUAGES[snippet.language]
        by_operation.setdefault((snippet.method, snippet.path), []).append(
            {
                "lang": _REDOC_LANG.get(snippet.language, language.label),
                "label": language.label,
                "source": snippet.code,
            }
        )
    attached = 0
    for method, path, operation in operations(document):
        samples = by_operation.get((method, path))
        if samples:
            operation["x-codeSamples"] = [*operation.get("x-codeSamples", []), *samples]
            attached += len(samples)
    return attached


def external_resources(html: str) -> list[str]:
    """Return the scripts, stylesheets and CSS imports of `html` that load from another host."""
    return _EXTERNAL_RESOURCE.findall(html) + _EXTERNAL_IMPORT.findall(html)


def render_reference(
    renderer: Path,
    document: dict[str, Any],
    *,
    title: str,
    bundle_href: str,
    template_options: dict[str, str],
) -> str:
    """Render one API reference page with `redocly build-docs` and return its HTML.

    Args:
        renderer: The `redocly` executable.
        document: The OpenAPI document, snippets already attached.
        title: Page title.
        bundle_href: URL of the release's own copy of the Redoc bundle, relative to the page.
        template_options: Values the page template reads as `templateOptions.<name>`.

    Raises:
        RenderError: If Redocly fails, times out, or the page still loads from a CDN.
    """
    if not renderer.exists():
        raise RenderError(
            f"Redocly CLI not found at {renderer}; run scripts/setup.sh (npm install in node/) "
            "or set PORTAL_DOCS_RENDERER"
        )
    with tempfile.TemporaryDirectory(prefix="docs-render-") as scratch:
        source = Path(scratch) / "openapi.json"
        source.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        output = Path(scratch) / "page.html"
        argv = [
            str(renderer),
            "build-docs",
            str(source),
            "--output",
            str(output),
            "--template",
            str(TEMPLATE),
            "--title",
            title,
            "--disableGoogleFont",
            "--lint-config",
            "off",
        ]
        argv += [f"--templateOptions.{key}={value}" for key, value in template_options.items()]
        # Telemetry and the update check would reach the network at build time.
        env = {
            **os.environ,
            "REDOCLY_TELEMETRY": "off",
            "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
            "NO_COLOR": "1",
        }
        try:
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=RENDER_TIMEOUT_SECONDS,
                env=env,
                cwd=scratch,
            )
        except subprocess.TimeoutExpired:
            raise RenderError(
                f"redocly build-docs timed out after {RENDER_TIMEOUT_SECONDS} s on {title}"
            ) from None
        if result.returncode != 0 or not output.exists():
            tail = (result.stderr or result.stdout)[-2000:]
            raise RenderError(
                f"redocly build-docs failed on {title} with exit code {result.returncode}:\n{tail}"
            )
        html = output.read_text(encoding="utf-8")

    html, replaced = _CDN_SCRIPT.subn(f'<script src="{bundle_href}">', html)
    if replaced != 1:
        raise RenderError(
            f"expected one Redoc CDN script tag in the page of {title}, found {replaced}; "
            "the pinned Redocly CLI changed its page template"
        )
    leftovers = external_resources(html)
    if leftovers:
        raise RenderError(f"the page of {title} still loads from another host: {leftovers[:3]}")
    return html
