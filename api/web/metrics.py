"""Prometheus metrics of the portal's web pages."""

from __future__ import annotations

from prometheus_client import Counter

# Reasons are a fixed set (see `api.web.csrf.CsrfReason`), so the label stays bounded.
CSRF_REJECTED = Counter(
    "portal_web_csrf_rejected_total",
    "State-changing browser requests rejected by the CSRF check, by reason.",
    ["reason"],
)

# Directives are mapped onto a fixed list (see `api.web.reports.KNOWN_DIRECTIVES`).
CSP_VIOLATIONS = Counter(
    "portal_web_csp_violations_total",
    "Content-Security-Policy violations reported by browsers, by directive.",
    ["directive"],
)

PAGE_VIEWS = Counter(
    "portal_web_page_views_total",
    "HTML pages served by the portal, by page.",
    ["page"],
)
