"""After the Verify tests: no code that was sent, and no number, is in Redis, Temporal or the logs.

The file name sorts last, so it runs after the other Verify tests and
searches for every code they read from the local inboxes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload

from tests.verify.conftest import SENT_CODES, USED_NUMBERS, code_from

pytestmark = pytest.mark.asyncio(loop_scope="session")


def payloads_in(message: Message) -> Iterator[Payload]:
    """Yield every Payload nested anywhere in a protobuf message."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            items = value.values()
        elif field.is_repeated:
            items = value
        else:
            items = [value]
        for item in items:
            if isinstance(item, Message):
                yield from payloads_in(item)


def leaked(text: str, secrets: set[str]) -> dict[str, str]:
    """Return each secret found in `text` as a whole token, with the text around it.

    A code token is not part of a longer word, hex id or base64 run, nor the
    fraction of a timestamp (`.123456`). Six random digits occur there by
    chance often enough to fail a search over every history of a session.
    """
    found = {}
    for secret in secrets:
        if secret.startswith("+"):
            # A number in E.164 form cannot occur by chance.
            pattern = rf"(?<![0-9]){re.escape(secret)}(?![0-9])"
        else:
            pattern = rf"(?<![0-9A-Za-z+/.:_-]){re.escape(secret)}(?![0-9A-Za-z_])"
        match = re.search(pattern, text)
        if match:
            found[secret] = text[max(0, match.start() - 80) : match.end() + 80]
    return found


async def redis_text(admin_redis) -> str:
    """Return every key and value in Redis as one text."""
    parts = []
    async for key in admin_redis.scan_iter(count=1000):
        kind = (await admin_redis.type(key)).decode()
        if kind == "string":
            value = [await admin_redis.get(key)]
        elif kind == "hash":
            value = [item for pair in (await admin_redis.hgetall(key)).items() for item in pair]
        elif kind == "set":
            value = list(await admin_redis.smembers(key))
        elif kind == "zset":
            value = [member for member, _ in await admin_redis.zrange(key, 0, -1, withscores=True)]
        elif kind == "list":
            value = await admin_redis.lrange(key, 0, -1)
        elif kind == "stream":
            entries = await admin_redis.xrange(key)
            value = [item for _, fields in entries for pair in fields.items() for item in pair]
        else:
            value = []
        parts.append(key.decode(errors="replace"))
        parts += [item.decode(errors="replace") for item in value if item is not None]
    return "\n".join(parts)


async def temporal_text(temporal_client) -> str:
    """Return every workflow history of the test server, payloads decoded, as one text."""
    codec = temporal_client.data_converter.payload_codec
    parts = []
    async for execution in temporal_client.list_workflows():
        handle = temporal_client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        parts.append(history.to_json())
        payloads = [payload for event in history.events for payload in payloads_in(event)]
        if codec is not None and payloads:
            try:
                payloads = await codec.decode(payloads)
            except Exception:  # noqa: BLE001 - another test's key; search the raw payloads
                pass
        parts += [payload.data.decode(errors="replace") for payload in payloads]
    return "\n".join(parts)


async def test_no_code_or_number_leaks(
    caller, dispatch_admin, numbers, admin_redis, temporal_client, dispatch_server, verify_log
):
    # Ten-digit codes make a chance match impossible, so this session's
    # code is searched without doubt; the shorter codes of earlier tests too.
    to = numbers()
    session = (await caller.start(to, code_length=10)).json()
    code = code_from(await dispatch_admin.wait_for_message(to))
    assert len(code) == 10
    assert (await caller.check(session["id"], code)).json()["status"] == "approved"
    assert len(SENT_CODES) >= 1

    assert leaked(await redis_text(admin_redis), SENT_CODES | USED_NUMBERS) == {}
    history = await temporal_text(temporal_client)
    assert session["id"] in history
    assert leaked(history, SENT_CODES | USED_NUMBERS) == {}
    logs = verify_log.read_text(errors="replace") + dispatch_server.log_text()
    assert session["id"] in logs
    assert leaked(logs, SENT_CODES | USED_NUMBERS) == {}
