#!/usr/bin/env bash
# pixelflow set-up on Debian 12: installs the Debian packages that are missing, builds, then
#   ./build.sh demo   runs the main job: bundled sample images through the bundled CLIP config
#   ./build.sh test   runs every test (ctest)
#   ./build.sh        builds only
# Environment: PIXELFLOW_BUILD_DIR (default: build), PIXELFLOW_JOBS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  build-essential cmake ninja-build pkg-config python3 python3-numpy
  libtbb-dev libhalide14-0-dev libopencv-dev libyaml-cpp-dev nlohmann-json3-dev catch2
  libturbojpeg0-dev libjpeg62-turbo-dev libspng-dev libwebp-dev libdlpack-dev libbenchmark-dev
)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "pixelflow: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

BUILD_DIR="${PIXELFLOW_BUILD_DIR:-build}"
JOBS="${PIXELFLOW_JOBS:-$(nproc)}"
install_missing
build
case "${1:-}" in
  demo)
    "$BUILD_DIR/bin/pixelflow" preprocess --config openai/clip-vit-base-patch32 \
      --out "$BUILD_DIR/demo" pipelines/samples/*
    ;;
  test)
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
    ;;
  "") ;;
  *)
    echo "usage: $0 [demo|test]" >&2
    exit 2
    ;;
esac
