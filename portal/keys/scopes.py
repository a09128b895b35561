"""Scopes an API key can carry; `api.security.require_scope` checks them per endpoint."""

from __future__ import annotations

from enum import StrEnum


class KeyScope(StrEnum):
    """Permission an API key carries."""

    MESSAGES_SEND = "messages:send"
    MESSAGES_READ = "messages:read"
    VERIFY_SEND = "verify:send"
    VERIFY_CHECK = "verify:check"
    NUMBERS_READ = "numbers:read"


SCOPE_DESCRIPTIONS: dict[KeyScope, str] = {
    KeyScope.MESSAGES_SEND: "Send SMS messages.",
    KeyScope.MESSAGES_READ: "Read message status and history.",
    KeyScope.VERIFY_SEND: "Start phone verifications, which send one-time codes.",
    KeyScope.VERIFY_CHECK: "Check one-time codes of phone verifications.",
    KeyScope.NUMBERS_READ: "Look up phone number details.",
}
