#!/usr/bin/env bash
# The main job on a fresh machine: set up, evaluate the Adversarial Robustness Toolbox end to end
# on the venv backend (real install, real experiment on N-BaIoT traffic), then render the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
harness evaluate --lib adversarial-robustness-toolbox "$@"
harness report
echo "report: $(pwd)/reports/index.html" >&2
