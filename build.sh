#!/usr/bin/env bash
# pixelflow set-up on Debian 12: installs the Debian packages that are missing, builds, then
#   ./build.sh demo    runs the main job: bundled sample images through the bundled CLIP config
#   ./build.sh test    every check CI runs: unit, then asan, tsan and fuzz (below), in that order
#   ./build.sh unit    the normal (Release) build's tests (ctest: unit tests + CLI contract)
#   ./build.sh asan    ASan + UBSan build of pixelflow's own code ($BUILD_DIR/asan), every ctest test
#   ./build.sh tsan    TSan build ($BUILD_DIR/tsan): the tests that run the flow graph and loaders
#   ./build.sh fuzz    libFuzzer build ($BUILD_DIR/fuzz): each target for $PIXELFLOW_FUZZ_SECONDS
#                      (default 45) on its seed corpus (tests/fuzz/corpus/<target>)
#   ./build.sh         builds only
# The sanitizer and fuzz builds (clang) link the Halide kernels of the normal build instead of
# generating them again (PIXELFLOW_HALIDE_KERNELS_FROM), so the normal build always comes first.
# Environment: PIXELFLOW_BUILD_DIR (default: build), PIXELFLOW_JOBS (default: all cores),
# PIXELFLOW_FUZZ_SECONDS (default: 45).
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  build-essential cmake ninja-build pkg-config python3 python3-numpy
  libtbb-dev libhalide14-0-dev libopencv-dev libyaml-cpp-dev nlohmann-json3-dev catch2
  libturbojpeg0-dev libjpeg62-turbo-dev libspng-dev libwebp-dev libdlpack-dev libbenchmark-dev
  clang libclang-rt-14-dev
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

# An instrumented build in $BUILD_DIR/$1 (clang, RelWithDebInfo, no benchmarks), extra cmake
# arguments after the name; builds the targets in $TARGETS.
instrumented_build() {
  local dir="$BUILD_DIR/$1"
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DPIXELFLOW_BUILD_BENCH=OFF -DPIXELFLOW_HALIDE_KERNELS_FROM="$(realpath "$BUILD_DIR")" "$@" >/dev/null
  # shellcheck disable=SC2086
  cmake --build "$dir" -j "$JOBS" --target $TARGETS
}

SRC_DIR="$(pwd)"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

run_unit() {
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
}

# ASan + UBSan: every test, the CLI contract included (it drives the instrumented CLI).
run_asan() {
  echo "pixelflow: ASan + UBSan build and tests"
  TARGETS="pixelflow_tests pixelflow pixelflow_dataset_writer_sample" \
    instrumented_build asan -DPIXELFLOW_SANITIZE=address,undefined
  ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1" \
    ctest --test-dir "$BUILD_DIR/asan" --output-on-failure -j "$JOBS" --timeout 900
}

# TSan: the tests that run the oneTBB flow graph, the loaders and the batch pipelines (one process,
# Catch2 tag filter); tests/tsan.supp says what is suppressed and why.
run_tsan() {
  echo "pixelflow: TSan build and graph/pipeline tests"
  TARGETS="pixelflow_tests" instrumented_build tsan -DPIXELFLOW_SANITIZE=thread
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$SRC_DIR/tests/tsan.supp" \
    "$BUILD_DIR/tsan/bin/pixelflow_tests" "[pipeline],[builder],[load_input],[stream_decode],[golden],[approximate],[loader],[post_process_run]"
}

# Seeds of a fuzz target: its committed corpus (tests/fuzz/corpus/<target>: hand-made seeds and the
# reproducers of past findings) plus the small fixtures of its format already in the repository.
seed_files() {
  local exts
  case "$1" in
    fuzz_decode_image) exts='.*\.\(jpg\|jpeg\|mpo\|png\|webp\|bmp\|gif\|txt\)' ;;
    fuzz_npy) exts='.*\.npy' ;;
    fuzz_processor_config) exts='.*preprocessor_config\.json' ;;
    fuzz_pipeline_yaml) exts='.*\.ya?ml' ;;
  esac
  find tests/data pipelines -type f -size -4k -regex "$exts" 2>/dev/null || true
}

# libFuzzer: every target for PIXELFLOW_FUZZ_SECONDS on a copy of its seeds (new inputs go to the
# copy; the repository's corpus stays as committed).
run_fuzz() {
  echo "pixelflow: fuzz build and ${FUZZ_SECONDS}s per target"
  local targets=(fuzz_decode_image fuzz_npy fuzz_processor_config)
  [ -f pipelines/yaml_pipeline.h ] && targets+=(fuzz_pipeline_yaml)
  TARGETS="${targets[*]}" instrumented_build fuzz -DPIXELFLOW_FUZZ=ON -DPIXELFLOW_BUILD_TESTS=OFF
  for t in "${targets[@]}"; do
    local work="$BUILD_DIR/fuzz/corpus/$t"
    rm -rf "$work" && mkdir -p "$work"
    [ -d "tests/fuzz/corpus/$t" ] && cp -r "tests/fuzz/corpus/$t/." "$work/"
    seed_files "$t" | while read -r f; do cp "$f" "$work/seed_$(echo "$f" | tr '/' '_')"; done
    echo "pixelflow: $t"
    ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" \
      "$BUILD_DIR/fuzz/bin/$t" -seed="$FUZZ_SEED" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2560 \
      -print_final_stats=1 -artifact_prefix="$BUILD_DIR/fuzz/$t-" "$work" 2>&1 | grep -v "^#[0-9]" || {
      echo "pixelflow: $t found a problem (reproducer: $BUILD_DIR/fuzz/$t-*)" >&2
      return 1
    }
  done
}

BUILD_DIR="${PIXELFLOW_BUILD_DIR:-build}"
JOBS="${PIXELFLOW_JOBS:-$(nproc)}"
FUZZ_SECONDS="${PIXELFLOW_FUZZ_SECONDS:-45}"
# A fixed seed keeps CI's fuzz step a reproducible regression run (the same mutations each time,
# as far as the time allows); PIXELFLOW_FUZZ_SEED=0 draws a random one for discovery runs.
FUZZ_SEED="${PIXELFLOW_FUZZ_SEED:-1}"
install_missing
build
case "${1:-}" in
  demo)
    "$BUILD_DIR/bin/pixelflow" preprocess --config openai/clip-vit-base-patch32 \
      --out "$BUILD_DIR/demo" pipelines/samples/*
    ;;
  test)
    run_unit
    run_asan
    run_tsan
    run_fuzz
    ;;
  unit) run_unit ;;
  asan) run_asan ;;
  tsan) run_tsan ;;
  fuzz) run_fuzz ;;
  "") ;;
  *)
    echo "usage: $0 [demo|test|unit|asan|tsan|fuzz]" >&2
    exit 2
    ;;
esac
