"""Running and ending the portal's long-lived processes."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on uvloop where it is installed, else on asyncio's loop.

    The worker spends a large share of its CPU in the event loop (socket reads,
    writes and callbacks from the Temporal bridge), which uvloop runs in C.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def exit_code_of(exc: SystemExit) -> int:
    """Return the status `sys.exit` would give for `exc`, printing a text code as Python does."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def end_process(code: int) -> None:
    """Flush output and logs, then end the process without interpreter finalization.

    The Temporal client's Rust runtime keeps native threads that may call back
    into Python while the interpreter is finalizing. CPython then aborts with
    "PyGILState_Release: thread state ... must be current" and the process
    exits with SIGABRT instead of its own status. Skipping finalization keeps
    the status. Processes that never loaded the Temporal bridge exit normally.
    Upstream report: https://github.com/temporalio/sdk-python/issues/300

    Args:
        code: Exit status.
    """
    if "temporalio.bridge.temporal_sdk_bridge" not in sys.modules:
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            # A closed or broken pipe has nowhere left to write to.
            pass
    os._exit(code)
