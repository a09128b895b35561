"""Find workflows that need on-call: failed, timed out, or stuck while still running."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecution, WorkflowHistoryEventFilterType

log = logging.getLogger(__name__)

DURATION_PART = re.compile(r"(\d+)([smhdw])")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
REASON_MAX_CHARS = 160
# Workflow types are identifiers; anything else in a query would let input rewrite it.
WORKFLOW_TYPE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as `90s`, `30m`, `24h`, `7d` or `1h30m`.

    Raises:
        ValueError: naming the text and the accepted form.
    """
    cleaned = text.strip().lower()
    parts = DURATION_PART.findall(cleaned)
    if not cleaned or "".join(number + unit for number, unit in parts) != cleaned:
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit s, m, h, d or w, "
            "such as 30m, 24h or 1h30m"
        )
    return timedelta(seconds=sum(int(number) * DURATION_UNITS[unit] for number, unit in parts))


def rfc3339(moment: datetime) -> str:
    """Return `moment` in UTC to the second, for output."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def query_time(moment: datetime) -> str:
    """Return `moment` in UTC to the microsecond, for a visibility query.

    Truncating to the second would drop the runs that started in the same
    second as `moment` from `StartTime < ...`.
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class ProblemWorkflow:
    """A workflow listed by `portal ops failed`."""

    status: str
    workflow_type: str
    workflow_id: str
    run_id: str
    start_time: str
    close_time: str | None
    reason: str


def closed_query(since: datetime, workflow_type: str | None) -> str:
    """Return the visibility query for runs that failed or timed out after `since`."""
    query = (
        "(ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut') "
        f"AND CloseTime > '{query_time(since)}'"
    )
    return query + type_clause(workflow_type)


def running_query(started_before: datetime, workflow_type: str | None) -> str:
    """Return the visibility query for runs still running that started before `started_before`."""
    query = f"ExecutionStatus = 'Running' AND StartTime < '{query_time(started_before)}'"
    return query + type_clause(workflow_type)


def type_clause(workflow_type: str | None) -> str:
    """Return ` AND WorkflowType = '...'`, or an empty string when `workflow_type` is None.

    Raises:
        ValueError: the type is not an identifier, so it could rewrite the query.
    """
    if workflow_type is None:
        return ""
    if not WORKFLOW_TYPE_PATTERN.match(workflow_type):
        raise ValueError(
            f"invalid workflow type {workflow_type!r}: use the type's name, such as "
            "StackCheckWorkflow"
        )
    return f" AND WorkflowType = '{workflow_type}'"


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= REASON_MAX_CHARS else line[: REASON_MAX_CHARS - 1] + "…"


def failure_chain(error: BaseException) -> str:
    """Return the messages of `error` and its causes, outermost first, joined by `: `."""
    messages: list[str] = []
    current: BaseException | None = error
    while current is not None and len(messages) < 5:
        message = str(current).strip()
        if message and message not in messages:
            messages.append(message)
        current = current.__cause__
    return ": ".join(messages) or type(error).__name__


async def close_reason(client: Client, execution: WorkflowExecution) -> str:
    """Return why a closed run ended, decoding its failure through the client's codec."""
    handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
    events: list[HistoryEvent] = [
        event
        async for event in handle.fetch_history_events(
            event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
        )
    ]
    if not events:
        return "no close event"
    event = events[-1]
    if event.HasField("workflow_execution_failed_event_attributes"):
        failure = event.workflow_execution_failed_event_attributes.failure
        error = await client.data_converter.decode_failure(failure)
        return _short(failure_chain(error))
    if event.HasField("workflow_execution_timed_out_event_attributes"):
        return "workflow execution timed out"
    return event.WhichOneof("attributes") or "closed"


async def stuck_reason(
    client: Client,
    execution: WorkflowExecution,
    *,
    activity_attempts: int,
    max_runtime: timedelta,
    now: datetime,
) -> str | None:
    """Return why a running workflow counts as stuck, or None when it does not."""
    description = await client.get_workflow_handle(execution.id, run_id=execution.run_id).describe()
    raw = description.raw_description
    if raw.HasField("pending_workflow_task") and raw.pending_workflow_task.attempt > 1:
        return _short(
            f"workflow task failing, attempt {raw.pending_workflow_task.attempt}: "
            "replay it with `portal ops replay` to check for nondeterminism"
        )
    for activity in raw.pending_activities:
        if activity.attempt >= activity_attempts:
            last = activity.last_failure
            message = ""
            if last.message or last.HasField("encoded_attributes"):
                error = await client.data_converter.decode_failure(last)
                message = f": {failure_chain(error)}"
            return _short(
                f"activity {activity.activity_type.name} retrying, attempt "
                f"{activity.attempt}{message}"
            )
    started = execution.start_time
    if started is not None and now - started > max_runtime:
        hours = (now - started).total_seconds() / 3600
        return f"running for {hours:.1f} h, longer than {max_runtime.total_seconds() / 3600:g} h"
    return None


async def find_problem_workflows(
    client: Client,
    *,
    since: timedelta,
    workflow_type: str | None = None,
    stuck_after: timedelta,
    activity_attempts: int,
    max_runtime: timedelta,
    limit: int = 100,
) -> list[ProblemWorkflow]:
    """List failed and timed-out runs closed within `since`, then stuck running ones.

    Args:
        client: Temporal client with the portal's data converter.
        since: How far back closed runs are listed.
        workflow_type: Only this workflow type, when set.
        stuck_after: Running workflows younger than this are not checked.
        activity_attempts: Pending activity attempts from which a run counts as stuck.
        max_runtime: Run time after which a running workflow counts as stuck.
        limit: Maximum runs read per query.
    """
    now = datetime.now(UTC)
    found: list[ProblemWorkflow] = []

    query = closed_query(now - since, workflow_type)
    log.info("listing closed workflows query=%s", query)
    async for execution in client.list_workflows(query, limit=limit):
        found.append(
            ProblemWorkflow(
                status=execution.status.name if execution.status else "UNKNOWN",
                workflow_type=execution.workflow_type,
                workflow_id=execution.id,
                run_id=execution.run_id,
                start_time=rfc3339(execution.start_time),
                close_time=rfc3339(execution.close_time) if execution.close_time else None,
                reason=await close_reason(client, execution),
            )
        )

    query = running_query(now - stuck_after, workflow_type)
    log.info("listing running workflows query=%s", query)
    async for execution in client.list_workflows(query, limit=limit):
        reason = await stuck_reason(
            client,
            execution,
            activity_attempts=activity_attempts,
            max_runtime=max_runtime,
            now=now,
        )
        if reason is None:
            continue
        found.append(
            ProblemWorkflow(
                status="STUCK",
                workflow_type=execution.workflow_type,
                workflow_id=execution.id,
                run_id=execution.run_id,
                start_time=rfc3339(execution.start_time),
                close_time=None,
                reason=reason,
            )
        )
    return found


def as_rows(workflows: list[ProblemWorkflow]) -> list[dict[str, str | None]]:
    """Return the workflows as dicts, for `--json` output."""
    return [asdict(workflow) for workflow in workflows]
