"""Pytest plugin that exports replay fixtures from the session's Temporal server.

`portal ops fixtures` loads it with `-p tests.replay.capture`; ordinary test
runs never do. Before the session's Temporal dev server stops, it writes one
decoded history per workflow type of `workers.registry.all_workflows()` that
the tests ran and that has no fixture yet (every type with `--overwrite`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from temporalio.api.workflowservice.v1 import ListNamespacesRequest
from temporalio.testing import WorkflowEnvironment

from portal import temporal
from portal.ops import fixtures
from portal.ops.replay import HistoryReplayer
from portal.settings import Settings

log = logging.getLogger(__name__)


@pytest_asyncio.fixture(scope="session", loop_scope="session", autouse=True)
async def _capture_replay_fixtures(
    temporal_env: WorkflowEnvironment, portal_settings: Settings
) -> AsyncIterator[None]:
    yield
    from workers.registry import all_workflows

    known = {fixtures.workflow_type_name(cls) for cls in all_workflows()}
    requested = [name for name in os.environ.get(fixtures.ENV_TYPES, "").split(",") if name]
    unknown = sorted(set(requested) - known)
    if unknown:
        log.error("not in workers.registry.all_workflows(): %s", ", ".join(unknown))
    types = sorted(set(requested) & known) if requested else sorted(known)
    replayer = HistoryReplayer(all_workflows(), temporal.build_data_converter(portal_settings))
    written: dict[str, Path] = {}
    # Some test modules run their workflows in a namespace of their own.
    for namespace in await _namespaces(temporal_env):
        remaining = [name for name in types if name not in written]
        if not remaining:
            break
        settings = portal_settings.model_copy(update={"temporal_namespace": namespace})
        client = await temporal.connect(settings)
        written |= await fixtures.capture_fixtures(
            client,
            replayer,
            remaining,
            label=os.environ.get(fixtures.ENV_LABEL) or fixtures.default_label(),
            overwrite=bool(os.environ.get(fixtures.ENV_OVERWRITE)),
            directory=Path(os.environ.get(fixtures.ENV_DIR) or fixtures.FIXTURES_DIR),
        )
    missing = sorted(set(types) - set(written))
    log.info("replay fixtures written=%s not_written=%s", sorted(written), missing)


async def _namespaces(temporal_env: WorkflowEnvironment) -> list[str]:
    response = await temporal_env.client.workflow_service.list_namespaces(
        ListNamespacesRequest(page_size=1000)
    )
    names = [item.namespace_info.name for item in response.namespaces]
    return [name for name in names if name != "temporal-system"]
