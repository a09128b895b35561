#!/usr/bin/env bash
# Run the whole test suite against real local servers.
# Exits non-zero on any failure, including when no test ran.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
./scripts/setup.sh
mkdir -p test-artifacts
# Most tests wait on servers and timers rather than compute, so a few
# processes overlap those waits; each process starts its own servers.
workers="${PORTAL_TEST_WORKERS:-3}"
status=0
.venv/bin/python -m pytest -p no:cacheprovider -n "$workers" --dist loadfile \
    --durations=15 --junitxml=test-artifacts/junit.xml "$@" || status=$?
if [[ $status -eq 5 ]]; then
    echo "test.sh: no tests ran; treating that as a failure" >&2
    exit 1
fi
exit $status
