import re
import time

import pyotp
import pytest
from typer.testing import CliRunner

from portal.cli import app
from portal.demo import STEPS, DemoContext
from portal.keys.demo import api_keys_demo


@pytest.mark.asyncio(loop_scope="session")
async def test_demo_step_runs_on_stack(api_client, portal_settings, portal_worker, temporal_client):
    lines: list[str] = []
    ctx = DemoContext(
        settings=portal_settings, http=api_client, temporal=temporal_client, echo=lines.append
    )
    await api_keys_demo(ctx)
    output = "\n".join(lines)
    assert "second reveal -> 410 Gone" in output
    assert "revoked; the key now gets 401" in output
    assert not re.search(r"sk_test_[0-9A-Za-z]{38}", output)
    assert any(step.run is api_keys_demo for step in STEPS)


def test_users_seed_then_code(auth_service, monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_AUTH_SERVICE_ADDRESS", auth_service.address)
    monkeypatch.setenv("PORTAL_AUTH_SERVICE_DB", str(auth_service.database))
    monkeypatch.setenv("PORTAL_ENVIRONMENT", "test")
    email = f"cli-{tmp_path.name}@example.com"
    runner = CliRunner()

    seeded = runner.invoke(app, ["users", "seed", "--email", email, "--tenant", "tenant-cli"])
    assert seeded.exit_code == 0, seeded.output
    secret = re.search(r"TOTP secret: (\S+)", seeded.output).group(1)
    assert "password:" in seeded.output

    again = runner.invoke(app, ["users", "seed", "--email", email, "--tenant", "tenant-cli"])
    assert again.exit_code == 0
    assert "already exists" in again.output

    code = runner.invoke(app, ["users", "code", email])
    assert code.exit_code == 0, code.output
    now = time.time()
    expected = {pyotp.TOTP(secret).at(now), pyotp.TOTP(secret).at(now - 30)}
    assert code.stdout.strip() in expected

    missing = runner.invoke(app, ["users", "code", "nobody@example.com"])
    assert missing.exit_code == 1
