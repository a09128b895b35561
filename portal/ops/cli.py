"""`portal ops`: the on-call commands.

Each command connects to the Temporal cluster named by the `PORTAL_TEMPORAL_*`
settings with the portal's data converter, so payloads and failure messages
are decrypted through KMS for the person at the terminal and stay encrypted
everywhere else.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

T = TypeVar("T")

app = typer.Typer(
    name="ops",
    help="On-call tools: failed workflows, replay, reset, history export, replay fixtures.",
    no_args_is_help=True,
)


def _settings():  # noqa: ANN202 - returns portal.settings.Settings
    from portal.cli import _settings as load
    from portal.logging import configure_logging

    settings = load()
    configure_logging("WARNING")
    return settings


def _finish(code: int = 0) -> NoReturn:
    """Exit at once with `code`, skipping interpreter finalization.

    temporalio 1.35's Rust bridge threads can abort CPython's finalization of a
    short-lived client process ("Fatal Python error: PyGILState_Release"), which
    would turn a finished command into exit code -6; output is flushed first.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _run(main: Callable[[], Awaitable[T]]) -> T:
    """Run `main` on a new event loop; report Temporal and KMS errors in one line and exit 1."""
    from temporalio.service import RPCError

    from portal.codec import KmsKeyError, PayloadDecryptionError
    from portal.errors import DependencyUnavailableError

    try:
        return asyncio.run(main())
    except RPCError as exc:
        typer.echo(f"Error: Temporal rejected the request: {exc.status.name}: {exc}", err=True)
    except (DependencyUnavailableError, KmsKeyError, PayloadDecryptionError) as exc:
        typer.echo(f"Error: {exc}", err=True)
    except RuntimeError as exc:
        # The SDK raises RuntimeError when it cannot connect.
        typer.echo(f"Error: {exc}", err=True)
    _finish(1)


def _usage_error(option: str, message: str) -> NoReturn:
    typer.echo(f"Error: invalid value for {option}: {message}", err=True)
    raise typer.Exit(2)


def _duration(text: str, option: str) -> timedelta:
    from portal.ops.failed import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        _usage_error(option, str(exc))


@app.command()
def failed(
    since: str = typer.Option("24h", help="List runs closed within this duration, e.g. 30m, 7d."),
    workflow_type: str = typer.Option(
        None, "--type", help="Only this workflow type, e.g. StackCheckWorkflow."
    ),
    stuck_after: str = typer.Option(
        None,
        help="Check running workflows older than this for retrying activities and failing "
        "workflow tasks (default: PORTAL_OPS_STUCK_AFTER_SECONDS).",
    ),
    limit: int = typer.Option(100, min=1, max=10000, help="Most runs read per visibility query."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array instead of a table."),
) -> None:
    """List failed, timed-out and stuck workflows from a visibility query."""
    from portal import temporal
    from portal.ops.failed import as_rows, find_problem_workflows

    settings = _settings()
    window = _duration(since, "--since")
    stuck = (
        _duration(stuck_after, "--stuck-after")
        if stuck_after
        else timedelta(seconds=settings.ops_stuck_after_seconds)
    )

    async def run() -> list:
        client = await temporal.connect(settings)
        return await find_problem_workflows(
            client,
            since=window,
            workflow_type=workflow_type,
            stuck_after=stuck,
            activity_attempts=settings.ops_stuck_activity_attempts,
            max_runtime=timedelta(seconds=settings.ops_max_runtime_seconds),
            limit=limit,
        )

    try:
        found = _run(run)
    except ValueError as exc:
        _usage_error("--type", str(exc))
    if as_json:
        typer.echo(json.dumps(as_rows(found), indent=2))
        _finish(0)
    if not found:
        typer.echo(f"no failed, timed-out or stuck workflows in the last {since}")
        _finish(0)
    header = ("STATUS", "TYPE", "WORKFLOW ID", "RUN ID", "STARTED", "REASON")
    rows = [
        (w.status, w.workflow_type, w.workflow_id, w.run_id, w.start_time, w.reason) for w in found
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row[:5], widths, strict=True)]
        typer.echo("  ".join([*cells, str(row[5])]))
    _finish(0)


@app.command()
def replay(
    workflow_id: str = typer.Argument(None, help="Workflow id to fetch and replay."),
    run_id: str = typer.Option(None, help="Run id; the latest run when omitted."),
    history: Path = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="Replay this history file (from export-history or the Temporal UI) instead.",
    ),
) -> None:
    """Replay a history against the checked-out code and report whether it is deterministic.

    Exits with 0 when deterministic, and with 1 when not (naming the first
    mismatching event) or when the history cannot be fetched or replayed.
    """
    from portal import temporal
    from portal.ops.history import fetch_history, read_history
    from portal.ops.replay import HistoryReplayer
    from workers.registry import all_workflows

    if (workflow_id is None) == (history is None):
        _usage_error("WORKFLOW_ID", "give either WORKFLOW_ID or --history FILE, not both or none")
    settings = _settings()

    async def run():  # noqa: ANN202 - returns ReplayReport
        if history is not None:
            events = read_history(history, workflow_id=history.stem)
        else:
            client = await temporal.connect(settings)
            events = await fetch_history(client, workflow_id, run_id)
        replayer = HistoryReplayer(all_workflows(), temporal.build_data_converter(settings))
        return await replayer.replay(events)

    report = _run(run)
    typer.echo(report.summary())
    _finish(0 if report.deterministic else 1)


