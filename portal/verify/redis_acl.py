"""Detection of anomalous Redis access: the ACL log and unknown clients, as metrics.

The portal connects to Redis as a least-privilege ACL user
(`deploy/redis/users.acl`). Redis logs every command, key or channel that
ACL denies and every failed login; this job reads that log as the admin
user and counts new entries by reason and user class, and counts
connections authenticated as anyone but the portal and the admin. A stolen
portal password used to read other keys, or an unknown client, shows up
within one interval.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from urllib.parse import unquote, urlparse

from redis.asyncio import Redis
from redis.exceptions import RedisError

from portal.verify.metrics import REDIS_ACL_DENIED, REDIS_ACL_LOG_UP, REDIS_UNKNOWN_CLIENTS

log = logging.getLogger(__name__)

ACL_LOG_READ_COUNT = 1024
REASONS = ("command", "key", "channel", "auth")

# What the portal's ACL user may do: its own keys (`portal:*`, plus `LIMITS:*`
# where the `limits` library keeps the API's rate-limit windows), reads,
# writes, Lua scripts and transactions, and nothing @dangerous: no FLUSHALL,
# KEYS, CONFIG, DEBUG, MONITOR, ACL or CLIENT KILL.
PORTAL_RULES = (
    "resetkeys ~portal:* ~LIMITS:* resetchannels &portal:* "
    "-@all +@read +@write +@scripting +@transaction +@connection +ping +time "
    "-@dangerous -script|flush -script|kill -function"
)
# The admin user reads the ACL log and the client list for the detection job.
ADMIN_RULES = "~* &* +@all"


def redis_username(url: str) -> str:
    """Return the ACL user a Redis URL logs in as (`default` when it names none)."""
    return urlparse(url).username or "default"


def _password_rule(url: str) -> str:
    password = urlparse(url).password
    if password is None:
        return "nopass"
    return "#" + hashlib.sha256(unquote(password).encode()).hexdigest()


def render_acl_file(portal_url: str, admin_url: str) -> str:
    """Return a Redis ACL file for the users and passwords of the two URLs.

    The portal's user gets `PORTAL_RULES`; the admin's gets `ADMIN_RULES`.
    Passwords are stored as SHA-256 hashes. When the portal URL names no
    user, the `default` user gets the portal's rules; otherwise `default` is
    switched off, so every client must log in.
    """
    portal_user = redis_username(portal_url)
    admin_user = redis_username(admin_url)
    if admin_user in ("default", portal_user) or urlparse(admin_url).password is None:
        raise ValueError("the admin Redis URL must name its own user and a password")
    lines = [f"user {portal_user} on {_password_rule(portal_url)} {PORTAL_RULES}"]
    lines.append(f"user {admin_user} on {_password_rule(admin_url)} {ADMIN_RULES}")
    if portal_user != "default":
        lines.append("user default off resetkeys -@all")
    return "\n".join(lines) + "\n"


class AclLogWatcher:
    """Reads the Redis ACL log and client list and exports what is new as metrics.

    Args:
        admin: Redis client logged in as the admin user.
        portal_user: ACL user name of the portal.
        admin_user: ACL user name of the admin.
    """

    def __init__(self, admin: Redis, portal_user: str, admin_user: str) -> None:
        self._admin = admin
        self._portal_user = portal_user
        self._admin_user = admin_user
        self._previous: Counter[tuple[str, str]] | None = None

    def _user_class(self, username: str) -> str:
        if username == self._portal_user:
            return "portal"
        if username == self._admin_user:
            return "admin"
        return "other"

    async def poll(self) -> dict[tuple[str, str], int]:
        """Read the ACL log once, add new entries to the counters and return them.

        The first poll only takes a baseline, so entries older than the
        process are not counted again after a restart.
        """
        try:
            entries = await self._admin.acl_log(ACL_LOG_READ_COUNT)
            clients = await self._admin.client_list()
        except (RedisError, OSError) as exc:
            REDIS_ACL_LOG_UP.set(0)
            log.warning("Redis ACL log read failed error=%r", exc)
            return {}
        REDIS_ACL_LOG_UP.set(1)

        totals: Counter[tuple[str, str]] = Counter()
        for entry in entries:
            reason = entry.get("reason", "")
            reason = reason if reason in REASONS else "other"
            totals[(reason, self._user_class(entry.get("username", "")))] += int(
                entry.get("count", 1)
            )
        new: dict[tuple[str, str], int] = {}
        if self._previous is not None:
            for labels, total in totals.items():
                # NOTE: a total below the previous one means the log was reset
                # or trimmed at acllog-max-len; the whole total then counts as
                # new, which can undercount entries evicted between two reads.
                before = self._previous.get(labels, 0)
                delta = total - before if total >= before else total
                if delta:
                    new[labels] = delta
                    REDIS_ACL_DENIED.labels(*labels).inc(delta)
        self._previous = totals

        known = (self._portal_user, self._admin_user)
        unknown = [client for client in clients if client.get("user") not in known]
        REDIS_UNKNOWN_CLIENTS.set(len(unknown))
        if new:
            log.warning("Redis ACL denials new=%s", {f"{r}/{u}": n for (r, u), n in new.items()})
        if unknown:
            log.warning(
                "Redis clients of unknown users count=%d users=%s",
                len(unknown),
                sorted({client.get("user", "?") for client in unknown}),
            )
        return new
