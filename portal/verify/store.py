"""Verify sessions in Redis: one hash per session and a set of code HMACs beside it.

Every change that must not race is one Lua script: creating a session
together with its caps, counting a check attempt, approving once, and the
re-read of the session right before each send. The hash stores the number
only encrypted (`number`) and masked (`masked_to`); the set stores codes
only as `pepper_version:hex(HMAC-SHA256)`.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from redis.asyncio import Redis

from portal.verify.caps import CHECK_CAPS_LUA, Cap, CapExceeded, CapPolicy, cap_arguments

SESSION_PREFIX = "portal:verify:session"
# How long a finished session stays readable after its expiry, for GET and 410s.
RETENTION_AFTER_EXPIRY_SECONDS = 3600


class SessionStatus(StrEnum):
    """Status of a Verify session; every status but `pending` is final."""

    PENDING = "pending"
    APPROVED = "approved"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    LOCKED = "locked"
    FAILED = "failed"


# Reads the session's status, turning a pending session past its expiry into
# expired (and dropping its codes). Needs KEYS[1] session, KEYS[2] codes.
_STATUS_LUA = """
local function current_status(now)
  local status, expires_at = unpack(redis.call('HMGET', KEYS[1], 'status', 'expires_at'))
  if not status then return nil end
  if status == 'pending' and now >= tonumber(expires_at) then
    status = 'expired'
    redis.call('HSET', KEYS[1], 'status', status, 'ended_at', now)
    redis.call('DEL', KEYS[2])
  end
  return status
end
"""

# NOTE: cap and breaker keys sit in other Redis Cluster slots than the
# session, so this script and _PREPARE_SEND need one Redis primary.
# KEYS: session, codes, consumed caps, checked caps, channel breakers. ARGV:
# consumed count, checked count, expire-at (ms), channel count, channel
# names, cap arguments, then field/value pairs. Starts the session on the
# first channel whose breaker is not open; returns -1 when all are open.
_CREATE = (
    CHECK_CAPS_LUA
    + """
local consumed, checked = tonumber(ARGV[1]), tonumber(ARGV[2])
local channels = tonumber(ARGV[4])
local first_breaker = 3 + consumed + checked
local channel = nil
for i = 0, channels - 1 do
  local forced, state = unpack(redis.call('HMGET', KEYS[first_breaker + i], 'forced', 'state'))
  if (forced or state or 'closed') ~= 'open' then
    channel = ARGV[5 + i]
    break
  end
end
if not channel then return {-1, 0} end
local cap_arg = 5 + channels
local index, reset = check_caps(3 + consumed, cap_arg + 2 * consumed, checked, false)
if index > 0 then return {consumed + index, reset} end
index, reset = check_caps(3, cap_arg, consumed, true)
if index > 0 then return {index, reset} end
redis.call('HSET', KEYS[1], 'current_channel', channel,
  unpack(ARGV, cap_arg + 2 * (consumed + checked)))
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return {0, 0, channel}
"""
)

# KEYS: session, codes. ARGV: tenant, now (ms). Counts one attempt and
# returns the stored code HMACs, or why no attempt may be made.
_RESERVE_ATTEMPT = (
    _STATUS_LUA
    + """
if redis.call('HGET', KEYS[1], 'tenant') ~= ARGV[1] then return {'not_found'} end
local status = current_status(tonumber(ARGV[2]))
if status ~= 'pending' then return {status} end
local attempts, max_attempts, code_length =
  unpack(redis.call('HMGET', KEYS[1], 'attempts', 'max_attempts', 'code_length'))
if tonumber(attempts) >= tonumber(max_attempts) then return {'exhausted'} end
local attempt = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local result = {'ok', tostring(attempt), max_attempts, code_length}
for _, code in ipairs(redis.call('SMEMBERS', KEYS[2])) do table.insert(result, code) end
return result
"""
)

# KEYS: session, codes. ARGV: "1" when the code matched, attempt number, now (ms).
# Approves once; a miss on the last attempt locks the session.
_FINISH_ATTEMPT = (
    _STATUS_LUA
    + """
local status = current_status(tonumber(ARGV[3]))
if ARGV[1] == '1' then
  if status == 'pending' then
    redis.call('HSET', KEYS[1], 'status', 'approved', 'ended_at', ARGV[3])
    redis.call('DEL', KEYS[2])
    return 'approved'
  end
  return 'conflict:' .. tostring(status)
