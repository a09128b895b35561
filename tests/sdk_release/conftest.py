"""Fixtures of the SDK release tests: one set of registries and one namespace per module."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from portal import temporal
from portal.sdk.worker import SDK_WORKFLOWS, build_tracker, sdk_activities
from portal.settings import Settings
from portal.temporal import TaskQueue
from tests.harness.servers import ManagedProcess
from tests.sdk_release.harness import (
    Registries,
    create_namespace,
    release_settings,
    start_registries,
)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder for this module's registries and state."""
    return tmp_path_factory.mktemp("sdk-release")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sdk_settings(
    portal_settings: Settings,
    temporal_env: WorkflowEnvironment,
    moto_server: ManagedProcess,
    module_dir: Path,
) -> Settings:
    """Settings of this module: its own namespace, registries, buckets and fast retries."""
    namespace = f"sdk-release-{uuid.uuid4().hex[:8]}"
    await create_namespace(temporal_env.client, namespace)
    return release_settings(portal_settings, module_dir, namespace)


@pytest.fixture(scope="module")
def registries(sdk_settings: Settings, module_dir: Path) -> Iterator[Registries]:
    """pypiserver, Verdaccio, the issue tracker and a bare git repository for this module."""
    started = start_registries(sdk_settings, module_dir)
    yield started
    started.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sdk_client(
    sdk_settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[Client]:
    """A Temporal client on this module's namespace."""
    client = await temporal.connect(sdk_settings)
    yield client
    # `portal ops fixtures` loads the capture plugin, which reads only the
    # session's namespace; this module's runs are exported from here.
    if request.config.pluginmanager.has_plugin("tests.replay.capture"):
        await capture_sdk_fixtures(client, sdk_settings)


async def capture_sdk_fixtures(client: Client, settings: Settings) -> None:
    """Export replay fixtures of the SDK workflow types that ran in this module."""
    from portal.ops import fixtures
    from portal.ops.replay import HistoryReplayer
    from workers.registry import all_workflows

    mine = {fixtures.workflow_type_name(cls) for cls in SDK_WORKFLOWS}
    requested = [name for name in os.environ.get(fixtures.ENV_TYPES, "").split(",") if name]
    types = sorted(mine & set(requested)) if requested else sorted(mine)
    replayer = HistoryReplayer(all_workflows(), temporal.build_data_converter(settings))
    await fixtures.capture_fixtures(
        client,
        replayer,
        types,
        label=os.environ.get(fixtures.ENV_LABEL) or fixtures.default_label(),
        overwrite=bool(os.environ.get(fixtures.ENV_OVERWRITE)),
        directory=Path(os.environ.get(fixtures.ENV_DIR) or fixtures.FIXTURES_DIR),
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sdk_worker(
    sdk_settings: Settings, sdk_client: Client, registries: Registries
) -> AsyncIterator[Worker]:
    """A worker in this process running the SDK task queue of this module's namespace."""
    tracker = build_tracker(sdk_settings)
    worker = Worker(
        sdk_client,
        task_queue=TaskQueue.SDK,
        workflows=SDK_WORKFLOWS,
        activities=sdk_activities(sdk_settings, sdk_client, tracker),
    )
    async with worker:
        yield worker
    await tracker.aclose()
