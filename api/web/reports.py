"""Content-Security-Policy violation reports that browsers post to the portal.

A violation on these pages means either a page bug (a script or style the
policy does not allow) or an injection attempt; both show on the
`portal_web_csp_violations_total` metric and in the API's log.
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request, Response

from api.web.metrics import CSP_VIOLATIONS

log = logging.getLogger(__name__)
router = APIRouter(prefix="/portal", include_in_schema=False)

MAX_REPORT_BYTES = 16 * 1024
KNOWN_DIRECTIVES = frozenset(
    {
        "default-src",
        "script-src",
        "script-src-elem",
        "script-src-attr",
        "style-src",
        "style-src-elem",
        "style-src-attr",
        "img-src",
        "connect-src",
        "form-action",
        "frame-ancestors",
        "base-uri",
        "require-trusted-types-for",
        "trusted-types",
    }
)


def directive_label(report: dict) -> str:
    """Return the violated directive of a CSP report, or `other` for unknown values."""
    directive = report.get("effective-directive") or report.get("violated-directive") or ""
    directive = str(directive).split(" ", 1)[0]
    return directive if directive in KNOWN_DIRECTIVES else "other"


@router.post("/csp-reports", status_code=204)
async def receive_csp_report(request: Request) -> Response:
    """Count a browser's CSP violation report; malformed or oversized reports are dropped."""
    body = await request.body()
    if len(body) > MAX_REPORT_BYTES:
        log.warning("CSP report dropped: %d bytes exceeds %d", len(body), MAX_REPORT_BYTES)
        return Response(status_code=413)
    try:
        document = json.loads(body)
    except ValueError:
        log.warning("CSP report dropped: body is not JSON")
        return Response(status_code=400)
    report = document.get("csp-report") if isinstance(document, dict) else None
    if not isinstance(report, dict):
        log.warning("CSP report dropped: no csp-report member")
        return Response(status_code=400)

    directive = directive_label(report)
    CSP_VIOLATIONS.labels(directive).inc()
    # The document path only; query strings could carry user input.
    page = str(report.get("document-uri", "")).split("?", 1)[0][:200]
    log.warning("CSP violation directive=%s page=%s", directive, page)
    return Response(status_code=204)
