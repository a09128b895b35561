"""A real portal for browser tests: the API and a worker as subprocesses, driven by Chromium.

The stack runs in its own Temporal namespace, with its own auth-service and
dispatch servers, so its workflows never reach the in-process worker that
other test folders share, and tests here may stop the auth-service.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    RegisterNamespaceRequest,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from portal.settings import Settings
from portal.stack import child_environment
from portal.temporal import SEARCH_ATTRIBUTES
from services.dispatch.admin_client import DispatchAdmin
from services.registries import local as local_registries
from tests.harness.dispatch import start_dispatch
from tests.harness.keys import start_auth_service
from tests.harness.servers import REPO_ROOT, ManagedProcess, free_port, unavailable
from tests.web.browser import CHROMIUM_PATH, BrowserSession, launch_browser

SCREENSHOTS_DIR = REPO_ROOT / "test-artifacts" / "screenshots"
# The API's and the worker's logs, kept as artifacts beside the screenshots.
STACK_LOGS_DIR = REPO_ROOT / "test-artifacts" / "web-stack"


@pytest.fixture(scope="session")
def stack_logs_dir() -> Path:
    """An emptied folder for the logs of the browser tests' API and worker."""
    shutil.rmtree(STACK_LOGS_DIR, ignore_errors=True)
    STACK_LOGS_DIR.mkdir(parents=True)
    return STACK_LOGS_DIR


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def web_namespace(temporal_env: WorkflowEnvironment) -> str:
    """A Temporal namespace of the browser tests' stack, with the portal's search attributes."""
    client = temporal_env.client
    namespace = f"web-{uuid.uuid4().hex[:8]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace,
            workflow_execution_retention_period=Duration(seconds=24 * 3600),
        )
    )
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in SEARCH_ATTRIBUTES
            },
        )
    )
    # The frontend learns of a new namespace on its next cache refresh.
    for _ in range(100):
        try:
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace)
            )
            return namespace
        except RPCError:
            await asyncio.sleep(0.1)
    raise TimeoutError(f"namespace {namespace} not visible after 10 s")


def start_own(start: Callable[[Path], ManagedProcess], workdir: Path, name: str) -> ManagedProcess:
    """Start a server with `start(workdir)`; skip, or fail under CI, when it cannot start."""
    try:
        return start(workdir)
    except RuntimeError as exc:
        unavailable(f"{name} failed to start: {exc}")
        raise


@pytest.fixture(scope="session")
def web_auth_service(session_dir: Path) -> Iterator[ManagedProcess]:
    """An auth-service of the browser tests' own, which a test may stop and restart."""
    server = start_own(start_auth_service, session_dir / "web-auth-service", "auth-service")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def web_dispatch(session_dir: Path) -> Iterator[ManagedProcess]:
    """A dispatch server of the browser tests' own, whose inboxes hold the codes sent."""
    server = start_own(start_dispatch, session_dir / "web-dispatch", "dispatch")
    yield server
    server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def dispatch_admin(web_dispatch: ManagedProcess) -> AsyncIterator[DispatchAdmin]:
    """The control plane of the stack's dispatch server, every channel healthy around the test."""
    admin = DispatchAdmin(web_dispatch.admin_url)  # type: ignore[attr-defined]
    await admin.reset()
    yield admin
    await admin.reset()
    await admin.aclose()


@pytest.fixture(scope="session")
def web_settings(
    portal_settings: Settings,
    web_namespace: str,
    web_auth_service: ManagedProcess,
    web_dispatch: ManagedProcess,
    session_dir: Path,
) -> Settings:
    """Settings of the browser tests' stack: the session's servers, its own ports."""
    return portal_settings.model_copy(
        update={
            "state_dir": session_dir / "web-state",
            "temporal_namespace": web_namespace,
            "auth_service_address": web_auth_service.address,
            "dispatch_address": web_dispatch.address,
            "dispatch_admin_port": web_dispatch.admin_port,
            "api_port": free_port(),
            "worker_metrics_port": free_port(),
            "worker_sdk_metrics_port": free_port(),
            "sdk_tracker_port": free_port(),
            "web_poll_seconds": 0.5,
            # Short, so a browser test can see the step-up prompt without a long wait.
            "mfa_max_age_seconds": 10,
            # Password hashing on a loaded CI machine can outlast the 1 s default; a
            # stopped auth-service still fails at once, with connection refused.
            "auth_service_timeout_seconds": 5.0,
        }
    )


def _http_ok(url: str) -> bool:
    return httpx.get(url, timeout=1.0).status_code < 500


def stack_environment(settings: Settings) -> dict[str, str]:
    """Environment of the stack's processes: what `portal up` passes, plus the tests' tuning."""
    return {
        **child_environment(settings),
        **local_registries.sdk_environment(settings),
        # The API's breaker closes again soon after a test restarts the auth-service.
        "PORTAL_AUTH_SERVICE_BREAKER_RESET_SECONDS": "2",
        # No registries run here, so an SDK release turns partial after one attempt.
        "PORTAL_SDK_PUBLISH_MAX_ATTEMPTS": "1",
        "PORTAL_SDK_PUBLISH_INITIAL_INTERVAL_SECONDS": "0.5",
    }


