"""Reset a workflow to an earlier workflow task through the ResetWorkflowExecution API.

A reset copies the history up to the chosen workflow task into a new run and
lets the current code carry on from there. After the fault behind a failure is
removed, resetting to the task before the failure runs the failed step again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client

from portal.ops.replay import event_type_name

log = logging.getLogger(__name__)

LAST_FAILURE = "last-failure"
FIRST_TASK = "first-task"
FAILURE_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
        EventType.EVENT_TYPE_NEXUS_OPERATION_FAILED,
        EventType.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    }
)
# Event types the ResetWorkflowExecution API accepts as the reset point.
RESET_POINT_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    }
)


class ResetError(ValueError):
    """The workflow cannot be reset to the requested point; the message gives the reason."""


@dataclass
class ResetResult:
    """The outcome of a reset."""

    workflow_id: str
    old_run_id: str
    new_run_id: str
    reset_event_id: int


def parse_target(text: str) -> str | int:
    """Return `last-failure`, `first-task` or an event id from the `--to` option.

    Raises:
        ResetError: naming the value and the accepted forms.
    """
    if text in {LAST_FAILURE, FIRST_TASK}:
        return text
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise ResetError(
        f"invalid reset target {text!r}: use last-failure, first-task or an event id "
        "(a WorkflowTaskCompleted event, see `temporal workflow show`)"
    )


def choose_reset_event(events: list[HistoryEvent], target: str | int) -> int:
    """Return the id of the workflow task event to reset to.

    `last-failure` picks the last completed workflow task before the first
    failure event of the history, so the failed step runs again. `first-task`
    picks the first completed workflow task.

    Raises:
        ResetError: the history has no such event.
    """
    completed = [
        event
        for event in events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]
    if isinstance(target, int):
        chosen = next((event for event in events if event.event_id == target), None)
        if chosen is None or chosen.event_type not in RESET_POINT_EVENTS:
            found = event_type_name(chosen) if chosen else "no such event"
            raise ResetError(
                f"event {target} is {found}; reset to a WorkflowTaskCompleted, "
                "WorkflowTaskFailed, WorkflowTaskTimedOut or WorkflowTaskStarted event"
            )
        return target
    if not completed:
        raise ResetError("the workflow has no completed workflow task to reset to")
    if target == FIRST_TASK:
        return completed[0].event_id
    failure = next((event for event in events if event.event_type in FAILURE_EVENTS), None)
    if failure is None:
        raise ResetError(
            "the history has no failure event; use --to first-task or an event id instead"
        )
    before = [event for event in completed if event.event_id < failure.event_id]
    if not before:
        raise ResetError(
            f"the first failure (event {failure.event_id} {event_type_name(failure)}) "
            "precedes every completed workflow task; terminate and start the workflow again"
        )
    return before[-1].event_id


async def reset_workflow(
    client: Client,
    workflow_id: str,
    *,
    target: str | int,
    reason: str,
    run_id: str | None = None,
    identity: str = "portal ops reset",
) -> ResetResult:
    """Reset a run (the latest when `run_id` is None) and return the new run's id.

    Signals received after the reset point are applied again to the new run.

    Raises:
        ResetError: the reset point does not exist in the history.
    """
    if not reason.strip():
        raise ResetError("a reset needs a --reason; it is recorded in the workflow's history")
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    old_run_id = run_id or (await handle.describe()).run_id
    history = await client.get_workflow_handle(workflow_id, run_id=old_run_id).fetch_history()
    event_id = choose_reset_event(list(history.events), target)
    log.info(
        "resetting workflow workflow_id=%s run_id=%s event_id=%d", workflow_id, old_run_id, event_id
    )
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=old_run_id),
            reason=reason,
            workflow_task_finish_event_id=event_id,
            request_id=str(uuid.uuid4()),
            reset_reapply_type=ResetReapplyType.RESET_REAPPLY_TYPE_SIGNAL,
        )
    )
    log.info(
        "reset workflow workflow_id=%s old_run_id=%s new_run_id=%s",
        workflow_id,
        old_run_id,
        response.run_id,
    )
    return ResetResult(workflow_id, old_run_id, response.run_id, event_id)
