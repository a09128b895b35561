"""Process supervision for `portal up` and `portal status`.

Each service runs in its own process group with its output in
`<state dir>/logs/<service>.log`. The supervisor starts services in order,
waits for each to be healthy, reports any that dies, and on Ctrl-C or
SIGTERM stops them in reverse order: SIGTERM first, SIGKILL after a grace
period.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from portal.settings import Settings
from portal.stack import Service, build_services

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 15.0
POLL_INTERVAL_SECONDS = 0.5


class StartupError(Exception):
    """A service did not become healthy; the message names it and its log file."""


@dataclass
class Running:
    """A started service and its process."""

    service: Service
    process: subprocess.Popen
    log_path: Path
    reported_exit: bool = False


def tail(path: Path, lines: int = 15) -> str:
    """Return the last `lines` lines of `path`, or an empty string."""
    try:
        with path.open(errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except OSError:
        return ""


def state_file(settings: Settings) -> Path:
    """Path of the JSON file describing the running stack."""
    return settings.state_dir / "stack.json"


class Supervisor:
    """Starts, watches and stops the services of the local stack."""

    def __init__(self, settings: Settings, echo=print) -> None:
        self.settings = settings
        self.echo = echo
        self.running: list[Running] = []
        self.stop_requested = asyncio.Event()
        self.dead: list[str] = []

    def _spawn(self, service: Service) -> Running:
        logs = self.settings.logs_dir
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{service.name}.log"
        handle = log_path.open("ab")
        handle.write(f"\n--- started {time.strftime('%Y-%m-%dT%H:%M:%S')} ---\n".encode())
        handle.flush()
        env = {**os.environ, **service.env}
        process = subprocess.Popen(
            service.argv,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=service.cwd,
            env=env,
            start_new_session=True,
        )
        handle.close()
        log.info("started service=%s pid=%d", service.name, process.pid)
        return Running(service, process, log_path)

    async def _wait_healthy(self, running: Running) -> None:
        service = running.service
        deadline = time.monotonic() + service.startup_timeout
        while time.monotonic() < deadline:
            code = running.process.poll()
            if code is not None:
                raise StartupError(
                    f"{service.name} exited with code {code} during start-up; "
                    f"log: {running.log_path}\n{tail(running.log_path)}"
                )
            if await service.health():
                return
            if self.stop_requested.is_set():
                raise StartupError(f"start-up interrupted while waiting for {service.name}")
            await asyncio.sleep(POLL_INTERVAL_SECONDS)
        raise StartupError(
            f"{service.name} did not become healthy within {service.startup_timeout:.0f} s; "
            f"log: {running.log_path}\n{tail(running.log_path)}"
        )

    def _write_state(self) -> None:
        data = {
            "supervisor_pid": os.getpid(),
            "state_dir": str(self.settings.state_dir.resolve()),
            "services": [
                {
                    "name": r.service.name,
                    "pid": r.process.pid,
                    "log": str(r.log_path),
                    "endpoints": [[e.label, e.address] for e in r.service.endpoints],
                }
                for r in self.running
            ],
        }
        state_file(self.settings).write_text(json.dumps(data, indent=2))

    def _print_table(self, notes: list[str]) -> None:
        rows = [(e.label, e.address) for r in self.running for e in r.service.endpoints]
        rows.append(("State directory", str(self.settings.state_dir.resolve())))
        rows.append(("Logs", str(self.settings.logs_dir.resolve())))
        width = max(len(label) for label, _ in rows)
        self.echo("")
        self.echo("devportal is up:")
        for label, address in rows:
            self.echo(f"  {label.ljust(width)}  {address}")
        for note in notes:
            self.echo(f"  note: {note}")
        self.echo("Press Ctrl-C to stop every service.")

    def _check_children(self) -> None:
        for running in self.running:
            code = running.process.poll()
            if code is not None and not running.reported_exit:
                running.reported_exit = True
                self.dead.append(running.service.name)
                message = (
                    f"service {running.service.name} (pid {running.process.pid}) died "
                    f"with exit code {code}; log: {running.log_path}"
                )
                self.echo(f"ERROR: {message}")

    async def _stop_all(self) -> None:
        for running in reversed(self.running):
            if running.process.poll() is not None:
                continue
            self.echo(f"stopping {running.service.name}")
            try:
                os.killpg(running.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for running in reversed(self.running):
            while running.process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            if running.process.poll() is None:
                log.warning("service=%s ignored SIGTERM; sending SIGKILL", running.service.name)
                try:
                    os.killpg(running.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                running.process.wait()
        try:
            state_file(self.settings).unlink()
        except FileNotFoundError:
            pass

    async def run(self) -> int:
        """Start every service, watch them until a stop signal, then stop them.

        Returns:
            The process exit code: 0 after a clean stop, 1 when a service failed.
        """
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop_requested.set)

        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        owner = running_supervisor(self.settings)
        if owner is not None:
            self.echo(
                f"ERROR: portal up (pid {owner}) already runs on state directory "
                f"{self.settings.state_dir.resolve()}; stop it first or set PORTAL_STATE_DIR."
            )
            return 1
        services, notes = build_services(self.settings)
        try:
            for service in services:
                self.echo(f"starting {service.name} ...")
                running = self._spawn(service)
                self.running.append(running)
                self._write_state()
                await self._wait_healthy(running)
                self.echo(f"  {service.name} is healthy")
        except StartupError as exc:
            self.echo(f"ERROR: {exc}")
            await self._stop_all()
            return 1

        self._write_state()
        self._print_table(notes)
        while not self.stop_requested.is_set():
            self._check_children()
            try:
                await asyncio.wait_for(self.stop_requested.wait(), POLL_INTERVAL_SECONDS)
            except TimeoutError:
                pass
        self.echo("stop requested")
        await self._stop_all()
        self.echo("every service stopped")
        return 1 if self.dead else 0


async def report_status(settings: Settings, echo=print) -> int:
    """Print the state of each service of a running stack; return 0 when all are healthy."""
    path = state_file(settings)
    if not path.exists():
        echo(f"no stack is running for state directory {settings.state_dir.resolve()}")
        return 3
    data = json.loads(path.read_text())
    services, _ = build_services(settings)
    health = {service.name: service.health for service in services}
    exit_code = 0
    name_width = max([len("service"), *(len(entry["name"]) for entry in data["services"])])
    state_width = len("unhealthy")
    echo(f"{'service':{name_width}} {'pid':>8}  {'state':{state_width}} endpoints")
    for entry in data["services"]:
        alive = _pid_alive(entry["pid"])
        probe = health.get(entry["name"])
        healthy = alive and probe is not None and await probe()
        if healthy:
            state = "healthy"
        elif alive:
            state = "unhealthy"
        else:
            state = "dead"
        if not healthy:
            exit_code = 1
        addresses = ", ".join(address for _, address in entry["endpoints"]) or "-"
        echo(f"{entry['name']:{name_width}} {entry['pid']:>8}  {state:{state_width}} {addresses}")
        if not healthy:
            echo(f"{'':{name_width}} {'':>8}  log: {entry['log']}")
    return exit_code


def running_supervisor(settings: Settings) -> int | None:
    """Return the pid of a live `portal up` on this state directory, or None."""
    try:
        data = json.loads(state_file(settings).read_text())
    except (FileNotFoundError, ValueError):
        return None
    pid = data.get("supervisor_pid")
    if isinstance(pid, int) and pid != os.getpid() and _pid_alive(pid):
        return pid
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # kill(0) succeeds on a zombie too, so read the process state from /proc.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
