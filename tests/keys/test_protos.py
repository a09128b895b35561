import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen-protos.sh"


def test_generated_auth_code_is_current(tmp_path):
    result = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert result.returncode == 0, result.stderr
    generated = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*_pb2*.py*"))
    assert Path("protos/auth/v1/auth_pb2.py") in generated
    for relative in generated:
        committed = ROOT / relative
        assert committed.exists(), f"{relative} is not committed; run scripts/gen-protos.sh"
        assert committed.read_bytes() == (tmp_path / relative).read_bytes(), (
            f"{relative} is stale; run scripts/gen-protos.sh and commit the result"
        )
