#!/usr/bin/env bash
# Set up the harness on a fresh machine: install it (with uv), and write the user-level settings
# every environment it builds will get (constraints pinning a local CPU build of torch, when the
# find-links folder holds one, so that no library pulls a multi-GB CUDA build by accident).
# Usage: bash scripts/setup.sh [--dev]     (--dev adds the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev,ray]"
"$PY" -m pip install -q --disable-pip-version-check -e ".${extras}"

config_dir=${XDG_CONFIG_HOME:-$HOME/.config}/iot-attack-harness
mkdir -p "$config_dir"
constraints=$config_dir/constraints.txt
if [ ! -f "$constraints" ]; then
  : > "$constraints"
  # A CPU wheel of torch in a find-links folder: pin torch to it (uv takes find-links wheels only
  # when a constraint selects them; otherwise it prefers the newest CUDA build on the index).
  for dir in ${PIP_FIND_LINKS:-}; do
    wheel=$(ls "$dir"/torch-*+cpu-*.whl 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$wheel" ]; then
      version=$(basename "$wheel" | sed -E 's/^torch-([0-9.]+)\+cpu.*/\1/')
      echo "torch==$version" >> "$constraints"
      echo "setup: pinned torch==$version (CPU wheel in $dir)" >&2
      break
    fi
  done
fi
config=$config_dir/config.yaml
if [ ! -f "$config" ]; then
  printf 'constraints: %s\n' "$constraints" > "$config"
  # With torch pinned to a local CPU wheel, PyPI's torchvision (built against CUDA torch) fails to
  # import ("operator torchvision::nms does not exist"). Where the configured indexes offer the
  # matched pair torch 2.14.1 + torchvision 0.29.1, libraries that need torchvision get that pair
  # (one copy in uv's cache, hard-linked into each environment).
  if grep -q '^torch==' "$constraints" \
     && "$PY" -m pip index versions torchvision 2>/dev/null | grep -q '0\.29\.1'; then
    printf 'constraint_groups:\n  torchvision: ["torch==2.14.1", "torchvision==0.29.1"]\n' >> "$config"
    echo "setup: libraries that need torchvision get torch==2.14.1 + torchvision==0.29.1" >&2
  fi
  echo "setup: wrote $config" >&2
fi
