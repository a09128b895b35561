"""Processes that used a Temporal client keep their exit status and their output."""

import subprocess
import sys

import pytest

from portal.process import exit_code_of

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
