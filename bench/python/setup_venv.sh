#!/usr/bin/env bash
# The benchmark's own environment, build/venv-bench: what the tests use (python/constraints-test.txt)
# but torch 2.14.1 + torchvision 0.29.1 (transformers' torchvision backend needs torchvision, and
# PyPI's torchvision does not import beside torch 2.13; both lie on this machine's disk in
# /opt/wheels, about 5.5 GB installed), and pixelflow from this tree. Not used by CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR="${PIXELFLOW_BUILD_DIR:-build}"
VENV="$BUILD_DIR/venv-bench"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
grep -v -E "^(torch|#)" python/constraints-test.txt > "$BUILD_DIR/bench-constraints.txt"
"$VENV/bin/python" -m pip install -q torch==2.14.1 torchvision==0.29.1 -r python/requirements-build.txt \
  -c "$BUILD_DIR/bench-constraints.txt" transformers==5.0.0 pillow==9.4.0 2>&1 | sed '/^WARNING: Location/d'
"$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -C build-dir="$BUILD_DIR/pip" \
  -C cmake.define.PIXELFLOW_HALIDE_KERNELS_FROM="$(realpath "$BUILD_DIR")" . 2>&1 | sed '/^WARNING: Location/d'
"$VENV/bin/python" -c "import torchvision, transformers, pixelflow; print('bench venv ready:', '$VENV')"
