"""API keys: secret format, the one-time reveal copy, revocation state and audit events."""
