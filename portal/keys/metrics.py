"""Prometheus metrics of API keys and portal sign-in (`portal_keys_*`), labels bounded."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SIGN_IN_FAILURES = Counter(
    "portal_keys_sign_in_failures_total",
    "Rejected sign-ins, by what was wrong: password or totp.",
    ["reason"],
)
MFA_FAILURES = Counter(
    "portal_keys_mfa_failures_total",
    "Rejected TOTP codes, by stage: sign_in or step_up.",
    ["stage"],
)
KEYS_CREATED = Counter(
    "portal_keys_created_total", "API keys created, by environment: live or test.", ["environment"]
)
REVEALS = Counter(
    "portal_keys_reveals_total",
    "Reveal requests, by outcome: revealed, gone (already revealed or expired) or restored "
    "(copy put back after a KMS failure).",
    ["outcome"],
)
REVOCATIONS_REQUESTED = Counter(
    "portal_keys_revocations_requested_total", "Revocations accepted by the API."
)
REVOCATIONS_PENDING = Gauge(
    "portal_keys_revocations_pending",
    "Running KeyRevocationWorkflows, as Temporal visibility counts them.",
)
REVOCATION_OLDEST_PENDING_AGE = Gauge(
    "portal_keys_revocation_oldest_pending_age_seconds",
    "Age in seconds of the oldest running KeyRevocationWorkflow; 0 when none runs.",
)
