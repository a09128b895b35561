"""`portal ops`: replay, export-history, failed, reset and search-attributes on a real server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionResponse
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from portal.ops.failed import running_query
from portal.ops.history import read_history
from portal.ops.replay import HistoryReplayer
from portal.settings import Settings
from portal.temporal import build_data_converter
from tests.ops import workflows as test_workflows
from tests.ops.changed_workflows import (
    ExtraStepStackCheck,
    RenamedActivityStackCheck,
    TimerFirstStackCheck,
)
from tests.ops.workflows import (
    BrokenTaskWorkflow,
    FlakyStepWorkflow,
    RetryingWorkflow,
    WaitingWorkflow,
)
from workflows.stack_check import StackCheckInput, StackCheckWorkflow


async def wait_for_description(
    handle: WorkflowHandle, ready: Callable[[DescribeWorkflowExecutionResponse], bool]
) -> None:
    """Poll the workflow's description for up to 10 s until `ready` accepts it."""
    for _ in range(100):
        if ready((await handle.describe()).raw_description):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"workflow {handle.id} did not reach the expected state in 10 s")


async def run_stack_check(client: Client, task_queue: str) -> str:
    workflow_id = f"stack-check-ops-{uuid.uuid4().hex[:8]}"
    await client.execute_workflow(
        StackCheckWorkflow.run,
        StackCheckInput(requested_by="ops tests"),
        id=workflow_id,
        task_queue=task_queue,
        static_summary="ops test: a finished workflow to replay",
    )
    return workflow_id


async def test_replay_command_says_deterministic(ops_client, ops_task_queue, run_portal):
    workflow_id = await run_stack_check(ops_client, ops_task_queue)

    result = await run_portal("ops", "replay", workflow_id)

    assert result.code == 0, result.stderr
    assert result.stdout.startswith("deterministic: StackCheckWorkflow")
    assert workflow_id in result.stdout


@pytest.mark.parametrize(
    ("changed", "event_id", "event_type", "detail"),
    [
        (TimerFirstStackCheck, 5, "ActivityTaskScheduled", "activity type ping_redis"),
        (RenamedActivityStackCheck, 5, "ActivityTaskScheduled", "activity type ping_redis"),
        (ExtraStepStackCheck, 11, "WorkflowExecutionCompleted", ""),
    ],
)
async def test_replay_names_first_mismatch(
    ops_client, ops_task_queue, ops_settings: Settings, changed, event_id, event_type, detail
):
    workflow_id = await run_stack_check(ops_client, ops_task_queue)
    history = await ops_client.get_workflow_handle(workflow_id).fetch_history()
    replayer = HistoryReplayer([changed], build_data_converter(ops_settings))

    report = await replayer.replay(history)

    assert not report.deterministic
    assert report.nondeterminism
    assert report.mismatch is not None
    assert (report.mismatch.event_id, report.mismatch.event_type) == (event_id, event_type)
    assert report.mismatch.detail == detail
    assert f"event {event_id} {event_type}" in report.summary()


async def test_replay_command_names_mismatch(
    ops_client, ops_task_queue, run_portal, tmp_path: Path
):
    workflow_id = await run_stack_check(ops_client, ops_task_queue)
    exported = tmp_path / "history.json"
    result = await run_portal(
        "ops", "export-history", workflow_id, "--out", str(exported), "--decode"
    )
    assert result.code == 0, result.stderr
    # The recorded history now names an activity the checked-out code never calls,
    # as a history written by an older release would.
    document = json.loads(exported.read_text())
    scheduled = document["events"][4]["activityTaskScheduledEventAttributes"]
    scheduled["activityType"]["name"] = "ping_redis_v0"
    exported.write_text(json.dumps(document))

    result = await run_portal("ops", "replay", "--history", str(exported))

    assert result.code == 1, result.stderr
    assert result.stdout.startswith("NOT deterministic: StackCheckWorkflow")
    assert "first mismatching event is event 5 ActivityTaskScheduled" in result.stdout
    assert "ping_redis_v0" in result.stdout


