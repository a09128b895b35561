"""Running toolchain commands (pip, npm, tsc, go, javac, jar, git) from async code.

Commands run as subprocesses with a timeout. Inside an activity the runner
heartbeats while it waits, so Temporal notices a dead worker within the
heartbeat timeout and not only after the whole start-to-close timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from temporalio import activity

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_SECONDS = 2.0
OUTPUT_TAIL_CHARS = 2000


@dataclass
class ToolResult:
    """Exit code and output of a finished command."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when the command exited with 0."""
        return self.returncode == 0

    def tail(self) -> str:
        """Return the end of the command's output, for error messages."""
        text = (self.stderr.strip() or self.stdout.strip())[-OUTPUT_TAIL_CHARS:]
        return text or f"exit code {self.returncode}"


def _heartbeat() -> None:
    if activity.in_activity():
        activity.heartbeat()


async def run_tool(
    argv: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    limit_seconds: float = 300.0,
) -> ToolResult:
    """Run `argv` and return its result; raise TimeoutError past `limit_seconds`.

    `env` is added to this process's environment. The caller decides what a
    non-zero exit code means.
    """
    log.debug("running %s cwd=%s", argv[0], cwd)
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    communicate = asyncio.ensure_future(process.communicate())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_seconds
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"{Path(argv[0]).name} did not finish within {limit_seconds:.0f} s"
                )
            done, _ = await asyncio.wait(
                {communicate}, timeout=min(HEARTBEAT_EVERY_SECONDS, remaining)
            )
            if done:
                break
            _heartbeat()
    except BaseException:
        if process.returncode is None:
            process.kill()
        communicate.cancel()
        raise
    stdout, stderr = communicate.result()
    return ToolResult(
        argv=argv,
        returncode=process.returncode or 0,
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
    )


def file_checksums(path: Path) -> dict[str, str]:
    """Return the hex sha256, sha1, md5 and sha512 of the file at `path`."""
    digests = {name: hashlib.new(name) for name in ("sha256", "sha1", "md5", "sha512")}
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            for digest in digests.values():
                digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in digests.items()}
