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
    client = await temporal.connect(portal_settings)
    replayer = HistoryReplayer(all_workflows(), temporal.build_data_converter(portal_settings))
    written = await fixtures.capture_fixtures(
        client,
        replayer,
        types,
        label=os.environ.get(fixtures.ENV_LABEL) or fixtures.default_label(),
        overwrite=bool(os.environ.get(fixtures.ENV_OVERWRITE)),
        directory=Path(os.environ.get(fixtures.ENV_DIR) or fixtures.FIXTURES_DIR),
    )
    missing = sorted(set(types) - set(written))
    log.info("replay fixtures written=%s not_written=%s", sorted(written), missing)
