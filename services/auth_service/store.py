"""SQLite storage of the local auth-service: keys by HMAC of their secret, users, TOTP state.

No secret is stored: a key is found by the HMAC-SHA256 of its secret under
the service's pepper, and a password by its scrypt hash. A secret carries
about 190 random bits, so a fast keyed hash is enough for it, while
passwords need the slow, salted scrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp

from portal.keys.format import KeyEnvironment, generate_secret, last_four, secret_prefix

TOTP_INTERVAL_SECONDS = 30
# One step of clock drift either way, as RFC 6238 section 5.2 recommends.
TOTP_VALID_WINDOW = 1

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    key_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    environment TEXT NOT NULL,
    scopes TEXT NOT NULL,
    prefix TEXT NOT NULL,
    last_four TEXT NOT NULL,
    secret_hmac BLOB NOT NULL UNIQUE,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    revoked_at REAL,
    created_by TEXT NOT NULL,
    revoked_by TEXT
);
CREATE INDEX IF NOT EXISTS keys_by_tenant ON keys (tenant_id, created_at);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    -- NOTE: stored as-is because verifying needs it; encrypt at rest outside local use.
    totp_secret TEXT NOT NULL,
    roles TEXT NOT NULL,
    last_totp_step INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class StoredKey:
    """A key row; the secret itself is not stored."""

    key_id: str
    tenant_id: str
    name: str
    environment: KeyEnvironment
    scopes: tuple[str, ...]
    prefix: str
    last_four: str
    revoked: bool
    created_at: float
    revoked_at: float | None
    created_by: str


@dataclass(frozen=True)
class StoredUser:
    """A portal user row, without the password hash and TOTP secret."""

    user_id: str
    tenant_id: str
    email: str
    roles: tuple[str, ...]


class EmailTakenError(Exception):
    """A user with this email already exists."""


def hash_password(password: str) -> str:
    """Hash a password with scrypt and a random salt, as `scrypt$N$r$p$salt$hash`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${encoded[0]}${encoded[1]}"


def check_password(password: str, stored: str) -> bool:
    """Return True when `password` matches the scrypt hash `stored`, in constant time."""
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))


# Checked when an email is unknown, so the response time does not tell
# an attacker which emails have accounts.
_DECOY_PASSWORD_HASH = hash_password(secrets.token_urlsafe(16))


