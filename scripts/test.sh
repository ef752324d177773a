#!/usr/bin/env bash
# Builds segcore and runs every test (GoogleTest through ctest, and the scikit-learn cross-check).
# GPU tests skip themselves on a machine without a CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh "$@"
ctest --test-dir "${SEGCORE_BUILD_DIR:-build}" --output-on-failure --timeout 900
