"""Servers and clients of the on-call tests: a worker for the test workflows, the codec server."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.redis_store import RedisActivities
from portal import temporal
from portal.settings import Settings, load_settings
from tests.harness.servers import ManagedProcess, free_port, unavailable
from tests.ops.workflows import TEST_ACTIVITIES, TEST_WORKFLOWS
from workflows.stack_check import StackCheckWorkflow

CLI_TIMEOUT_SECONDS = 120
CODEC_TOKEN = "ops-test-codec-token-0123456789abcdef"


@dataclass
class CliResult:
    """Exit code and output of one `portal` command."""

    code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def ops_settings(
    temporal_env: WorkflowEnvironment, moto_server: ManagedProcess, session_dir: Path
) -> Settings:
    """Settings for the Temporal dev server and moto, with a codec server port and token."""
    return load_settings(
        environment="test",
        state_dir=session_dir / "ops-state",
        temporal_address=temporal_env.client.service_client.config.target_host,
        aws_endpoint_url=moto_server.url,
        codec_port=free_port(),
        codec_auth_token=CODEC_TOKEN,
        # Only the codec server's CORS origin reads it; the browser test serves a page there.
        temporal_ui_port=free_port(),
    )


@pytest.fixture(scope="session")
def ops_env(ops_settings: Settings) -> dict[str, str]:
    """Environment variables that point a `portal` subprocess at the test servers."""
    return {
        "PORTAL_ENVIRONMENT": "test",
        "PORTAL_STATE_DIR": str(ops_settings.state_dir),
        "PORTAL_TEMPORAL_ADDRESS": ops_settings.temporal_address,
        "PORTAL_AWS_ENDPOINT_URL": str(ops_settings.aws_endpoint_url),
        "PORTAL_CODEC_PORT": str(ops_settings.codec_port),
        "PORTAL_CODEC_AUTH_TOKEN": CODEC_TOKEN,
        "PORTAL_TEMPORAL_UI_PORT": str(ops_settings.temporal_ui_port),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ops_client(ops_settings: Settings) -> Client:
    """A Temporal client with the portal's data converter (KMS payload codec)."""
    return await temporal.connect(ops_settings)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ops_task_queue(ops_client: Client, redis_server: ManagedProcess) -> AsyncIterator[str]:
    """A task queue served by a worker running the test workflows and StackCheckWorkflow."""
    task_queue = f"ops-tests-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(redis_server.url)
    worker = Worker(
        ops_client,
        task_queue=task_queue,
        workflows=[*TEST_WORKFLOWS, StackCheckWorkflow],
        activities=[*TEST_ACTIVITIES, RedisActivities(redis).ping_redis],
    )
    async with worker:
        yield task_queue
    await redis.aclose()


@pytest.fixture
def run_portal(ops_env: dict[str, str]):
    """Return an async function that runs `portal ARGS...` as a subprocess."""

    async def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "portal",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **ops_env, **(env or {})},
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT_SECONDS)
        return CliResult(process.returncode or 0, stdout.decode(), stderr.decode())

    return run


@pytest.fixture(scope="session")
def codec_server(
    ops_settings: Settings, ops_env: dict[str, str], session_dir: Path
) -> Iterator[ManagedProcess]:
    """`portal codec-server` on a free port, with the test token."""
    url = f"http://127.0.0.1:{ops_settings.codec_port}"

    def ready() -> bool:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200

    server = ManagedProcess(
        "codec-server",
        [sys.executable, "-m", "portal", "codec-server"],
        session_dir / "codec-server",
        ready=ready,
        env=ops_env,
    )
    try:
        server.start()
    except RuntimeError as exc:
        unavailable(f"the codec server failed to start: {exc}")
    server.url = url  # type: ignore[attr-defined]
    yield server
    server.stop()