end
local max_attempts = tonumber(redis.call('HGET', KEYS[1], 'max_attempts'))
if status == 'pending' and tonumber(ARGV[2]) >= max_attempts then
  redis.call('HSET', KEYS[1], 'status', 'locked', 'ended_at', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 'locked'
end
return 'rejected'
"""
)

# KEYS: session, codes, dispatch caps. ARGV: now (ms), channel, code entry,
# cap count, cap arguments. The last word before a send: stops unless the
# session is pending, consumes the dispatch caps once per channel, and
# stores the code's HMAC.
_PREPARE_SEND = (
    CHECK_CAPS_LUA
    + _STATUS_LUA
    + """
local status = current_status(tonumber(ARGV[1]))
if not status then return {'stop', 'missing'} end
if status ~= 'pending' then return {'stop', status} end
local tried = cjson.decode(redis.call('HGET', KEYS[1], 'tried'))
local repeated = 0
for _, entry in ipairs(tried) do
  if entry.channel == ARGV[2] and entry.status ~= 'skipped' then repeated = 1 end
end
if repeated == 0 then
  local index, reset = check_caps(3, 5, tonumber(ARGV[4]), true)
  if index > 0 then return {'capped', tostring(index), tostring(reset)} end
  table.insert(tried, {channel = ARGV[2], status = 'sending', at = tonumber(ARGV[1])})
end
redis.call('SADD', KEYS[2], ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
redis.call('HSET', KEYS[1], 'tried', cjson.encode(tried), 'current_channel', ARGV[2])
return {'ok', tostring(repeated)}
"""
)

# KEYS: session. ARGV: channel, status, message id, now (ms). Updates the
# channel's latest entry, or appends one (for skipped channels).
_UPDATE_TRIED = """
local raw = redis.call('HGET', KEYS[1], 'tried')
if not raw then return 0 end
local tried = cjson.decode(raw)
local found = nil
for i, entry in ipairs(tried) do
  if entry.channel == ARGV[1] then found = i end
end
if found == nil or ARGV[2] == 'skipped' then
  table.insert(tried, {channel = ARGV[1], status = ARGV[2], at = tonumber(ARGV[4])})
else
  tried[found].status = ARGV[2]
  if ARGV[3] ~= '' then tried[found].message_id = ARGV[3] end
end
redis.call('HSET', KEYS[1], 'tried', cjson.encode(tried))
return 1
"""

# KEYS: session, codes. ARGV: final status, reason, now (ms), tenant ('' for
# any). Ends a pending session; returns the status after the call.
_END = (
    _STATUS_LUA
    + """
if ARGV[4] ~= '' and redis.call('HGET', KEYS[1], 'tenant') ~= ARGV[4] then return 'not_found' end
local status = current_status(tonumber(ARGV[3]))
if not status then return 'not_found' end
if status == 'pending' then
  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'ended_reason', ARGV[2], 'ended_at', ARGV[3])
  redis.call('DEL', KEYS[2])
  return ARGV[1]
end
return status
"""
)


@dataclass
class ChannelAttempt:
    """A channel of a session: when it was used and the outcome of its send."""

    channel: str
    status: str
    at: float
    message_id: str | None = None


@dataclass
class SessionRecord:
    """A session as stored in Redis (the number only encrypted and masked)."""

    session_id: str
    tenant_id: str
    key_id: str
    status: SessionStatus
    channels: list[str]
    code_length: int
    locale: str
    created_at: float
    expires_at: float
    attempts: int
    max_attempts: int
    masked_to: str
    recipient: str
    number: str
    current_channel: str | None = None
    ended_reason: str | None = None
    tried: list[ChannelAttempt] = field(default_factory=list)

    @property
    def attempts_remaining(self) -> int:
        """Checks still allowed."""
        return max(0, self.max_attempts - self.attempts)


@dataclass
class AttemptReservation:
    """A counted check attempt and the stored code HMACs to compare against."""

    attempt: int
    max_attempts: int
    code_length: int
    codes: list[tuple[int, bytes]]

    @property
    def attempts_remaining(self) -> int:
        """Checks still allowed after this one."""
        return max(0, self.max_attempts - self.attempt)


@dataclass
class SendContext:
    """Fields a send reads from the session; the number is still encrypted."""

    tenant_id: str
    code_length: int
    locale: str
    expires_at: float
    number: str


@dataclass
class SendDecision:
    """Whether a send may go ahead, from the re-read right before it.

    Attributes:
        proceed: True when the code's HMAC is stored and the send may go ahead.
        status: The session's status, or `missing`.
        repeated: The channel was sent on before (a retried activity).
        cap: The exhausted dispatch cap that stopped the send, if any.
    """

    proceed: bool
    status: str
    repeated: bool = False
    cap: CapExceeded | None = None


class SessionUnavailable(Exception):
    """No check or send may happen, for the reason in `status`.

    `status` is a final session status, `not_found`, or `exhausted` (every
    attempt is taken by checks still running).
    """

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def new_session_id() -> str:
    """Return a new, unguessable session id."""
    return f"vs_{uuid.uuid4().hex}"


def now_ms() -> int:
    """Return the wall clock in milliseconds, the unit every script takes."""
    return int(time.time() * 1000)


class SessionStore:
    """Reads and changes Verify sessions in Redis.

    Args:
        redis: Redis client.
        caps: Cap limits.
    """

    def __init__(self, redis: Redis, caps: CapPolicy) -> None:
        self._redis = redis
        self.caps = caps
        self._create = redis.register_script(_CREATE)
        self._reserve = redis.register_script(_RESERVE_ATTEMPT)
        self._finish = redis.register_script(_FINISH_ATTEMPT)
        self._prepare = redis.register_script(_PREPARE_SEND)
        self._update_tried = redis.register_script(_UPDATE_TRIED)
        self._end = redis.register_script(_END)

    async def create(self, record: SessionRecord, breaker_keys: list[str]) -> str | None:
        """Store a new session after consuming its session caps, all or none.

        The dispatch caps are checked too, without consuming them, so a
        caller whose first code could not be sent gets a 429 now. The
        breakers are read in the same script, which saves a round trip.

        Args:
            record: The session.
            breaker_keys: Breaker hash of each of `record.channels`, in order.

        Returns:
            The channel the session starts on, or None (and nothing stored)
            when every channel's breaker is open.

        Raises:
            CapExceeded: naming the first exhausted cap; nothing was stored.
        """
        consumed = self.caps.session_caps(record.tenant_id, record.recipient)
        checked: list[Cap] = self.caps.dispatch_caps(record.tenant_id, record.recipient)[1:]
        keys, cap_args = cap_arguments(consumed + checked)
        fields = {
            "tenant": record.tenant_id,
            "key_id": record.key_id,
            "status": record.status.value,
            "channels": ",".join(record.channels),
            "code_length": record.code_length,
            "locale": record.locale,
            "created_at": int(record.created_at * 1000),
            "expires_at": int(record.expires_at * 1000),
            "attempts": 0,
            "max_attempts": record.max_attempts,
            "masked_to": record.masked_to,
            "recipient": record.recipient,
            "number": record.number,
            "tried": "[]",
        }
        flat = [item for pair in fields.items() for item in pair]
        expire_at = int((record.expires_at + RETENTION_AFTER_EXPIRY_SECONDS) * 1000)
        result = await self._create(
            keys=[
                session_key(record.session_id),
                codes_key(record.session_id),
                *keys,
                *breaker_keys,
            ],
            args=[
                len(consumed),
                len(checked),
                expire_at,
                len(record.channels),
                *record.channels,
                *cap_args,
                *flat,
            ],
        )
        index, reset = int(result[0]), int(result[1])
        if index == -1:
            return None
        if index:
            raise self.caps.exceeded(consumed + checked, index, reset)
        return result[2].decode()

    async def delete(self, session_id: str) -> None:
        """Remove a session that never started (its workflow could not be started)."""
        await self._redis.delete(session_key(session_id), codes_key(session_id))

    async def get(self, session_id: str, tenant_id: str | None = None) -> SessionRecord | None:
        """Return a session, or None when it does not exist or belongs to another tenant."""
        raw = await self._redis.hgetall(session_key(session_id))
        if not raw:
            return None
        data = {key.decode(): value.decode() for key, value in raw.items()}
        if tenant_id is not None and data["tenant"] != tenant_id:
            return None
        status = SessionStatus(data["status"])
        expires_at = int(data["expires_at"]) / 1000
        if status is SessionStatus.PENDING and time.time() >= expires_at:
            status = SessionStatus.EXPIRED
        tried = json.loads(data.get("tried") or "[]")
        return SessionRecord(
            session_id=session_id,
            tenant_id=data["tenant"],
            key_id=data["key_id"],
            status=status,
            channels=data["channels"].split(","),
            code_length=int(data["code_length"]),
            locale=data["locale"],
            created_at=int(data["created_at"]) / 1000,
            expires_at=expires_at,
            attempts=int(data["attempts"]),
            max_attempts=int(data["max_attempts"]),
            masked_to=data["masked_to"],
            recipient=data["recipient"],
            number=data["number"],
            current_channel=data.get("current_channel"),
            ended_reason=data.get("ended_reason"),
            # cjson writes an empty list as {}.
            tried=[ChannelAttempt(**entry) for entry in (tried or [])],
        )

    async def reserve_attempt(self, session_id: str, tenant_id: str) -> AttemptReservation:
        """Count one check attempt and return the code HMACs to compare against.

        Raises:
            SessionUnavailable: the session is missing, another tenant's, final,
                or has no attempt left.
        """
        result = await self._reserve(
            keys=[session_key(session_id), codes_key(session_id)], args=[tenant_id, now_ms()]
        )
        outcome = result[0].decode()
        if outcome != "ok":
            raise SessionUnavailable(outcome)
        codes = []
        for entry in result[4:]:
            version, _, digest = entry.decode().partition(":")
            codes.append((int(version), bytes.fromhex(digest)))
        return AttemptReservation(int(result[1]), int(result[2]), int(result[3]), codes)

    async def finish_attempt(self, session_id: str, matched: bool, attempt: int) -> str:
        """Record a check's result.

        Returns:
            `approved` when this check approved the session, `conflict:<status>`
            when the code matched but the session was no longer pending,
            `locked` when this miss used the last attempt, else `rejected`.
        """
        result = await self._finish(
            keys=[session_key(session_id), codes_key(session_id)],
            args=["1" if matched else "0", attempt, now_ms()],
        )
        return result.decode()

    async def prepare_send(self, session_id: str, channel: str, code_entry: str) -> SendDecision:
        """Re-read the session right before a send, consume dispatch caps and store the code HMAC.

        The dispatch caps are consumed once per channel, so a retried send
        activity does not count twice.
        """
        tenant_id, recipient = await self._redis.hmget(
            session_key(session_id), ["tenant", "recipient"]
        )
        if tenant_id is None:
            return SendDecision(proceed=False, status="missing")
        caps = self.caps.dispatch_caps(tenant_id.decode(), recipient.decode())
        keys, cap_args = cap_arguments(caps)
        result = [
            part.decode()
            for part in await self._prepare(
                keys=[session_key(session_id), codes_key(session_id), *keys],
                args=[now_ms(), channel, code_entry, len(caps), *cap_args],
            )
        ]
        if result[0] == "stop":
            return SendDecision(proceed=False, status=result[1])
        if result[0] == "capped":
            exceeded = self.caps.exceeded(caps, int(result[1]), int(result[2]))
            return SendDecision(proceed=False, status="pending", cap=exceeded)
        return SendDecision(proceed=True, status="pending", repeated=result[1] == "1")

    async def update_channel(
        self, session_id: str, channel: str, status: str, message_id: str = ""
    ) -> None:
        """Record a channel's send or delivery status (sent, failed, skipped, delivered, ...)."""
        await self._update_tried(
            keys=[session_key(session_id)], args=[channel, status, message_id, now_ms()]
        )

    async def end(
        self, session_id: str, status: SessionStatus, reason: str = "", tenant_id: str = ""
    ) -> str:
        """End a pending session with `status`; return the status after the call.

        Returns `not_found` for a missing session or one of another tenant
        (when `tenant_id` is given).
        """
        result = await self._end(
            keys=[session_key(session_id), codes_key(session_id)],
            args=[status.value, reason, now_ms(), tenant_id],
        )
        return result.decode()

    async def send_context(self, session_id: str) -> SendContext | None:
        """Return what a send needs, or None when the session is gone."""
        fields = ["tenant", "code_length", "locale", "expires_at", "number"]
        values = await self._redis.hmget(session_key(session_id), fields)
        if values[0] is None:
            return None
        tenant, code_length, locale, expires_at, number = (value.decode() for value in values)
        return SendContext(
            tenant_id=tenant,
            code_length=int(code_length),
            locale=locale,
            expires_at=int(expires_at) / 1000,
            number=number,
        )


def session_key(session_id: str) -> str:
    """Redis key of a session's hash; the hash tag keeps it in its code set's slot."""
    return f"{SESSION_PREFIX}:{{{session_id}}}"


def codes_key(session_id: str) -> str:
    """Redis key of a session's set of code HMACs."""
    return f"{SESSION_PREFIX}:{{{session_id}}}:codes"
