import shutil
import subprocess
from pathlib import Path

import yaml

from tests.harness.servers import unavailable

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"


def test_keys_alert_rules_pass_promtool():
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool (Debian package prometheus) is not installed")
    result = subprocess.run(
        [promtool, "test", "rules", "tests/keys.test.yml"],
        capture_output=True,
        text=True,
        cwd=PROMETHEUS,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_keys_alerts_link_existing_runbooks():
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    rules = next(group["rules"] for group in groups if group["name"] == "portal-keys")
    assert len(rules) >= 4
    for rule in rules:
        runbook = rule["annotations"]["runbook_url"]
        assert (ROOT / runbook).exists(), f"{rule['alert']} links missing {runbook}"
