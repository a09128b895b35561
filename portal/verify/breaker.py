"""Circuit breakers per channel, with their state in Redis so every worker shares them.

A breaker opens when, within a sliding window, a channel has seen at least
`min_calls` sends and the failed share reaches `failure_ratio`. While open
the channel is skipped, so new sessions start on the next channel. After
`open_seconds` one probe send may go through (half-open): success closes the
breaker, failure opens it again.

aiobreaker, the portal's breaker for in-process clients, is not used here:
its Redis storage is synchronous and it counts consecutive failures, while
this breaker must be shared across workers and react to a failure rate.
"""

from __future__ import annotations

import logging
import time
from enum import StrEnum

from redis.asyncio import Redis

from portal.settings import Settings
from portal.verify.metrics import CHANNEL_CIRCUIT_STATE

log = logging.getLogger(__name__)

BREAKER_PREFIX = "portal:verify:breaker"
BUCKETS = 10


class BreakerState(StrEnum):
    """State of a channel breaker."""

    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


GAUGE_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}

# KEYS[1]: breaker hash. ARGV: now (ms), open (ms). Returns state and whether
# this call may send. In half-open state one caller at a time gets the probe.
_ALLOW = """
local forced = redis.call('HGET', KEYS[1], 'forced')
if forced then return {forced, forced == 'open' and 0 or 1} end
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local now = tonumber(ARGV[1])
if state == 'closed' then return {state, 1} end
if state == 'open' then
  if now - tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0') < tonumber(ARGV[2]) then
    return {state, 0}
  end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_at', now)
  return {'half_open', 1}
end
if now - tonumber(redis.call('HGET', KEYS[1], 'probe_at') or '0') >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'probe_at', now)
  return {state, 1}
end
return {state, 0}
"""

# KEYS[1]: breaker hash. ARGV: now (ms), "1" success / "0" failure, window
# (ms), min calls, failure ratio, open (ms). Returns the new state.
_RECORD = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[3])
local bucket_ms = math.max(1, math.floor(window / 10))
local bucket = math.floor(now / bucket_ms)
local field = (ARGV[2] == '1' and 'ok:' or 'fail:') .. bucket
redis.call('HINCRBY', KEYS[1], field, 1)
local ok, failed = 0, 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local kind, index = string.match(fields[i], '^(%a+):(%d+)$')
  if kind then
    if tonumber(index) <= bucket - 10 then
      redis.call('HDEL', KEYS[1], fields[i])
    elseif kind == 'ok' then
      ok = ok + tonumber(fields[i + 1])
    else
      failed = failed + tonumber(fields[i + 1])
    end
  end
end
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local success = ARGV[2] == '1'
if state == 'half_open' then
  if success then
    state = 'closed'
    for i = 1, #fields, 2 do
      if string.match(fields[i], '^%a+:%d+$') then redis.call('HDEL', KEYS[1], fields[i]) end
    end
  else
    state = 'open'
    redis.call('HSET', KEYS[1], 'opened_at', now)
  end
elseif state == 'closed' then
  local total = ok + failed
  if total >= tonumber(ARGV[4]) and failed / total >= tonumber(ARGV[5]) then
    state = 'open'
    redis.call('HSET', KEYS[1], 'opened_at', now)
  end
end
redis.call('HSET', KEYS[1], 'state', state)
if redis.call('HEXISTS', KEYS[1], 'forced') == 0 then
  redis.call('PEXPIRE', KEYS[1], math.max(window, tonumber(ARGV[6])) * 4)
end
return state
"""


class ChannelBreakers:
    """The breakers of every channel, shared through Redis.

    Args:
        redis: Redis client.
        settings: Portal settings; the `verify_breaker_*` fields are read.
    """

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._window_ms = settings.verify_breaker_window_seconds * 1000
        self._min_calls = settings.verify_breaker_min_calls
        self._ratio = settings.verify_breaker_failure_ratio
        self._open_ms = int(settings.verify_breaker_open_seconds * 1000)
        self._allow = redis.register_script(_ALLOW)
        self._record = redis.register_script(_RECORD)

    async def allow(self, channel: str) -> bool:
        """Return True when a send on `channel` may go ahead: closed, or the half-open probe."""
        state, allowed = await self._allow(
            keys=[breaker_key(channel)], args=[_now_ms(), self._open_ms]
        )
        self._export(channel, BreakerState(state.decode()))
        return bool(allowed)

    async def state(self, channel: str) -> BreakerState:
        """Return the state of `channel`'s breaker without taking the half-open probe."""
        [current] = await self.states([channel])
        return current

    async def states(self, channels: list[str]) -> list[BreakerState]:
        """Return the state of each channel's breaker in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.hmget(breaker_key(channel), ["forced", "state"])
            replies = await pipe.execute()
        states = []
        for channel, (forced, state) in zip(channels, replies, strict=True):
            current = BreakerState((forced or state or b"closed").decode())
            self._export(channel, current)
            states.append(current)
        return states

    async def record(self, channel: str, success: bool) -> BreakerState:
        """Count one send outcome on `channel`; return the breaker's state after it."""
        raw = await self._record(
            keys=[breaker_key(channel)],
            args=[
                _now_ms(),
                "1" if success else "0",
                self._window_ms,
                self._min_calls,
                self._ratio,
                self._open_ms,
            ],
        )
        state = BreakerState(raw.decode())
        if state is not BreakerState.CLOSED:
            log.warning("channel breaker %s channel=%s success=%s", state, channel, success)
        self._export(channel, state)
        return state

    async def force(self, channel: str, state: BreakerState | None) -> None:
        """Hold `channel`'s breaker open or closed regardless of outcomes; None releases it.

        Operators use this to drain a channel ahead of a planned outage, or to
        keep one in use while its failures are known to be harmless.
        """
        if state is None:
            await self._redis.hdel(breaker_key(channel), "forced")
        else:
            await self._redis.hset(breaker_key(channel), "forced", state.value)
            await self._redis.persist(breaker_key(channel))
        log.warning("channel breaker forced channel=%s state=%s", channel, state or "released")

    async def reset(self, channel: str) -> None:
        """Forget every outcome of `channel` and close its breaker."""
        await self._redis.delete(breaker_key(channel))
        self._export(channel, BreakerState.CLOSED)

    @staticmethod
    def _export(channel: str, state: BreakerState) -> None:
        CHANNEL_CIRCUIT_STATE.labels(channel).set(GAUGE_VALUE[state])


def breaker_key(channel: str) -> str:
    """Return the Redis key of a channel's breaker hash."""
    return f"{BREAKER_PREFIX}:{channel}"


def _now_ms() -> int:
    return int(time.time() * 1000)
