"""Prometheus metrics of SDK releases, exported by the worker that runs the activities.

Labels are bounded: `language` has four values, `reason` and `state` are
enums, and `version` appears only on the skew gauge, one series per
language at a time.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RELEASES_PARTIAL = Counter(
    "portal_sdk_releases_partial_total",
    "Releases that turned partial: some languages were still missing after their retries.",
)
RELEASES_FINISHED = Counter(
    "portal_sdk_releases_finished_total",
    "Releases that ended, by final state (published, abandoned, rejected).",
    ["state"],
)
PUBLISH_FAILURES = Counter(
    "portal_sdk_publish_failures_total",
    "Failed publish attempts per language, by reason (unavailable, conflict, rejected).",
    ["language", "reason"],
)
PUBLISH_SECONDS = Histogram(
    "portal_sdk_publish_duration_seconds",
    "Time of one successful publish attempt, upload and checks included.",
    ["language"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
RELEASES_PARTIAL_OPEN = Gauge(
    "portal_sdk_partial_releases_open",
    "Releases currently waiting in the partial state for DevRel, per the last skew check.",
)
REGISTRY_UP = Gauge(
    "portal_sdk_registry_up",
    "1 when the last version skew check could read the registry of the language, else 0.",
    ["language"],
)
LATEST_VERSION_SEEN = Gauge(
    "portal_sdk_registry_latest_version_seen_timestamp_seconds",
    "Unix time at which the version skew check last read `version` as the highest release "
    "in the registry of `language` (`none` when it holds no release); one series per language.",
    ["language", "version"],
)
