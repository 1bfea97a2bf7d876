#!/usr/bin/env bash
# Every test: TypeScript (jest, stale-type check) and Python (backend on SQLite and PostgreSQL, server extension,
# CLI, packaging, browser in Chromium, pipelines in Docker). Starts what the tests need: PostgreSQL and a Docker
# engine (installing Debian's postgresql, docker.io and debootstrap when missing: needs root), and installs
# Chromium if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export PATH="$PWD/$BIN:$PATH"
ARTIFACTS=${ARTIFACTS:-test-artifacts}
mkdir -p "$ARTIFACTS"

if ! command -v chromium >/dev/null 2>&1; then
  echo "[test] installing Debian's chromium for the browser tests"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
MLP_TEST_POSTGRES_URL=$(bash tests/services/postgres.sh)
export MLP_TEST_POSTGRES_URL
# A real Docker engine: one pipeline runs in containers (tests/pipelines/test_containers.py must not skip).
# Shared with any other test run on this machine: the last run to finish stops a dockerd that a test run started
# (never one that was already running), so a run never pulls the engine from under another.
bash tests/services/docker-share.sh acquire $$
trap 'bash tests/services/docker-share.sh release $$ || true' EXIT
export MLP_TEST_DOCKER=1

echo "[test] TypeScript ($(date -u +%T) UTC)"
jlpm test --silent
jlpm check:api

echo "[test] Python ($(date -u +%T) UTC)"
set +e
# --durations: the slowest tests in the log, to keep the whole run inside CI's time budget; `times`: each file's
# line ends with its wall time instead of a percentage, so CI's output shows where a slow run spent its time.
python -m pytest -p no:cacheprovider --durations=40 -o console_output_style=times "$@"
rc=$?
set -e
echo "[test] done ($(date -u +%T) UTC)"
# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
exit $rc
