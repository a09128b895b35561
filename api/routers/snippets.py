"""Code snippets for the docs pages, and user reports about them.

`GET /v1/snippets` serves one snippet of a named API description;
`POST /v1/snippets/reports` records a reader's report about a snippet.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field

from api.problems import Problem
from portal.snippets import LANGUAGES, SnippetError
from portal.snippets.catalog import CATALOG, catalog_snippets, specs_dir
from portal.snippets.reports import ReportStore

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/snippets", tags=["snippets"])

SNIPPET_REPORTS = Counter(
    "portal_snippet_reports_total",
    "Reports readers filed about a code snippet, by snippet language.",
    ["lang"],
)
for _language in LANGUAGES:
    SNIPPET_REPORTS.labels(lang=_language)

LanguageKey = Literal["curl", "python", "javascript", "go", "java", "csharp"]
REPORTS_FILE = "snippet-reports.jsonl"


class SnippetOut(BaseModel):
    """One code sample."""

    spec: str = Field(description="Name of the API description, such as twilio-verify-v2.")
    operation: str = Field(description="operationId of the operation.")
    method: str = Field(description="HTTP method of the operation.")
    path: str = Field(description="Path template of the operation.")
    lang: str = Field(description="Language key.")
    template_version: int = Field(
        description="Version of the reviewed template that produced the code."
    )
    filename: str = Field(description="Suggested file name.")
    code: str = Field(description="The snippet source.")


class SnippetReportIn(BaseModel):
    """A reader's report that a snippet is wrong, broken or unsafe."""

    model_config = ConfigDict(extra="forbid")

    spec: str | None = Field(
        None, max_length=100, description="Name of the API description, if known."
    )
    operation: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="operationId the snippet belongs to.",
    )
    lang: LanguageKey = Field(description="Language key of the snippet.")
    template_version: int = Field(
        ge=1, le=100_000, description="Template version from the snippet header."
    )
    text: str = Field(min_length=1, max_length=4000, description="What is wrong with the snippet.")


class SnippetReportOut(BaseModel):
    """The stored report."""

    status: Literal["recorded"]
    received_at: str


def get_specs_dir(request: Request) -> Path:
    """Return the folder of API descriptions: `app.state.snippet_specs_dir`, else the default."""
    return getattr(request.app.state, "snippet_specs_dir", None) or specs_dir()


def get_report_store(request: Request) -> ReportStore:
    """Return the app's report store, created in the state directory on first use."""
    store = getattr(request.app.state, "snippet_reports", None)
    if store is None:
        from portal.settings import get_settings

        store = ReportStore(get_settings().state_dir / REPORTS_FILE)
        request.app.state.snippet_reports = store
    return store


def _invalid_choice(status: int, parameter: str, value: str, choices: list[str]) -> Problem:
    return Problem(
        status,
        "Unknown snippet" if status == 404 else "Invalid request",
        f"Unknown {parameter} {value!r}; choose one of: {', '.join(choices)}.",
        type_="unknown-snippet" if status == 404 else "invalid-request",
        parameter=parameter,
        choices=choices,
    )


@router.get("", response_model=SnippetOut)
def get_snippet(
    spec: str = Query(..., max_length=100, description="Name of the API description."),
    operation: str = Query(..., max_length=200, description="operationId of the operation."),
    lang: str = Query(..., max_length=20, description="Language key."),
    directory: Path = Depends(get_specs_dir),
) -> SnippetOut:
    """Return one snippet. Unknown `lang` is a 400; unknown `spec` or `operation` a 404."""
    if lang not in LANGUAGES:
        raise _invalid_choice(400, "lang", lang, list(LANGUAGES))
    if spec not in CATALOG:
        raise _invalid_choice(404, "spec", spec, list(CATALOG))
    try:
        snippets = catalog_snippets(spec, directory)
    except FileNotFoundError:
        log.error("snippet spec file missing spec=%s dir=%s", spec, directory)
        raise Problem(
            503,
            "Spec unavailable",
            f"The API description {spec!r} is not available on this server.",
            type_="spec-unavailable",
        ) from None
    except SnippetError as exc:
        log.error("snippet generation failed spec=%s error=%s", spec, exc)
        raise Problem(
            500,
            "Snippet generation failed",
            f"Snippets for {spec!r} could not be generated.",
            type_="snippet-generation-failed",
        ) from None
    matches = [s for s in snippets if s.operation_id == operation and s.language == lang]
    if not matches:
        operations = list(dict.fromkeys(s.operation_id for s in snippets))
        raise _invalid_choice(404, "operation", operation, operations)
    snippet = matches[0]
    return SnippetOut(
        spec=spec,
        operation=snippet.operation_id,
        method=snippet.method,
        path=snippet.path,
        lang=snippet.language,
        template_version=snippet.template_version,
        filename=snippet.filename,
        code=snippet.code,
    )


@router.post("/reports", response_model=SnippetReportOut, status_code=202)
def report_snippet(
    report: SnippetReportIn, store: ReportStore = Depends(get_report_store)
) -> SnippetReportOut:
    """Record a reader's report about a snippet and count it by language."""
    if report.spec is not None and report.spec not in CATALOG:
        raise _invalid_choice(400, "spec", report.spec, list(CATALOG))
    record = store.append(report.model_dump())
    SNIPPET_REPORTS.labels(lang=report.lang).inc()
    log.info(
        "snippet report recorded lang=%s operation=%s template_version=%d",
        report.lang,
        report.operation,
        report.template_version,
    )
    return SnippetReportOut(status="recorded", received_at=record["received_at"])
