"""Replay a history against the workflow code checked out now, and name the first mismatch.

A replay runs the workflow code over the recorded events without side
effects: when the code issues other commands than the history recorded
(another activity, a removed timer), the SDK raises a nondeterminism error.
The error text names the mismatch only sometimes. The first mismatching event
is therefore located by replaying ever longer prefixes of the history, cut at
workflow task boundaries. The first prefix that fails ends with the workflow
task whose predecessor's commands no longer match.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from portal.codec import DecodeOnlyCodec

log = logging.getLogger(__name__)

# The SDK core names the event in some nondeterminism errors: "HistoryEvent(id: 11, TimerStarted)".
EVENT_IN_ERROR = re.compile(r"HistoryEvent\(id: (\d+)")
QUOTED_NAME = re.compile(r"'([^']+)'")
WORKFLOW_TASK_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    }
)


@dataclass
class MismatchingEvent:
    """The first history event the current code no longer reproduces."""

    event_id: int
    event_type: str
    detail: str

    def describe(self) -> str:
        """Return e.g. `event 16 ActivityTaskScheduled (activity type step_two)`."""
        suffix = f" ({self.detail})" if self.detail else ""
        return f"event {self.event_id} {self.event_type}{suffix}"


@dataclass
class ReplayReport:
    """Outcome of replaying one history."""

    workflow_id: str
    workflow_type: str
    run_id: str
    events: int
    deterministic: bool
    error: str | None = None
    nondeterminism: bool = False
    mismatch: MismatchingEvent | None = None

    def summary(self) -> str:
        """Return the one-paragraph verdict printed by `portal ops replay`."""
        subject = (
            f"{self.workflow_type} workflow_id={self.workflow_id} run_id={self.run_id} "
            f"({self.events} events)"
        )
        if self.deterministic:
            return f"deterministic: {subject} replays against the checked-out code."
        if not self.nondeterminism:
            return f"replay failed: {subject}: {self.error}"
        where = self.mismatch.describe() if self.mismatch else "an event the replay did not name"
        return (
            f"NOT deterministic: {subject}: the first mismatching event is {where}.\n"
            f"error: {self.error}"
        )


def event_type_name(event: HistoryEvent) -> str:
    """Return the event type in the UI's form, e.g. `ActivityTaskScheduled`."""
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    return "".join(part.capitalize() for part in name.split("_"))


def event_detail(event: HistoryEvent) -> str:
    """Return what identifies the command behind `event`: activity type, timer id and so on."""
    attributes_name = event.WhichOneof("attributes")
    if attributes_name is None:
        return ""
    attributes = getattr(event, attributes_name)
    for field, label in (
        ("activity_type", "activity type"),
        ("workflow_type", "workflow type"),
    ):
        if attributes.DESCRIPTOR.fields_by_name.get(field) and attributes.HasField(field):
            return f"{label} {getattr(attributes, field).name}"
    for field, label in (
        ("timer_id", "timer id"),
        ("signal_name", "signal"),
        ("marker_name", "marker"),
        ("activity_id", "activity id"),
    ):
        if attributes.DESCRIPTOR.fields_by_name.get(field) and getattr(attributes, field):
            return f"{label} {getattr(attributes, field)}"
    return ""


