"""The release's index page: every API with every operation, linking into its reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from portal.docs_site.render import operations

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_ENVIRONMENT = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(["html", "j2"]),
    keep_trailing_newline=True,
)


@dataclass
class IndexOperation:
    """One row of an API's operation table."""

    method: str
    path: str
    summary: str
    anchor: str
    samples: int


@dataclass
class IndexApi:
    """One API on the index page."""

    slug: str
    title: str
    version: str
    summary: str
    href: str
    operations: list[IndexOperation] = field(default_factory=list)


def operation_anchor(operation: dict[str, Any]) -> str:
    """Return the fragment Redoc gives an operation: `tag/<tag>/operation/<id>`.

    Operations without an `operationId` get an empty anchor, so the link opens the page top.
    """
    operation_id = operation.get("operationId")
    if not operation_id:
        return ""
    tags = operation.get("tags") or []
    if tags:
        return f"tag/{tags[0]}/operation/{operation_id}"
    return f"operation/{operation_id}"


def describe_api(slug: str, href: str, document: dict[str, Any]) -> IndexApi:
    """Collect what the index shows of one API from its document (snippets already attached)."""
    info = document.get("info") or {}
    description = str(info.get("description") or "").strip()
    api = IndexApi(
        slug=slug,
        title=str(info.get("title") or slug),
        version=str(info.get("version") or ""),
        summary=description.split("\n\n", 1)[0][:400],
        href=href,
    )
    for method, path, operation in operations(document):
        api.operations.append(
            IndexOperation(
                method=method,
                path=path,
                summary=str(operation.get("summary") or operation.get("operationId") or path),
                anchor=operation_anchor(operation),
                samples=len(operation.get("x-codeSamples") or []),
            )
        )
    return api


def render_index(release_id: str, site_css: str, apis: list[IndexApi]) -> str:
    """Render the index page of a release."""
    template = _ENVIRONMENT.get_template("index.html.j2")
    return template.render(release_id=release_id, site_css=site_css, apis=apis)
