"""Replay fixtures: histories of every workflow type, made from test data and committed.

`tests/replay` replays each committed history against the checked-out code,
so a change that breaks determinism fails CI. `portal ops fixtures` makes
new ones: it runs test folders with the `tests.replay.capture` pytest plugin,
which, before the session's Temporal server stops, exports one history per
workflow type from it, decodes every payload and writes it under
`tests/replay/histories/<WorkflowType>/<label>.json`. Histories made by
tests contain only test data, so storing them decoded exposes no personal data.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

import temporalio.workflow
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus, WorkflowHistory

from portal.ops.history import decoded_copy, read_history, workflow_type_of, write_history
from portal.ops.replay import HistoryReplayer

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = REPO_ROOT / "tests" / "replay" / "histories"
CAPTURE_PLUGIN = "tests.replay.capture"
# Environment variables through which `portal ops fixtures` instructs the plugin.
ENV_LABEL = "PORTAL_REPLAY_CAPTURE_LABEL"
ENV_TYPES = "PORTAL_REPLAY_CAPTURE_TYPES"
ENV_OVERWRITE = "PORTAL_REPLAY_CAPTURE_OVERWRITE"
ENV_DIR = "PORTAL_REPLAY_CAPTURE_DIR"
# Which run of a type makes the better fixture: a finished one covers the whole code path.
STATUS_PREFERENCE = {
    WorkflowExecutionStatus.COMPLETED: 0,
    WorkflowExecutionStatus.CONTINUED_AS_NEW: 1,
    WorkflowExecutionStatus.FAILED: 2,
    WorkflowExecutionStatus.RUNNING: 3,
}


def workflow_type_name(workflow_class: type) -> str:
    """Return the workflow type name Temporal records for `workflow_class`."""
    # NOTE: the SDK exposes a class's definition only through this private helper.
    return temporalio.workflow._Definition.must_from_class(workflow_class).name


def committed_fixtures(directory: Path = FIXTURES_DIR) -> dict[str, list[Path]]:
    """Return the fixture files under `directory` by the workflow type their history starts."""
    found: dict[str, list[Path]] = defaultdict(list)
    if not directory.exists():
        return {}
    for path in sorted(directory.rglob("*.json")):
        found[workflow_type_of(read_history(path))].append(path)
    return dict(found)


def fixture_path(workflow_type: str, label: str, directory: Path = FIXTURES_DIR) -> Path:
    """Return where the fixture of `workflow_type` labelled `label` is stored."""
    return directory / workflow_type / f"{label}.json"


def default_label() -> str:
    """Return today's date, the label of fixtures made without `--label`."""
    return date.today().isoformat()


async def _candidates(client: Client, types: Iterable[str]) -> dict[str, list[WorkflowExecution]]:
    by_type: dict[str, list[WorkflowExecution]] = defaultdict(list)
    for workflow_type in types:
        async for execution in client.list_workflows(f"WorkflowType = '{workflow_type}'"):
            if execution.status in STATUS_PREFERENCE:
                by_type[workflow_type].append(execution)
    for executions in by_type.values():
        executions.sort(
            key=lambda execution: (
                STATUS_PREFERENCE[execution.status],  # type: ignore[index]
                -(execution.history_length or 0),
            )
        )
    return by_type


async def capture_fixtures(
    client: Client,
    replayer: HistoryReplayer,
    types: Sequence[str],
    *,
    label: str,
    overwrite: bool = False,
    directory: Path = FIXTURES_DIR,
) -> dict[str, Path]:
    """Export one decoded history per workflow type from `client`'s namespace.

    Only types without a fixture get one unless `overwrite` is set. A
    history is written only when it replays against the current code, so a
    run that tests made nondeterministic on purpose never becomes a fixture.

    Returns:
        The written fixture files by workflow type.
    """
    existing = await asyncio.to_thread(committed_fixtures, directory)
    wanted = [name for name in types if overwrite or name not in existing]
    written: dict[str, Path] = {}
    codec = client.data_converter.payload_codec
    for workflow_type, executions in (await _candidates(client, wanted)).items():
        for execution in executions[:5]:
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            history = await handle.fetch_history()
            decoded = await decoded_copy(history, codec) if codec else history
            report = await replayer.replay(decoded)
            if not report.deterministic:
                log.warning(
                    "skipping history that does not replay workflow_id=%s type=%s",
                    execution.id,
                    workflow_type,
                )
                continue
            path = fixture_path(workflow_type, label, directory)
            write_history(WorkflowHistory(f"{workflow_type}-{label}", decoded.events), path)
            log.info(
                "wrote replay fixture type=%s workflow_id=%s events=%d path=%s",
                workflow_type,
                execution.id,
                len(decoded.events),
                path,
            )
            written[workflow_type] = path
            break
    return written


def run_generator(
    test_paths: Sequence[str],
    *,
    label: str,
    types: Sequence[str] = (),
    overwrite: bool = False,
    directory: Path = FIXTURES_DIR,
) -> int:
    """Run pytest on `test_paths` with the capture plugin; return pytest's exit code."""
    env = {
        **os.environ,
        ENV_LABEL: label,
        ENV_TYPES: ",".join(types),
        ENV_OVERWRITE: "1" if overwrite else "",
        ENV_DIR: str(directory),
    }
    argv = [sys.executable, "-m", "pytest", "-q", "-p", CAPTURE_PLUGIN, *test_paths]
    log.info("running fixture generator argv=%s", " ".join(argv))
    return subprocess.run(argv, cwd=REPO_ROOT, env=env, check=False).returncode
