"""Search logs, every Redis value and Temporal histories for secrets a test created."""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis
from temporalio.client import Client


async def redis_values(redis_url: str) -> list[tuple[str, bytes]]:
    """Return every key of the Redis server with its value, whatever the type, as bytes."""
    redis = Redis.from_url(redis_url)
    found: list[tuple[str, bytes]] = []
    try:
        for db in range(16):
            await redis.execute_command("SELECT", db)
            async for raw_key in redis.scan_iter(count=500):
                found.append((raw_key.decode(errors="replace"), await _value(redis, raw_key)))
    finally:
        await redis.aclose()
    return found


async def _value(redis: Redis, key: bytes) -> bytes:
    kind = (await redis.type(key)).decode()
    parts: list[bytes] = [key]
    if kind == "string":
        parts.append(await redis.get(key) or b"")
    elif kind == "hash":
        for field, value in (await redis.hgetall(key)).items():
            parts += [field, value]
    elif kind == "set":
        parts += list(await redis.smembers(key))
    elif kind == "zset":
        parts += [member for member, _ in await redis.zrange(key, 0, -1, withscores=True)]
    elif kind == "list":
        parts += await redis.lrange(key, 0, -1)
    elif kind == "stream":
        for _, fields in await redis.xrange(key):
            for field, value in fields.items():
                parts += [field, value]
    return b"\n".join(part if isinstance(part, bytes) else str(part).encode() for part in parts)


# Event attributes whose payloads a workflow's inputs and results travel in.
_PAYLOAD_FIELDS = (
    ("workflow_execution_started_event_attributes", "input"),
    ("activity_task_scheduled_event_attributes", "input"),
    ("activity_task_completed_event_attributes", "result"),
    ("workflow_execution_completed_event_attributes", "result"),
)


async def history_texts(client: Client, query: str) -> list[tuple[str, str]]:
    """Return each matching workflow's stored history and its payloads after the codec.

    The stored JSON shows what Temporal keeps; the decoded payloads show what
    anyone holding the codec's key would read.
    """
    codec = client.data_converter.payload_codec
    texts = []
    async for execution in client.list_workflows(query):
        history = await client.get_workflow_handle(execution.id).fetch_history()
        decoded: list[str] = []
        for event in history.events:
            for attributes, field in _PAYLOAD_FIELDS:
                if not event.HasField(attributes):
                    continue
                payloads = list(getattr(getattr(event, attributes), field).payloads)
                if codec is not None:
                    payloads = await codec.decode(payloads)
                decoded += [payload.data.decode(errors="replace") for payload in payloads]
            # A local activity's result travels in its marker's details.
            if event.HasField("marker_recorded_event_attributes"):
                for details in event.marker_recorded_event_attributes.details.values():
                    payloads = list(details.payloads)
                    if codec is not None:
                        payloads = await codec.decode(payloads)
                    decoded += [payload.data.decode(errors="replace") for payload in payloads]
        texts.append((execution.id, history.to_json() + "\n" + "\n".join(decoded)))
    return texts


async def find_leaks(
    secrets: Iterable[str],
    *,
    redis_url: str,
    temporal: Client,
    history_query: str,
    logs: dict[str, str],
) -> list[str]:
    """Return where any of `secrets` appears: each place named, empty when none."""
    secrets = list(secrets)
    assert secrets, "no secrets to search for"
    leaks: list[str] = []
    for name, text in logs.items():
        leaks += [f"log {name}" for secret in secrets if secret in text]
    for key, value in await redis_values(redis_url):
        leaks += [f"redis key {key}" for secret in secrets if secret.encode() in value]
    histories = await history_texts(temporal, history_query)
    assert histories, f"no workflow matched {history_query!r}"
    for workflow_id, text in histories:
        leaks += [f"history of {workflow_id}" for secret in secrets if secret in text]
    return leaks