@lru_cache(maxsize=1)
def quiet_runtime() -> Runtime:
    """Return a runtime whose core logs only errors, so a replay does not print warnings."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


class HistoryReplayer:
    """Replays histories against the given workflow classes with the portal's converter.

    Args:
        workflows: Workflow classes to replay with, normally `workers.registry.all_workflows()`.
        data_converter: The converter the histories were written with.
    """

    def __init__(self, workflows: Sequence[type], data_converter: DataConverter) -> None:
        if data_converter.payload_codec is not None:
            data_converter = dataclasses.replace(
                data_converter, payload_codec=DecodeOnlyCodec(data_converter.payload_codec)
            )
        self._replayer = Replayer(
            workflows=list(workflows), data_converter=data_converter, runtime=quiet_runtime()
        )

    async def _failure(self, history: WorkflowHistory) -> Exception | None:
        result = await self._replayer.replay_workflow(history, raise_on_replay_failure=False)
        return result.replay_failure

    async def replay(self, history: WorkflowHistory) -> ReplayReport:
        """Replay `history` and, when it fails on nondeterminism, locate the first mismatch."""
        first = history.events[0]
        started = first.workflow_execution_started_event_attributes
        report = ReplayReport(
            workflow_id=history.workflow_id,
            workflow_type=started.workflow_type.name,
            run_id=started.original_execution_run_id or "-",
            events=len(history.events),
            deterministic=True,
        )
        failure = await self._failure(history)
        if failure is None:
            log.info(
                "replay deterministic workflow_id=%s type=%s",
                report.workflow_id,
                report.workflow_type,
            )
            return report

        report.deterministic = False
        report.error = _error_text(failure)
        report.nondeterminism = isinstance(failure, NondeterminismError)
        if report.nondeterminism:
            report.mismatch = await self._locate_mismatch(history, report.error)
        log.warning(
            "replay failed workflow_id=%s type=%s nondeterminism=%s mismatch=%s",
            report.workflow_id,
            report.workflow_type,
            report.nondeterminism,
            report.mismatch.describe() if report.mismatch else "-",
        )
        return report

    async def _locate_mismatch(self, history: WorkflowHistory, error: str) -> MismatchingEvent:
        events = list(history.events)
        by_id = {event.event_id: event for event in events}
        named = EVENT_IN_ERROR.search(error)
        if named and int(named.group(1)) in by_id:
            return _mismatch(by_id[int(named.group(1))])

        candidates = await self._failing_task_commands(history)
        if not candidates:
            # Nothing after the last completed task: the code now issues a command
            # where the history ended; the last event is where they part.
            return _mismatch(events[-1])
        names = set(QUOTED_NAME.findall(error))
        for event in candidates:
            detail = event_detail(event)
            if detail and detail.rsplit(" ", 1)[-1] in names:
                return _mismatch(event)
        return _mismatch(candidates[0])

    async def _failing_task_commands(self, history: WorkflowHistory) -> list[HistoryEvent]:
        """Return the events recorded for the commands of the first workflow task that fails."""
        events = list(history.events)
        boundaries = [
            index + 1
            for index, event in enumerate(events)
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
        ]
        # Binary search for the shortest failing prefix: once a prefix fails, every
        # longer one does too, because it contains the same mismatch.
        low, high = 0, len(boundaries)
        while low < high:
            middle = (low + high) // 2
            prefix = WorkflowHistory(history.workflow_id, events[: boundaries[middle]])
            if await self._failure(prefix) is None:
                low = middle + 1
            else:
                high = middle
        end = boundaries[low] if low < len(boundaries) else len(events)
        # The commands that no longer match were sent by the last task completed in the prefix.
        completed = [
            index
            for index in range(end)
            if events[index].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        ]
        start = completed[-1] + 1 if completed else 0
        return [
            event for event in events[start:end] if event.event_type not in WORKFLOW_TASK_EVENTS
        ]


def _mismatch(event: HistoryEvent) -> MismatchingEvent:
    return MismatchingEvent(event.event_id, event_type_name(event), event_detail(event))


def _error_text(failure: Exception) -> str:
    text = str(failure)
    # Core wraps the useful sentence in a Rust debug dump; keep the sentence.
    found = re.search(r'message: "((?:[^"\\]|\\.)*)"', text)
    return found.group(1).replace("\\'", "'") if found else text


async def replay_recent(
    client: Client, replayer: HistoryReplayer, query: str, limit: int
) -> list[ReplayReport]:
    """Replay the `limit` most recent runs that `query` selects; return one report each.

    Args:
        client: Temporal client with the portal's data converter.
        replayer: Replayer holding the checked-out workflow code.
        query: Visibility query, such as `WorkflowType = 'VerifySessionWorkflow'`.
        limit: Maximum runs to replay.
    """
    reports = []
    async for execution in client.list_workflows(query or None, limit=limit):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        report = await replayer.replay(history)
        report.run_id = execution.run_id
        reports.append(report)
    return reports
