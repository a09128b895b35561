"""Format of API key secrets: `sk_<environment>_<32 random base62><6 checksum base62>`.

The readable prefix lets secret scanners find leaked keys and tell live from
test keys; the CRC32 checksum lets them, and the portal, reject random
look-alikes offline, before any call to the auth-service. `docs/api-keys.md`
documents the format for scanner vendors.
"""

from __future__ import annotations

import re
import secrets
import zlib
from enum import StrEnum

BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 32  # 32 base62 characters carry log2(62) * 32 ~= 190 bits.
CHECKSUM_LENGTH = 6  # 62**6 > 2**32, so any CRC32 fits.

SECRET_PATTERN = re.compile(
    rf"\bsk_(?P<environment>live|test)_(?P<body>[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}})\b"
)


class KeyEnvironment(StrEnum):
    """Where a key works: `live` sends real messages, `test` never does."""

    LIVE = "live"
    TEST = "test"


def secret_prefix(environment: KeyEnvironment) -> str:
    """Return the readable start of a secret, such as `sk_live_`."""
    return f"sk_{environment.value}_"


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62_ALPHABET[remainder])
    return "".join(reversed(digits))


def _checksum(prefix_and_random: str) -> str:
    return _base62(zlib.crc32(prefix_and_random.encode("ascii")), CHECKSUM_LENGTH)


def generate_secret(environment: KeyEnvironment) -> str:
    """Generate a new secret for `environment` from the operating system's CSPRNG."""
    random_part = "".join(secrets.choice(BASE62_ALPHABET) for _ in range(RANDOM_LENGTH))
    head = secret_prefix(environment) + random_part
    return head + _checksum(head)


def parse_secret(candidate: str) -> KeyEnvironment | None:
    """Return the environment of a well-formed secret, or None for anything else.

    Well-formed means the prefix, length, alphabet and checksum all match; it
    says nothing about whether the key exists or is active.
    """
    match = SECRET_PATTERN.fullmatch(candidate)
    if match is None:
        return None
    head, checksum = candidate[:-CHECKSUM_LENGTH], candidate[-CHECKSUM_LENGTH:]
    if not secrets.compare_digest(_checksum(head), checksum):
        return None
    return KeyEnvironment(match["environment"])


def last_four(secret: str) -> str:
    """Return the last four characters of a secret, shown to tell keys apart."""
    return secret[-4:]
