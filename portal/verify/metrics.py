"""Verify metrics: labels are channels, outcomes and cap names, never personal data."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SESSIONS_STARTED = Counter(
    "portal_verify_sessions_started_total",
    "Verify sessions started through the API.",
)
SESSIONS_ENDED = Counter(
    "portal_verify_sessions_ended_total",
    "Verify sessions that reached a final status, by status.",
    ["status"],
)
DISPATCHES = Counter(
    "portal_verify_dispatches_total",
    "Code messages requested from dispatch, by channel and outcome "
    "(accepted, duplicate, unavailable, error, timeout, rejected).",
    ["channel", "outcome"],
)
DELIVERY_REPORTS = Counter(
    "portal_verify_delivery_reports_total",
    "Final delivery reports of sent codes, by channel and status (delivered, failed).",
    ["channel", "status"],
)
CHANNEL_SKIPS = Counter(
    "portal_verify_channel_skips_total",
    "Channels a session passed over without sending, by channel and reason (breaker_open).",
    ["channel", "reason"],
)
CHECKS = Counter(
    "portal_verify_checks_total",
    "Code checks, by result (approved, rejected, invalid_code, already_approved, gone, "
    "too_many_attempts, not_found).",
    ["result"],
)
CAP_REJECTIONS = Counter(
    "portal_verify_cap_rejections_total",
    "Requests and sends rejected by a cap, by cap name.",
    ["cap"],
)
CHANNEL_CIRCUIT_STATE = Gauge(
    "portal_verify_channel_circuit_state",
    "Circuit breaker state per channel as this process last saw it: 0 closed, 1 half-open, 2 open.",
    ["channel"],
)
PEPPER_AGE = Gauge(
    "portal_verify_pepper_age_seconds",
    "Seconds since the current code pepper was installed.",
)
PEPPER_ROTATION_INTERVAL = Gauge(
    "portal_verify_pepper_rotation_interval_seconds",
    "Interval of the pepper rotation schedule, from PORTAL_VERIFY_PEPPER_ROTATION_SECONDS.",
)
PEPPER_ROTATIONS = Counter(
    "portal_verify_pepper_rotations_total",
    "Code pepper versions installed by the rotation workflow.",
)
REDIS_ACL_DENIED = Counter(
    "portal_verify_redis_acl_denied_total",
    "Redis ACL log entries: commands, keys or channels denied and failed logins, by reason "
    "(command, key, channel, auth) and user class (portal, admin, other).",
    ["reason", "user"],
)
REDIS_UNKNOWN_CLIENTS = Gauge(
    "portal_verify_redis_unknown_clients",
    "Redis connections authenticated as a user other than the portal's and the admin's.",
)
REDIS_ACL_LOG_UP = Gauge(
    "portal_verify_redis_acl_log_up",
    "1 when the last read of the Redis ACL log succeeded, else 0.",
)
