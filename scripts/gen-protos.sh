#!/usr/bin/env bash
# Generate the Python gRPC code of every contract under protos/.
#
# Usage: scripts/gen-protos.sh [OUTPUT_DIR]
# The output goes next to each .proto file (OUTPUT_DIR defaults to the repo
# root) and is committed; tests/keys/test_protos.py regenerates it into a
# temporary folder and fails when the committed copy differs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(realpath -m "${1:-$ROOT}")"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
cd "$ROOT"
mapfile -t protos < <(find protos -name '*.proto' | sort)
if ((${#protos[@]} == 0)); then
    echo "gen-protos: no .proto files under protos/" >&2
    exit 1
fi
mkdir -p "$OUT"
"$PYTHON" -m grpc_tools.protoc -I . \
    --python_out="$OUT" --pyi_out="$OUT" --grpc_python_out="$OUT" "${protos[@]}"
echo "gen-protos: generated ${#protos[@]} contract(s) into $OUT" >&2
