"""Caps on Verify traffic: sessions and dispatches per tenant and recipient, and a global budget.

Each cap is a fixed-window counter in Redis. Several caps are checked and
consumed in one Lua script, all or none, so a request rejected by one cap
consumes no other. The limits come from settings in the
`N per [M] second|minute|hour|day` form, parsed by the `limits` library;
its storage is not used because it consumes caps one at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import limits

from portal.settings import Settings

CAP_PREFIX = "portal:verify:cap"

# A Lua function shared by the scripts that check caps. Caps are passed as
# KEYS[first..first+count-1] with ARGV[arg], ARGV[arg+1] = limit, window (ms)
# for each. `consume` = false only checks. Returns the 1-based index of the
# first exhausted cap (0 when none) and its milliseconds to reset.
CHECK_CAPS_LUA = """
local function check_caps(first, arg, count, consume)
  for i = 0, count - 1 do
    local used = tonumber(redis.call('GET', KEYS[first + i]) or '0')
    if used >= tonumber(ARGV[arg + 2 * i]) then
      local ttl = redis.call('PTTL', KEYS[first + i])
      if ttl < 0 then ttl = tonumber(ARGV[arg + 2 * i + 1]) end
      return i + 1, ttl
    end
  end
  if consume then
    for i = 0, count - 1 do
      if redis.call('INCR', KEYS[first + i]) == 1 then
        redis.call('PEXPIRE', KEYS[first + i], ARGV[arg + 2 * i + 1])
      end
    end
  end
  return 0, 0
end
"""


class CapName(StrEnum):
    """Caps on Verify traffic, as named in 429 responses and metrics."""

    TENANT_SESSIONS = "tenant_sessions"
    RECIPIENT_SESSIONS = "recipient_sessions"
    TENANT_DISPATCHES = "tenant_dispatches"
    RECIPIENT_DISPATCHES = "recipient_dispatches"
    GLOBAL_DISPATCHES = "global_dispatches"


@dataclass(frozen=True)
class Cap:
    """One cap applied to one subject (a tenant, a recipient or the whole portal)."""

    name: CapName
    subject: str
    limit: int
    window_ms: int

    @property
    def key(self) -> str:
        """Redis key of the cap's counter."""
        return f"{CAP_PREFIX}:{self.name}:{self.subject}"


class CapExceeded(Exception):
    """A cap is exhausted.

    Args:
        cap: Name of the exhausted cap.
        retry_after: Whole seconds until its window resets.
        limit: Human-readable limit, such as `5 per 10 minutes`.
    """

    def __init__(self, cap: CapName, retry_after: int, limit: str) -> None:
        super().__init__(f"cap {cap} ({limit}) exhausted; retry in {retry_after} s")
        self.cap = cap
        self.retry_after = retry_after
        self.limit = limit


class CapPolicy:
    """Limits of every cap, read from settings.

    Args:
        settings: Portal settings; the `verify_cap_*` fields are read.
    """

    def __init__(self, settings: Settings) -> None:
        self.described = {
            CapName.TENANT_SESSIONS: settings.verify_cap_tenant_sessions,
            CapName.RECIPIENT_SESSIONS: settings.verify_cap_recipient_sessions,
            CapName.TENANT_DISPATCHES: settings.verify_cap_tenant_dispatches,
            CapName.RECIPIENT_DISPATCHES: settings.verify_cap_recipient_dispatches,
            CapName.GLOBAL_DISPATCHES: settings.verify_cap_global_dispatches,
        }
        self._items = {name: limits.parse(text) for name, text in self.described.items()}

    def cap(self, name: CapName, subject: str) -> Cap:
        """Return cap `name` applied to `subject`."""
        item = self._items[name]
        return Cap(name, subject, item.amount, item.get_expiry() * 1000)

    def session_caps(self, tenant_id: str, recipient: str) -> list[Cap]:
        """Return the caps a new session consumes."""
        return [
            self.cap(CapName.TENANT_SESSIONS, tenant_id),
            self.cap(CapName.RECIPIENT_SESSIONS, recipient),
        ]

    def dispatch_caps(self, tenant_id: str, recipient: str) -> list[Cap]:
        """Return the caps each sent code consumes."""
        return [
            self.cap(CapName.GLOBAL_DISPATCHES, "all"),
            self.cap(CapName.TENANT_DISPATCHES, tenant_id),
            self.cap(CapName.RECIPIENT_DISPATCHES, recipient),
        ]

    def exceeded(self, caps: list[Cap], index: int, reset_ms: int) -> CapExceeded:
        """Build the error for the `index`-th (1-based) cap of `caps`, as the Lua script returns."""
        cap = caps[index - 1]
        return CapExceeded(cap.name, max(1, math.ceil(reset_ms / 1000)), self.described[cap.name])


def cap_arguments(caps: list[Cap]) -> tuple[list[str], list[int]]:
    """Return the KEYS and ARGV entries that `check_caps` reads for `caps`."""
    keys = [cap.key for cap in caps]
    args: list[int] = []
    for cap in caps:
        args += [cap.limit, cap.window_ms]
    return keys, args