class AuthStore:
    """Keys and users of every tenant in one SQLite file.

    Args:
        path: SQLite file; its folder is created.
        pepper: HMAC key of the secret hashes. Changing it makes every key unverifiable.
    """

    def __init__(self, path: Path, pepper: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._pepper = pepper
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _hmac(self, secret: str) -> bytes:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).digest()

    @staticmethod
    def _key(row: sqlite3.Row) -> StoredKey:
        return StoredKey(
            key_id=row["key_id"],
            tenant_id=row["tenant_id"],
            name=row["name"],
            environment=KeyEnvironment(row["environment"]),
            scopes=tuple(json.loads(row["scopes"])),
            prefix=row["prefix"],
            last_four=row["last_four"],
            revoked=bool(row["revoked"]),
            created_at=row["created_at"],
            revoked_at=row["revoked_at"],
            created_by=row["created_by"],
        )

    @staticmethod
    def _user(row: sqlite3.Row) -> StoredUser:
        return StoredUser(
            user_id=row["user_id"],
            tenant_id=row["tenant_id"],
            email=row["email"],
            roles=tuple(json.loads(row["roles"])),
        )

    def create_key(
        self,
        tenant_id: str,
        name: str,
        environment: KeyEnvironment,
        scopes: list[str],
        created_by: str,
    ) -> tuple[StoredKey, str]:
        """Create a key and return it with its secret, which is not stored."""
        secret = generate_secret(environment)
        key_id = "key_" + secrets.token_hex(10)
        self._db.execute(
            "INSERT INTO keys (key_id, tenant_id, name, environment, scopes, prefix, last_four,"
            " secret_hmac, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key_id,
                tenant_id,
                name,
                environment.value,
                json.dumps(scopes),
                secret_prefix(environment),
                last_four(secret),
                self._hmac(secret),
                time.time(),
                created_by,
            ),
        )
        key = self.get_key(tenant_id, key_id)
        assert key is not None
        return key, secret

    def list_keys(self, tenant_id: str) -> list[StoredKey]:
        """Return a tenant's keys, oldest first."""
        rows = self._db.execute(
            "SELECT * FROM keys WHERE tenant_id = ? ORDER BY created_at, key_id", (tenant_id,)
        )
        return [self._key(row) for row in rows]

    def get_key(self, tenant_id: str, key_id: str) -> StoredKey | None:
        """Return a tenant's key, or None when the tenant has no such key."""
        row = self._db.execute(
            "SELECT * FROM keys WHERE tenant_id = ? AND key_id = ?", (tenant_id, key_id)
        ).fetchone()
        return self._key(row) if row else None

    def revoke_key(self, tenant_id: str, key_id: str, revoked_by: str) -> StoredKey | None:
        """Revoke a key; a revoked key stays as it was. None when the tenant has no such key."""
        self._db.execute(
            "UPDATE keys SET revoked = 1, revoked_at = ?, revoked_by = ?"
            " WHERE tenant_id = ? AND key_id = ? AND revoked = 0",
            (time.time(), revoked_by, tenant_id, key_id),
        )
        return self.get_key(tenant_id, key_id)

    def verify_key(self, secret: str) -> StoredKey | None:
        """Return the active key whose secret this is, or None."""
        row = self._db.execute(
            "SELECT * FROM keys WHERE secret_hmac = ? AND revoked = 0", (self._hmac(secret),)
        ).fetchone()
        return self._key(row) if row else None

    def create_user(
        self, tenant_id: str, email: str, password: str, roles: list[str], totp_secret: str
    ) -> StoredUser:
        """Create a portal user with `totp_secret` enrolled.

        Raises:
            EmailTakenError: A user with this email exists.
        """
        user_id = "usr_" + secrets.token_hex(10)
        try:
            self._db.execute(
                "INSERT INTO users (user_id, tenant_id, email, password_hash, totp_secret, roles,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    user_id,
                    tenant_id,
                    email,
                    hash_password(password),
                    totp_secret,
                    json.dumps(sorted(roles)),
                    time.time(),
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise EmailTakenError(email) from exc
        return StoredUser(user_id, tenant_id, email, tuple(sorted(roles)))

    def authenticate_user(self, email: str, password: str) -> StoredUser | None:
        """Return the user when email and password match, else None."""
        row = self._db.execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone()
        if row is None:
            check_password(password, _DECOY_PASSWORD_HASH)
            return None
        return self._user(row) if check_password(password, row["password_hash"]) else None

    def user_totp_secret(self, email: str) -> str | None:
        """Return the TOTP secret enrolled for `email`, for `portal users code` on a local stack."""
        row = self._db.execute("SELECT totp_secret FROM users WHERE email = ?", (email,)).fetchone()
        return row["totp_secret"] if row else None

    def verify_totp(self, user_id: str, code: str, now: float | None = None) -> bool:
        """Accept `code` once when it matches a time step within the window after the last used one.

        Rejecting a step at or before the last accepted one stops a code seen
        on a shared screen from being replayed, as RFC 6238 section 5.2 asks.
        """
        row = self._db.execute(
            "SELECT totp_secret, last_totp_step FROM users WHERE user_id = ?", (user_id,)
        ).fetchone()
        if row is None or not (code.isdigit() and len(code) == 6):
            return False
        totp = pyotp.TOTP(row["totp_secret"], interval=TOTP_INTERVAL_SECONDS)
        current_step = int((time.time() if now is None else now) // TOTP_INTERVAL_SECONDS)
        for step in range(current_step - TOTP_VALID_WINDOW, current_step + TOTP_VALID_WINDOW + 1):
            if step <= row["last_totp_step"]:
                continue
            if hmac.compare_digest(totp.generate_otp(step), code):
                # The condition on the old step makes two concurrent uses of one code
                # accept at most one.
                cursor = self._db.execute(
                    "UPDATE users SET last_totp_step = ? WHERE user_id = ? AND last_totp_step < ?",
                    (step, user_id, step),
                )
                return cursor.rowcount == 1
        return False
