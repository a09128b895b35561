"""Prometheus metrics of docs releases and of the CDN edge's freshness.

Labels are bounded: `site` comes from settings, `provider` and `outcome`
from fixed lists. Release ids never become labels.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EDGE_STALE = Gauge(
    "portal_docs_edge_stale",
    "1 when the manifest the CDN edge serves differs from the origin's current release, else 0.",
    ["site"],
)
EDGE_CHECKED = Gauge(
    "portal_docs_edge_check_timestamp_seconds",
    "Unix time of the last comparison of the edge's manifest hash with the origin's.",
    ["site"],
)
RELEASE_STALE = Gauge(
    "portal_docs_release_stale",
    "1 while a docs release stays open because the edge still serves older content.",
    ["site"],
)
PURGES = Counter(
    "portal_docs_purges",
    "CDN purge requests by provider (varnish, cloudfront) and outcome (ok, rejected, failed).",
    ["provider", "outcome"],
)
UPLOADED_FILES = Counter(
    "portal_docs_upload_files",
    "Files of a release put to the S3 origin (uploaded) or found there already (skipped).",
    ["outcome"],
)
