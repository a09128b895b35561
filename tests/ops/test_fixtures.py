"""The replay fixture generator: exports decoded histories that replay, one per type."""

from __future__ import annotations

import uuid
from pathlib import Path

from temporalio.client import Client

from portal.codec import ENCODING
from portal.ops.fixtures import capture_fixtures, committed_fixtures
from portal.ops.history import collect_payloads, read_history
from portal.ops.replay import HistoryReplayer
from portal.settings import Settings
from portal.temporal import build_data_converter
from tests.ops.changed_workflows import TimerFirstStackCheck
from workflows.stack_check import StackCheckInput, StackCheckWorkflow


async def finished_stack_check(client: Client, task_queue: str) -> None:
    await client.execute_workflow(
        StackCheckWorkflow.run,
        StackCheckInput(requested_by="fixture test"),
        id=f"stack-check-fixture-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        static_summary="ops test: a history for the fixture generator",
    )


async def test_capture_writes_decoded_fixture(
    ops_client: Client, ops_task_queue: str, ops_settings: Settings, tmp_path: Path
):
    await finished_stack_check(ops_client, ops_task_queue)
    replayer = HistoryReplayer([StackCheckWorkflow], build_data_converter(ops_settings))

    written = await capture_fixtures(
        ops_client, replayer, ["StackCheckWorkflow"], label="first", directory=tmp_path
    )

    path = written["StackCheckWorkflow"]
    assert path == tmp_path / "StackCheckWorkflow" / "first.json"
    history = read_history(path)
    payloads = []
    for event in history.events:
        collect_payloads(event, payloads)
    assert payloads
    assert all(payload.metadata["encoding"] != ENCODING for payload in payloads)
    assert (await replayer.replay(history)).deterministic
    assert committed_fixtures(tmp_path) == {"StackCheckWorkflow": [path]}


async def test_capture_keeps_existing_fixture(
    ops_client: Client, ops_task_queue: str, ops_settings: Settings, tmp_path: Path
):
    await finished_stack_check(ops_client, ops_task_queue)
    replayer = HistoryReplayer([StackCheckWorkflow], build_data_converter(ops_settings))
    await capture_fixtures(
        ops_client, replayer, ["StackCheckWorkflow"], label="old", directory=tmp_path
    )

    again = await capture_fixtures(
        ops_client, replayer, ["StackCheckWorkflow"], label="new", directory=tmp_path
    )
    overwritten = await capture_fixtures(
        ops_client,
        replayer,
        ["StackCheckWorkflow"],
        label="new",
        overwrite=True,
        directory=tmp_path,
    )

    assert again == {}
    assert overwritten == {"StackCheckWorkflow": tmp_path / "StackCheckWorkflow" / "new.json"}
    assert len(committed_fixtures(tmp_path)["StackCheckWorkflow"]) == 2


async def test_capture_skips_histories_that_do_not_replay(
    ops_client: Client, ops_task_queue: str, ops_settings: Settings, tmp_path: Path
):
    await finished_stack_check(ops_client, ops_task_queue)
    changed = HistoryReplayer([TimerFirstStackCheck], build_data_converter(ops_settings))

    written = await capture_fixtures(
        ops_client, changed, ["StackCheckWorkflow"], label="bad", directory=tmp_path
    )

    assert written == {}
    assert not (tmp_path / "StackCheckWorkflow").exists()
