"""A release with the npm registry down turns partial, alerts, files one issue and retries clean."""

import asyncio
import uuid

import httpx
import pytest
from prometheus_client import REGISTRY, start_http_server

from portal.sdk.config import sdk_config
from portal.sdk.models import LanguageState, ReleaseState, VersionSkewInput
from portal.sdk.releases import release_status, start_release
from portal.temporal import TaskQueue
from tests.harness.servers import free_port
from tests.sdk_release.harness import (
    firing_alerts,
    git_tags,
    maven_get,
    npm_versions,
    portal_command,
    prometheus_value,
    pypi_files,
    start_prometheus,
    tracker_issues,
    wait_for,
    wait_settled,
)
from workflows.version_skew import VersionSkewWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

VERSION = "2.0.0"


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def set_tracker_faults(settings, lose_create_responses: int) -> None:
    config = sdk_config(settings)
    response = httpx.put(
        f"{config.tracker_url}/_admin/faults",
        json={"lose_create_responses": lose_create_responses},
        headers={"Authorization": f"Bearer {config.tracker_token}"},
        timeout=5.0,
    )
    response.raise_for_status()


def tracker_faults_left(settings) -> int:
    config = sdk_config(settings)
    response = httpx.get(
        f"{config.tracker_url}/_admin/faults",
        headers={"Authorization": f"Bearer {config.tracker_token}"},
        timeout=5.0,
    )
    return response.json()["lose_create_responses"]


async def check_skew(client):
    return await client.execute_workflow(
        VersionSkewWorkflow.run,
        VersionSkewInput(),
        id=f"sdk-version-skew-test-{uuid.uuid4().hex[:8]}",
        task_queue=TaskQueue.SDK,
    )


async def test_partial_release_alerts_and_retries(
    sdk_settings, sdk_client, sdk_worker, registries, tmp_path
):
    metrics_server, metrics_thread = start_http_server(free_port(), addr="127.0.0.1")
    prometheus = start_prometheus(tmp_path / "prometheus", metrics_server.server_port)
    try:
        # Prometheus must see the counter before the release turns partial.
        await wait_for(
            lambda: asyncio.to_thread(
                lambda: (
                    prometheus_value(prometheus, "portal_sdk_releases_partial_total") is not None
                )
            ),
            30,
            "first scrape of the worker's metrics",
        )
        partial_before = sample("portal_sdk_releases_partial_total")
        npm_failures_before = sample(
            "portal_sdk_publish_failures_total",
            {"language": "typescript", "reason": "unavailable"},
        )
        # The tracker stores the first issue but loses the response, so the
        # filing activity must retry without filing a second issue.
        set_tracker_faults(sdk_settings, 1)
        registries.npm.stop()

        status, started = await start_release(sdk_client, sdk_settings, VERSION, "test")
        assert started

        status = await wait_settled(sdk_client, sdk_settings, VERSION)
        assert status.state is ReleaseState.PARTIAL
        typescript = status.languages["typescript"]
        assert typescript.state is LanguageState.FAILED
        assert typescript.error_type == "RegistryUnavailableError"
        assert "npm registry" in typescript.error
        for language in ("python", "go", "java"):
            assert status.languages[language].state is LanguageState.PUBLISHED

        # The metric counts the release once and every failed attempt.
        assert sample("portal_sdk_releases_partial_total") == partial_before + 1
        npm_failures = sample(
            "portal_sdk_publish_failures_total",
            {"language": "typescript", "reason": "unavailable"},
        )
        assert npm_failures - npm_failures_before == sdk_settings.sdk_publish_max_attempts

        # Prometheus evaluates the alert rule of deploy/prometheus/alerts.yml.
        await wait_for(
            lambda: asyncio.to_thread(
                lambda: "PortalSdkReleasePartial" in firing_alerts(prometheus)
            ),
            30,
            "PortalSdkReleasePartial firing",
        )

        # Exactly one issue, naming the version, the language and its last error.
        assert tracker_faults_left(sdk_settings) == 0
        issues = tracker_issues(sdk_settings, VERSION)
        assert len(issues) == 1
        assert issues[0]["state"] == "open"
        assert VERSION in issues[0]["title"]
        assert "typescript" in issues[0]["title"]
        assert "RegistryUnavailableError" in issues[0]["body"]
        assert status.issue is not None
        assert status.issue.number == issues[0]["number"]
        code, listed = await portal_command(sdk_settings, "sdk", "issues")
        assert code == 0, listed
        assert f"#{issues[0]['number']}" in listed

        # With npm back but empty, the skew check finds that the registries disagree.
        registries.npm.start()
        skew = await check_skew(sdk_client)
        assert skew.skewed is True
        assert skew.partial_releases == 1
        latest = {reading.language: reading.latest for reading in skew.readings}
        assert latest == {"python": VERSION, "typescript": None, "go": VERSION, "java": VERSION}
        assert sample(
            "portal_sdk_registry_latest_version_seen_timestamp_seconds",
            {"language": "typescript", "version": "none"},
        )

        code, output = await portal_command(sdk_settings, "sdk", "retry", VERSION)
        assert code == 0, output
        assert f"release {VERSION}: published" in output
        final = await release_status(sdk_client, sdk_settings, VERSION)
        assert final.state is ReleaseState.PUBLISHED
        assert final.rounds == 2
        assert final.languages["typescript"].state is LanguageState.PUBLISHED

        # Nothing was published twice.
        assert npm_versions(sdk_settings) == [VERSION]
        assert pypi_files(sdk_settings) == ["example_sms_verify-2.0.0-py3-none-any.whl"]
        assert git_tags(sdk_settings) == [f"v{VERSION}"]
        metadata = maven_get(
            sdk_settings,
            f"{sdk_config(sdk_settings).maven_prefix}/com/examplesms/verify-sdk/maven-metadata.xml",
        )
        assert metadata.count(b"<version>") == 1
        closed = tracker_issues(sdk_settings, VERSION)
        assert len(closed) == 1
        assert closed[0]["state"] == "closed"
        assert closed[0]["state_reason"] == "completed"

        skew = await check_skew(sdk_client)
        assert skew.skewed is False
        assert skew.partial_releases == 0
    finally:
        prometheus.stop()
        metrics_server.shutdown()
        metrics_thread.join(5)