async def test_export_history_encrypted_by_default(
    ops_client, ops_task_queue, run_portal, tmp_path: Path
):
    workflow_id = await run_stack_check(ops_client, ops_task_queue)
    exported = tmp_path / "encrypted.json"

    result = await run_portal("ops", "export-history", workflow_id, "--out", str(exported))

    assert result.code == 0, result.stderr
    history = WorkflowHistory.from_json(workflow_id, exported.read_text())
    [started_input] = history.events[0].workflow_execution_started_event_attributes.input.payloads
    assert started_input.metadata["encoding"] == b"binary/encrypted"
    assert b"ops tests" not in started_input.SerializeToString()
    replayed = await run_portal("ops", "replay", "--history", str(exported))
    assert replayed.code == 0, replayed.stdout + replayed.stderr
    assert replayed.stdout.startswith("deterministic")


async def test_export_history_decoded_replays_anywhere(
    ops_client, ops_task_queue, run_portal, tmp_path: Path
):
    workflow_id = await run_stack_check(ops_client, ops_task_queue)
    exported = tmp_path / "decoded.json"

    result = await run_portal(
        "ops", "export-history", workflow_id, "--out", str(exported), "--decode"
    )

    assert result.code == 0, result.stderr
    history = WorkflowHistory.from_json(workflow_id, exported.read_text())
    [started_input] = history.events[0].workflow_execution_started_event_attributes.input.payloads
    assert started_input.metadata["encoding"] == b"json/plain"
    assert b"ops tests" in started_input.data
    # The SDK replayer with the plain pydantic converter, no codec, reads the decoded file.
    replayer = Replayer(workflows=[StackCheckWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
    assert read_history(exported).events == history.events


async def test_failed_lists_failure_and_reset_completes_it(ops_client, ops_task_queue, run_portal):
    workflow_id = f"flaky-{uuid.uuid4().hex[:8]}"
    test_workflows.FAULTS["flaky_step"] = True
    try:
        with pytest.raises(WorkflowFailureError):
            await ops_client.execute_workflow(
                FlakyStepWorkflow.run,
                "reset test",
                id=workflow_id,
                task_queue=ops_task_queue,
                static_summary="ops test: fails until its fault is removed",
            )

        listed = await run_portal(
            "ops", "failed", "--since", "10m", "--type", "FlakyStepWorkflow", "--json"
        )
        table = await run_portal("ops", "failed", "--since", "10m", "--type", "FlakyStepWorkflow")
    finally:
        test_workflows.FAULTS["flaky_step"] = False

    assert listed.code == 0, listed.stderr
    rows = {row["workflow_id"]: row for row in json.loads(listed.stdout)}
    assert rows[workflow_id]["status"] == "FAILED"
    assert "injected fault in reset test" in rows[workflow_id]["reason"]
    assert workflow_id in table.stdout
    assert table.stdout.splitlines()[0].split()[:2] == ["STATUS", "TYPE"]

    reset = await run_portal("ops", "reset", workflow_id, "--reason", "fault removed in test")

    assert reset.code == 0, reset.stderr
    new_run_id = reset.stdout.strip().rsplit("new run id: ", 1)[1]
    handle = ops_client.get_workflow_handle(workflow_id, run_id=new_run_id)
    assert await asyncio.wait_for(handle.result(), 60) == "reset test done"


async def test_failed_lists_stuck_workflow(ops_client: Client, ops_task_queue, run_portal):
    workflow_id = f"retrying-{uuid.uuid4().hex[:8]}"
    handle = await ops_client.start_workflow(
        RetryingWorkflow.run,
        id=workflow_id,
        task_queue=ops_task_queue,
        static_summary="ops test: retries an activity forever",
    )
    try:
        await wait_for_description(
            handle,
            lambda raw: bool(raw.pending_activities) and raw.pending_activities[0].attempt >= 3,
        )

        result = await run_portal(
            "ops",
            "failed",
            "--type",
            "RetryingWorkflow",
            "--stuck-after",
            "0s",
            "--json",
            env={"PORTAL_OPS_STUCK_ACTIVITY_ATTEMPTS": "3"},
        )
    finally:
        await handle.terminate("test finished")

    assert result.code == 0, result.stderr
    [row] = [row for row in json.loads(result.stdout) if row["workflow_id"] == workflow_id]
    assert row["status"] == "STUCK"
    assert "activity always_failing_step retrying" in row["reason"]
    assert "downstream keeps failing" in row["reason"]


async def test_failed_lists_timed_out_workflow(ops_client: Client, ops_task_queue, run_portal):
    workflow_id = f"timed-out-{uuid.uuid4().hex[:8]}"
    # A retrying activity would race the timeout: the server fails the
    # activity, and so the workflow, when the next retry would start too late.
    handle = await ops_client.start_workflow(
        WaitingWorkflow.run,
        id=workflow_id,
        task_queue=ops_task_queue,
        execution_timeout=timedelta(seconds=2),
        static_summary="ops test: times out",
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()

    result = await run_portal(
        "ops", "failed", "--since", "10m", "--type", "WaitingWorkflow", "--json"
    )

    assert result.code == 0, result.stderr
    [row] = [row for row in json.loads(result.stdout) if row["workflow_id"] == workflow_id]
    assert row["status"] == "TIMED_OUT"
    assert row["reason"] == "workflow execution timed out"


async def test_failed_lists_failing_workflow_task(ops_client: Client, ops_task_queue, run_portal):
    workflow_id = f"broken-task-{uuid.uuid4().hex[:8]}"
    handle = await ops_client.start_workflow(
        BrokenTaskWorkflow.run,
        id=workflow_id,
        task_queue=ops_task_queue,
        static_summary="ops test: its workflow task fails",
    )
    try:
        await wait_for_description(handle, lambda raw: raw.pending_workflow_task.attempt > 1)

        result = await run_portal(
            "ops", "failed", "--type", "BrokenTaskWorkflow", "--stuck-after", "0s", "--json"
        )
    finally:
        await handle.terminate("test finished")

    assert result.code == 0, result.stderr
    [row] = [row for row in json.loads(result.stdout) if row["workflow_id"] == workflow_id]
    assert row["status"] == "STUCK"
    assert row["reason"].startswith("workflow task failing")


def test_running_query_keeps_microseconds():
    moment = datetime(2026, 12, 4, 23, 40, 13, 250000, tzinfo=UTC)

    query = running_query(moment, "BrokenTaskWorkflow")

    assert "StartTime < '2026-12-04T23:40:13.250000Z'" in query


async def test_failed_rejects_bad_duration(run_portal):
    result = await run_portal("ops", "failed", "--since", "yesterday")

    assert result.code == 2
    assert "invalid duration 'yesterday'" in result.stderr


async def test_reset_rejects_bad_target(run_portal):
    result = await run_portal("ops", "reset", "any-id", "--to", "middle", "--reason", "x")

    assert result.code == 2
    assert "last-failure, first-task or an event id" in result.stderr


async def test_reset_without_failure_explains(ops_client, ops_task_queue, run_portal):
    workflow_id = await run_stack_check(ops_client, ops_task_queue)

    result = await run_portal("ops", "reset", workflow_id, "--reason", "test")
    first_task = await run_portal(
        "ops", "reset", workflow_id, "--to", "first-task", "--reason", "test"
    )

    assert result.code == 1
    assert "no failure event" in result.stderr
    assert first_task.code == 0, first_task.stderr
    assert "to event 4" in first_task.stdout


async def test_search_attributes_registered(run_portal):
    result = await run_portal("ops", "search-attributes")

    assert result.code == 0, result.stdout + result.stderr
    assert "PortalTenant (Keyword): registered" in result.stdout


async def test_replay_unknown_workflow_reports_not_found(run_portal):
    result = await run_portal("ops", "replay", f"no-such-workflow-{uuid.uuid4().hex[:8]}")

    assert result.code == 1
    assert "NOT_FOUND" in result.stderr
    assert "Traceback" not in result.stderr


async def test_replay_recent_checks_latest_runs(ops_client, ops_task_queue, run_portal):
    for _ in range(2):
        await run_stack_check(ops_client, ops_task_queue)

    result = await run_portal(
        "ops", "replay-recent", "--type", "StackCheckWorkflow", "--limit", "2"
    )

    assert result.code == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("deterministic: StackCheckWorkflow") for line in lines[:2])
    assert lines[2] == "2 of 2 runs replay deterministically"


async def test_replay_recent_rejects_bad_type(run_portal):
    result = await run_portal("ops", "replay-recent", "--type", "X' OR 1=1")

    assert result.code == 2
    assert "invalid workflow type" in result.stderr
