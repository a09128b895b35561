import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.main import get_command

from portal.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_SERVICES = {
    "postgresql",
    "temporal",
    "temporal-ui",
    "redis",
    "varnish",
    "api",
    "worker",
    "auth-service",
    "dispatch",
    "codec-server",
    "prometheus",
}


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_names_every_service():
    services = set(load_compose()["services"])
    assert EXPECTED_SERVICES <= services, f"missing: {EXPECTED_SERVICES - services}"


def test_compose_mounts_exist():
    for name, service in load_compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_compose_portal_commands_exist():
    commands = set(get_command(app).commands)
    for name, service in load_compose()["services"].items():
        command = service.get("command", [])
        if command[:1] == ["portal"]:
            assert command[1] in commands, f"{name} runs unknown `portal {command[1]}`"


def test_prometheus_loads_alert_rules():
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert "alerts.yml" in config["rule_files"]


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="docker compose is not installed; the YAML checks above still ran",
)
def test_docker_compose_config_accepts_file():
    result = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={
            "PORTAL_REDIS_PASSWORD": "x",
            "PORTAL_REDIS_ADMIN_PASSWORD": "x",
            "TEMPORAL_DB_PASSWORD": "x",
            "PATH": "/usr/bin:/bin",
        },
    )
    assert result.returncode == 0, result.stderr
