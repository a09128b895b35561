"""A worker killed while publishing loses nothing and publishes nothing twice."""

import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState

from portal.sdk.config import sdk_config
from portal.sdk.models import ReleaseState
from portal.sdk.releases import start_release
from tests.harness.keys import start_worker
from tests.sdk_release.harness import (
    git_tags,
    maven_get,
    npm_versions,
    pypi_files,
    wait_for,
    wait_settled,
)
from workflows.sdk_release import release_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")

VERSION = "3.0.0"


async def test_worker_killed_mid_publish(sdk_settings, sdk_client, registries, tmp_path):
    worker = start_worker(sdk_settings, tmp_path / "worker")
    try:
        await start_release(sdk_client, sdk_settings, VERSION, "test")
        handle = sdk_client.get_workflow_handle(release_workflow_id(VERSION))

        async def publishing():
            description = await handle.describe()
            assert description.status.name == "RUNNING", "release ended before any publish"
            return [
                pending.activity_type.name
                for pending in description.raw_description.pending_activities
                if pending.activity_type.name == "publish_artifact"
                and pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            ]

        await wait_for(publishing, 240, "a publish activity running", interval=0.05)
        worker.kill()
        worker.start()

        status = await wait_settled(sdk_client, sdk_settings, VERSION)
        assert status.state is ReleaseState.PUBLISHED, status

        # The killed attempt timed out on its heartbeat and ran again on the new worker.
        attempts = [
            event.activity_task_started_event_attributes.attempt
            async for event in handle.fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        ]
        assert max(attempts) >= 2

        assert pypi_files(sdk_settings) == ["example_sms_verify-3.0.0-py3-none-any.whl"]
        assert npm_versions(sdk_settings) == [VERSION]
        assert git_tags(sdk_settings) == [f"v{VERSION}"]
        metadata = maven_get(
            sdk_settings,
            f"{sdk_config(sdk_settings).maven_prefix}/com/examplesms/verify-sdk/maven-metadata.xml",
        )
        assert metadata.count(b"<version>") == 1
    finally:
        worker.stop()
