#!/usr/bin/env bash
# Installs what segcore needs to build, test and benchmark on Debian 12, only what is missing:
# the compiler and build tools, Eigen, GoogleTest, Google Benchmark, CLI11, nlohmann-json and
# Chromium with a font (for the HTML report test) (apt),
# and numpy + scikit-learn + pandas (pip) for the cross-checks and the peer benchmark.
# CUDA is optional: with nvcc on PATH (or CUDACXX set) the CUDA parts are built too.
# Set SEGCORE_SKIP_SETUP=1 to skip it (e.g. on a machine without a package manager).
set -euo pipefail
[ "${SEGCORE_SKIP_SETUP:-0}" = 1 ] && exit 0

packages=(g++ make cmake ninja-build pkg-config libeigen3-dev libgtest-dev libgmock-dev
          libbenchmark-dev libcli11-dev nlohmann-json3-dev
          chromium fonts-dejavu-core)  # headless browser for the report test
command -v python3 >/dev/null 2>&1 || packages+=(python3 python3-pip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "segcore setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! python3 -c "import numpy, sklearn, pandas" >/dev/null 2>&1; then
  echo "segcore setup: installing numpy, scikit-learn and pandas (pip)" >&2
  python3 -m pip install -q numpy scikit-learn pandas ||
    python3 -m pip install -q --break-system-packages numpy scikit-learn pandas ||
    echo "segcore setup: numpy/scikit-learn/pandas unavailable: the cross-checks against them will be skipped" >&2
fi
# faiss-cpu is only a benchmark peer (bench/peers/sklearn_lloyd.py): optional.
python3 -c "import faiss" >/dev/null 2>&1 || python3 -m pip install -q faiss-cpu >/dev/null 2>&1 || true
