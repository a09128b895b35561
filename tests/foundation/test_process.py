"""Processes that used a Temporal client keep their exit status and their output."""

import os
import subprocess
import sys

import pytest

from portal.process import exit_code_of
from tests.harness.servers import free_port

SCRIPT = """
import logging, sys
{imports}
from portal.process import end_process
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
print("buffered stdout", end="")
logging.getLogger("t").info("a log line")
end_process(3)
"""


@pytest.mark.parametrize("imports", ["import temporalio.bridge.temporal_sdk_bridge", "import json"])
def test_end_process_flushes_and_keeps_status(imports: str):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(imports=imports)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 3
    assert done.stdout == "buffered stdout"
    assert "a log line" in done.stderr


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (4, 4), ("bad input", 1)])
def test_exit_code_of(code: object, status: int):
    assert exit_code_of(SystemExit(code)) == status


def run_portal_without_temporal(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """Run the `portal` CLI against a Temporal address where nothing listens."""
    env = {
        **os.environ,
        "PORTAL_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "PORTAL_STATE_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "portal", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_cli_names_unreachable_temporal(tmp_path):
    done = run_portal_without_temporal(tmp_path, "docs", "publish", "--release", "r1")

    assert done.returncode == 1
    assert "cannot reach Temporal" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_checks_spec_before_connecting(tmp_path):
    done = run_portal_without_temporal(
        tmp_path, "docs", "publish", "--release", "r1", "--spec", "nosuch.yaml"
    )

    assert done.returncode == 2
    assert "invalid --spec" in done.stderr
