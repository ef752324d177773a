#!/usr/bin/env bash
# Configures and builds segcore into build/ (Release). Extra arguments go to CMake, e.g.
#   scripts/build.sh -DSEGCORE_CUDA=OFF
# SEGCORE_BUILD_DIR overrides the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build="${SEGCORE_BUILD_DIR:-build}"
generator=()
command -v ninja >/dev/null 2>&1 && [ ! -f "$build/Makefile" ] && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" --parallel "$(nproc)"