class AuthServiceOutage:
    """Stops the stack's auth-service, then restarts it and waits until the API reaches it."""

    def __init__(self, server: ManagedProcess, base_url: str) -> None:
        self.server = server
        self.base_url = base_url

    def stop(self) -> None:
        """Stop the auth-service now."""
        self.server.stop()

    async def restore(self) -> None:
        """Start the auth-service and wait until the API's calls to it succeed again."""
        if not self.server.running:
            self.server.start()
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5.0) as http:
            for _ in range(150):
                # A 401 means the API reached the auth-service; a 503 means not yet. A
                # fresh email each time keeps the sign-in rate limit out of the way.
                probe = {
                    "email": f"probe-{uuid.uuid4().hex[:12]}@example.com",
                    "password": "wrong",
                    "totp_code": "000000",
                }
                response = await http.post("/v1/auth/sign-in", json=probe)
                if response.status_code != 503:
                    return
                await asyncio.sleep(0.2)
        raise TimeoutError("the API still reports the auth-service unavailable after 30 s")


@pytest.fixture(scope="session")
def web_issue_tracker(web_settings: Settings, stack_logs_dir: Path) -> Iterator[ManagedProcess]:
    """The local issue tracker, where SDK releases file and close their partial-release issues."""
    tracker = local_registries.issue_tracker(web_settings, stack_environment(web_settings))
    server = ManagedProcess(
        tracker.name,
        tracker.argv,
        stack_logs_dir,
        ready=lambda: _http_ok(tracker.health_url),
        env=tracker.env,
    )
    try:
        server.start()
    except RuntimeError as exc:
        unavailable(f"the issue tracker failed to start: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def web_worker(
    web_settings: Settings, web_issue_tracker: ManagedProcess, stack_logs_dir: Path
) -> Iterator[ManagedProcess]:
    """The portal's worker process, polling every task queue in the stack's namespace."""
    metrics = f"http://127.0.0.1:{web_settings.worker_metrics_port}/metrics"
    worker = ManagedProcess(
        "web-worker",
        [sys.executable, "-m", "workers"],
        stack_logs_dir,
        ready=lambda: _http_ok(metrics),
        env=stack_environment(web_settings),
        startup_timeout=60.0,
    )
    try:
        worker.start()
    except RuntimeError as exc:
        pytest.fail(f"the portal worker failed to start: {exc}")
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def web_api(
    web_settings: Settings, web_worker: ManagedProcess, stack_logs_dir: Path
) -> Iterator[ManagedProcess]:
    """The portal API under uvicorn, as `portal up` runs it; `base_url` is its address."""
    port = web_settings.api_port
    base_url = f"http://127.0.0.1:{port}"
    api = ManagedProcess(
        "web-api",
        [
            sys.executable, "-m", "uvicorn", "api.main:app",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
        ],
        stack_logs_dir,
        ready=lambda: _http_ok(f"{base_url}/healthz"),
        env=stack_environment(web_settings),
        startup_timeout=60.0,
    )  # fmt: skip
    api.base_url = base_url  # type: ignore[attr-defined]
    try:
        api.start()
    except RuntimeError as exc:
        pytest.fail(f"the portal API failed to start: {exc}")
    yield api
    api.stop()


@pytest.fixture(scope="session")
def chromium_installed() -> None:
    """Skip (fail under CI) when Playwright or Debian's Chromium is missing."""
    if importlib.util.find_spec("playwright") is None:
        unavailable("the playwright package is not installed; run scripts/setup.sh")
    if not os.path.exists(CHROMIUM_PATH):
        unavailable(f"{CHROMIUM_PATH} is missing; install Debian's chromium package")


@pytest_asyncio.fixture(loop_scope="session")
async def auth_outage(
    web_auth_service: ManagedProcess, web_api: ManagedProcess
) -> AsyncIterator[AuthServiceOutage]:
    """Lets a test stop the auth-service; it runs again, and the API reaches it, afterwards."""
    outage = AuthServiceOutage(web_auth_service, web_api.base_url)  # type: ignore[attr-defined]
    yield outage
    await outage.restore()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def playwright_driver(chromium_installed: None) -> AsyncIterator[object]:
    """Playwright's driver process, shared by the session."""
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        yield driver


@pytest_asyncio.fixture(loop_scope="session")
async def browser(
    playwright_driver: object,
    web_api: ManagedProcess,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[BrowserSession]:
    """A fresh Chromium profile on the test's portal; screenshots land in test-artifacts/."""
    session = await launch_browser(
        playwright_driver,
        base_url=web_api.base_url,  # type: ignore[attr-defined]
        profile_dir=tmp_path / "chromium-profile",
        screenshots_dir=SCREENSHOTS_DIR,
        test_name=request.node.name,
    )
    yield session
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        await session.screenshot("failure")
    await session.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the test item, so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
