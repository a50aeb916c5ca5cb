#!/usr/bin/env bash
# Everything the tests need on a fresh machine (as root: Debian's chromium, docker.io + a running
# engine with locally bootstrapped base images), then lint, type-check and the whole test suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --dev

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  if ! command -v chromium >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  bash .ci/docker-setup.sh || echo "test.sh: Docker engine could not be started; docker tests will skip" >&2
fi

echo "== ruff" >&2
ruff check harness tests benchmarks
echo "== mypy" >&2
mypy
echo "== pytest" >&2
set +e
python -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "test.sh: pytest collected no tests — that is a failure" >&2
  exit 1
fi
exit "$rc"
