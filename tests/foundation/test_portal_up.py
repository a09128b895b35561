"""End to end: `portal up` brings every service up, reports a dead child, and
keeps Temporal's workflows across a restart on the same state directory."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from portal.settings import Settings
from tests.harness.servers import REPO_ROOT, free_port, wait_until

pytestmark = pytest.mark.slow

ADDRESS_PATTERN = re.compile(r"^[^:\s]+:\d{1,5}$")


def isolated_environment(state_dir: Path) -> dict[str, str]:
    """Every port and address setting on a free port, so the test never collides."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
    env["PORTAL_STATE_DIR"] = str(state_dir)
    for name, field in Settings.model_fields.items():
        variable = f"PORTAL_{name.upper()}"
        if name.endswith("_port"):
            env[variable] = str(free_port())
        elif name.endswith("_address") and isinstance(field.default, str):
            if ADDRESS_PATTERN.match(field.default):
                env[variable] = f"127.0.0.1:{free_port()}"
    env["PORTAL_REDIS_URL"] = f"redis://127.0.0.1:{env['PORTAL_REDIS_PORT']}/0"
    return env


class PortalUp:
    """`portal up` as a child process, with its output in a file."""

    def __init__(self, env: dict[str, str], output: Path) -> None:
        self.env = env
        self.output = output
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.output.open("ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "portal", "up"],
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=REPO_ROOT,
            )
        wait_until(
            lambda: "devportal is up" in self.text() or self.process.poll() is not None,
            timeout=180,
            what="portal up",
        )
        assert self.process.poll() is None, f"portal up exited:\n{self.text()}"

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""


def api_url(env: dict[str, str], path: str) -> str:
    return f"http://127.0.0.1:{env['PORTAL_API_PORT']}{path}"


def start_workflow(env: dict[str, str], workflow_id: str) -> None:
    cli = Path(sys.executable).parent / "temporal"
    result = subprocess.run(
        [
            str(cli), "workflow", "start",
            "--address", env["PORTAL_TEMPORAL_ADDRESS"],
            "--type", "StackCheckWorkflow",
            "--task-queue", "portal-ops",
            "--workflow-id", workflow_id,
            "--input", '{"requested_by": "restart test"}',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def list_workflow_ids(env: dict[str, str]) -> set[str]:
    cli = Path(sys.executable).parent / "temporal"
    result = subprocess.run(
        [str(cli), "workflow", "list", "--address", env["PORTAL_TEMPORAL_ADDRESS"], "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return {item["execution"]["workflowId"] for item in json.loads(result.stdout or "[]")}


READ_RESULT = """
import asyncio, sys
from portal import temporal
from portal.settings import load_settings
from portal.stack import with_local_aws

async def main():
    client = await temporal.connect(with_local_aws(load_settings()))
    result = await client.get_workflow_handle(sys.argv[1]).result()
    print(result["redis_ping_ms"])

asyncio.run(main())
"""


def read_result_ms(env: dict[str, str], workflow_id: str) -> float:
    """Decode the workflow's result with the portal's converter, in a child process."""
    result = subprocess.run(
        [sys.executable, "-c", READ_RESULT, workflow_id],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return float(result.stdout.strip().splitlines()[-1])


def test_portal_up_serves_reports_and_persists(tmp_path: Path):
    env = isolated_environment(tmp_path / "state")
    stack = PortalUp(env, tmp_path / "portal-up.out")
    stack.start()
    try:
        # Every service is up: the API is ready and the Temporal UI serves its page.
        ready = httpx.get(api_url(env, "/readyz"), timeout=5)
        assert ready.status_code == 200, ready.text
        ui = httpx.get(f"http://127.0.0.1:{env['PORTAL_TEMPORAL_UI_PORT']}/", timeout=5)
        assert ui.status_code == 200
        for label in ("API docs", "Temporal UI", "Worker metrics", "State directory"):
            assert label in stack.text()

        status = subprocess.run(
            [sys.executable, "-m", "portal", "status"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stdout + status.stderr
        assert "redis" in status.stdout
        assert "healthy" in status.stdout

        # A second supervisor on the same state directory is refused.
        second = subprocess.run(
            [sys.executable, "-m", "portal", "up"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "already runs on state directory" in second.stdout

        workflow_id = f"stack-check-restart-{uuid.uuid4().hex[:8]}"
        start_workflow(env, workflow_id)

        # Kill Redis: readiness names it within seconds and the supervisor reports it.
        state = json.loads((tmp_path / "state" / "stack.json").read_text())
        redis_pid = next(s["pid"] for s in state["services"] if s["name"] == "redis")
        os.kill(redis_pid, signal.SIGKILL)
        killed_at = time.monotonic()

        def readyz_names_redis() -> bool:
            response = httpx.get(api_url(env, "/readyz"), timeout=5)
            return response.status_code == 503 and response.json()["dependency"] == "redis"

        wait_until(readyz_names_redis, timeout=10, what="/readyz reporting redis")
        assert time.monotonic() - killed_at < 10
        wait_until(lambda: "service redis" in stack.text() and "died" in stack.text(), 10, "report")
        assert str(tmp_path / "state" / "logs" / "redis.log") in stack.text()
    finally:
        code = stack.stop()
    assert code == 1, "a supervisor that saw a child die must exit non-zero"
    assert "every service stopped" in stack.text()

    # Same state directory, new supervisor: the earlier workflow is still there.
    restarted = PortalUp(env, tmp_path / "portal-up-2.out")
    restarted.start()
    try:
        assert workflow_id in list_workflow_ids(env)
        # Its payloads were encrypted under KMS keys of the first run, so reading
        # the result proves the local AWS state survived the restart too.
        assert read_result_ms(env, workflow_id) >= 0
    finally:
        assert restarted.stop() == 0