@app.command("replay-recent")
def replay_recent(
    workflow_type: str = typer.Option(
        None, "--type", help="Only this workflow type, e.g. VerifySessionWorkflow."
    ),
    limit: int = typer.Option(20, min=1, max=1000, help="Most recent runs to replay."),
) -> None:
    """Replay the most recent runs against the checked-out code, as a check before a deploy.

    Prints one verdict per run and exits with 1 when any run does not replay.
    """
    from portal import temporal
    from portal.ops.failed import type_clause
    from portal.ops.replay import HistoryReplayer
    from portal.ops.replay import replay_recent as replay_runs
    from workers.registry import all_workflows

    settings = _settings()
    try:
        query = type_clause(workflow_type).removeprefix(" AND ")
    except ValueError as exc:
        _usage_error("--type", str(exc))

    async def run() -> list:
        client = await temporal.connect(settings)
        replayer = HistoryReplayer(all_workflows(), temporal.build_data_converter(settings))
        return await replay_runs(client, replayer, query, limit)

    reports = _run(run)
    for report in reports:
        typer.echo(report.summary())
    passed = sum(report.deterministic for report in reports)
    typer.echo(f"{passed} of {len(reports)} runs replay deterministically")
    _finish(0 if passed == len(reports) else 1)


@app.command()
def reset(
    workflow_id: str = typer.Argument(..., help="Workflow id to reset."),
    to: str = typer.Option(
        "last-failure",
        help="last-failure (the task before the first failure), first-task, or an event id.",
    ),
    reason: str = typer.Option(
        ...,
        help="Why, recorded unencrypted in the history: name the incident, never personal data.",
    ),
    run_id: str = typer.Option(None, help="Run id; the latest run when omitted."),
) -> None:
    """Reset a workflow through the Temporal API and print the new run id."""
    from portal import temporal
    from portal.ops.reset import ResetError, parse_target, reset_workflow

    settings = _settings()
    try:
        target = parse_target(to)
    except ResetError as exc:
        _usage_error("--to", str(exc))

    async def run():  # noqa: ANN202 - returns ResetResult
        client = await temporal.connect(settings)
        return await reset_workflow(
            client, workflow_id, target=target, reason=reason, run_id=run_id
        )

    try:
        result = _run(run)
    except ResetError as exc:
        typer.echo(f"cannot reset {workflow_id}: {exc}", err=True)
        _finish(1)
    typer.echo(
        f"reset {result.workflow_id} (run {result.old_run_id}) to event "
        f"{result.reset_event_id}; new run id: {result.new_run_id}"
    )
    _finish(0)


@app.command("export-history")
def export_history(
    workflow_id: str = typer.Argument(..., help="Workflow id whose history to export."),
    out: Path = typer.Option(..., dir_okay=False, help="JSON file to write."),
    run_id: str = typer.Option(None, help="Run id; the latest run when omitted."),
    decode: bool = typer.Option(
        False,
        help="Write payloads decrypted. Only for histories made from test data, such as "
        "replay fixtures: a decrypted history holds personal data in plaintext.",
    ),
) -> None:
    """Write a history as JSON, for `portal ops replay --history` or a replay fixture.

    The file is what `WorkflowHistory.to_json()` writes, so
    `Replayer.replay_workflow(WorkflowHistory.from_json(ID, text))` reads it.
    """
    from portal import temporal
    from portal.ops.history import decoded_copy, fetch_history, write_history

    settings = _settings()

    async def run() -> int:
        client = await temporal.connect(settings)
        history = await fetch_history(client, workflow_id, run_id)
        if decode:
            history = await decoded_copy(history, client.data_converter.payload_codec)
        await asyncio.to_thread(write_history, history, out)
        return len(history.events)

    events = _run(run)
    state = "decrypted" if decode else "encrypted (replayable where KMS can unwrap the data keys)"
    typer.echo(f"wrote {events} events of {workflow_id} to {out}; payloads {state}")
    _finish(0)


@app.command()
def fixtures(
    tests: list[str] = typer.Option(
        None, "--tests", help="Test paths whose workflows to capture (repeatable; default tests)."
    ),
    types: list[str] = typer.Option(
        None, "--type", help="Capture only this workflow type (repeatable)."
    ),
    label: str = typer.Option(None, help="File name of the new fixtures (default: today's date)."),
    overwrite: bool = typer.Option(
        False, help="Capture types that already have a fixture too, as a new labelled file."
    ),
) -> None:
    """Run tests and export one history per workflow type as a replay fixture."""
    from portal.ops import fixtures as replay_fixtures
    from workers.registry import all_workflows

    _settings()
    code = replay_fixtures.run_generator(
        tests or ["tests"],
        label=label or replay_fixtures.default_label(),
        types=types or [],
        overwrite=overwrite,
    )
    committed = replay_fixtures.committed_fixtures()
    for workflow_class in all_workflows():
        name = replay_fixtures.workflow_type_name(workflow_class)
        paths = committed.get(name, [])
        shown = ", ".join(str(p.relative_to(replay_fixtures.REPO_ROOT)) for p in paths)
        typer.echo(f"{name}: {shown or 'NO FIXTURE'}")
    raise typer.Exit(code)


@app.command("search-attributes")
def search_attributes(
    register: bool = typer.Option(False, help="Register the missing ones (self-hosted clusters)."),
) -> None:
    """Show which of the portal's custom search attributes the namespace has."""
    from portal import temporal
    from portal.ops.search_attributes import (
        missing_search_attributes,
        register_search_attributes,
    )
    from portal.temporal import SEARCH_ATTRIBUTES

    settings = _settings()

    async def run() -> dict[str, str]:
        client = await temporal.connect(settings)
        if register:
            await register_search_attributes(client)
        return await missing_search_attributes(client)

    missing = _run(run)
    for name, kind in SEARCH_ATTRIBUTES.items():
        typer.echo(f"{name} ({kind}): {'MISSING' if name in missing else 'registered'}")
    _finish(1 if missing else 0)
