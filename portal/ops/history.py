"""Fetch workflow histories and decode every payload in them through the payload codec."""

from __future__ import annotations

import logging
from pathlib import Path

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import PayloadCodec

log = logging.getLogger(__name__)

PAYLOAD_TYPE = Payload.DESCRIPTOR.full_name
PAYLOADS_TYPE = Payloads.DESCRIPTOR.full_name


def collect_payloads(message: Message, found: list[Payload]) -> None:
    """Append every Payload inside `message` (repeated and map fields included) to `found`."""
    if message.DESCRIPTOR.full_name == PAYLOAD_TYPE:
        found.append(message)  # type: ignore[arg-type]
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                for item in value.values():
                    collect_payloads(item, found)
        elif field.is_repeated:
            for item in value:
                collect_payloads(item, found)
        else:
            collect_payloads(value, found)


async def decode_events(events: list[HistoryEvent], codec: PayloadCodec) -> int:
    """Decode, in place, every payload of `events`; return how many payloads were seen.

    Search attributes are visited too; the codec passes them through because
    Temporal never encodes them.
    """
    payloads: list[Payload] = []
    for event in events:
        collect_payloads(event, payloads)
    if not payloads:
        return 0
    decoded = await codec.decode(payloads)
    for target, plain in zip(payloads, decoded, strict=True):
        target.CopyFrom(plain)
    return len(payloads)


async def fetch_history(
    client: Client, workflow_id: str, run_id: str | None = None
) -> WorkflowHistory:
    """Return the full history of a run (the latest run when `run_id` is None), payloads encoded."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    history = await handle.fetch_history()
    log.info(
        "fetched history workflow_id=%s run_id=%s events=%d",
        workflow_id,
        run_id or "latest",
        len(history.events),
    )
    return history


async def decoded_copy(history: WorkflowHistory, codec: PayloadCodec) -> WorkflowHistory:
    """Return a copy of `history` with every payload decoded through `codec`."""
    events = [HistoryEvent.FromString(event.SerializeToString()) for event in history.events]
    await decode_events(events, codec)
    return WorkflowHistory(history.workflow_id, events)


def workflow_type_of(history: WorkflowHistory) -> str:
    """Return the workflow type named by the history's first event."""
    if not history.events:
        raise ValueError(f"history of {history.workflow_id} has no events")
    first = history.events[0]
    if not first.HasField("workflow_execution_started_event_attributes"):
        raise ValueError(
            f"history of {history.workflow_id} does not start with WorkflowExecutionStarted"
        )
    return first.workflow_execution_started_event_attributes.workflow_type.name


def write_history(history: WorkflowHistory, path: Path) -> None:
    """Write `history` as JSON that `WorkflowHistory.from_json` reads back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(history.to_json() + "\n")


def read_history(path: Path, workflow_id: str | None = None) -> WorkflowHistory:
    """Read a history written by `write_history`, by the Temporal CLI or by the Temporal UI.

    Args:
        path: JSON file.
        workflow_id: Id to give the history; the file's name without suffix when None.
    """
    return WorkflowHistory.from_json(workflow_id or path.stem, path.read_text())
