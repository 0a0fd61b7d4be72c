#!/usr/bin/env bash
# pixelflow set-up on Debian 12: installs the Debian packages that are missing, builds, then
#   ./build.sh demo    runs the main job: bundled sample images through the bundled CLIP config
#   ./build.sh test    every check CI runs: unit, python, packaging, then asan, tsan and fuzz (below)
#   ./build.sh packaging  cmake --install + a find_package(pixelflow) consumer; pip wheel +
#                      auditwheel repair, installed and run in a fresh virtual environment
#   ./build.sh unit    the normal (Release) build's tests (ctest: unit tests + CLI contract)
#   ./build.sh python  the Python package: a virtual environment ($BUILD_DIR/venv) with the pinned
#                      test dependencies (python/requirements-*.txt, python/constraints-test.txt),
#                      `pip install .` into it, then the Python tests (pytest tests/python)
#   ./build.sh asan    ASan + UBSan build of pixelflow's own code ($BUILD_DIR/asan), every ctest test
#   ./build.sh tsan    TSan build ($BUILD_DIR/tsan) against a oneTBB built with -fsanitize=thread
#                      (tsan_onetbb, below): the tests that run the flow graph and loaders, then a
#                      planted race that must be reported; PIXELFLOW_TSAN_RUNS=N repeats the tests
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
  build-essential cmake ninja-build pkg-config python3 python3-numpy python3-pil python3-venv python3-dev
  libtbb-dev libhalide14-0-dev libopencv-dev libyaml-cpp-dev nlohmann-json3-dev catch2
  libturbojpeg0-dev libjpeg62-turbo-dev libspng-dev libwebp-dev libdlpack-dev libbenchmark-dev
  libcurl4-openssl-dev
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

# The Python package in a virtual environment. The environment is made once and refreshed when
# the pinned requirements change; the package is built by pip (scikit-build-core) in
# $BUILD_DIR/python, linking the Halide kernels of the normal build (generated once).
VENV=""
python_env() {
  VENV="$(realpath -m "$BUILD_DIR/venv")"
  local stamp="$VENV/.pixelflow-requirements" want
  want="$(cat python/requirements-build.txt python/requirements-test.txt python/constraints-test.txt | sha256sum)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "pixelflow: installing the pinned Python build and test dependencies in $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r python/requirements-build.txt \
      -r python/requirements-test.txt -c python/constraints-test.txt 2>&1 | sed '/^WARNING: Location/d'
    "$VENV/bin/python" -c "import torch, transformers, PIL, hypothesis" || {
      echo "pixelflow: the Python test dependencies did not install" >&2
      return 1
    }
    echo "$want" > "$stamp"
  fi
}

python_install() {
  python_env
  echo "pixelflow: pip install . (into $VENV)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
    -C build-dir="$BUILD_DIR/pip" \
    -C cmake.define.PIXELFLOW_HALIDE_KERNELS_FROM="$(realpath "$BUILD_DIR")" . 2>&1 | sed '/^WARNING: Location/d'
  "$VENV/bin/python" -c "import pixelflow" || {
    echo "pixelflow: pip install . failed" >&2
    return 1
  }
}

# The Python tests run from the build folder so that the installed package is the one imported.
run_python() {
  python_install
  (cd "$BUILD_DIR" && "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$SRC_DIR/tests/python")
}

# Packaging: `cmake --install` + find_package(pixelflow) from examples/consumer, and a wheel
# repaired by auditwheel that installs and runs in a fresh virtual environment with no library
# from outside it but the system's own (the wheel is built in the folder `pip install .` used,
# with the same settings, so it is not compiled again).
run_packaging() {
  echo "pixelflow: install check (find_package(pixelflow))"
  tests/install/check_install.sh "$BUILD_DIR"
  echo "pixelflow: wheel check (auditwheel)"
  PIXELFLOW_VENV="$VENV" PIXELFLOW_JOBS="$JOBS" PIXELFLOW_HALIDE_KERNELS_FROM="$(realpath "$BUILD_DIR")" \
    PIXELFLOW_WHEEL_BUILD_DIR="$BUILD_DIR/pip" tests/python/check_wheel.sh
}

# ASan + UBSan: every test, the CLI contract included (it drives the instrumented CLI).
run_asan() {
  echo "pixelflow: ASan + UBSan build and tests"
  TARGETS="pixelflow_tests pixelflow pixelflow_dataset_writer_sample" \
    instrumented_build asan -DPIXELFLOW_SANITIZE=address,undefined
  ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1" \
    ctest --test-dir "$BUILD_DIR/asan" --output-on-failure -j "$JOBS" --timeout 900
}

# oneTBB instrumented for ThreadSanitizer. Debian's libtbb is not built with -fsanitize=thread, so
# TSan cannot see the happens-before edges oneTBB makes inside it (a message passed from node to
# node, a task recycled by its allocator, wait_for_all returning) and reports races that are not
# there, differently on each CPU. The TSan build links this copy instead: the source of exactly
# the installed libtbb-dev version, from Debian's source package (fetched with a private apt list
# in the build folder, the system's apt configuration untouched), built with clang and
# TBB_SANITIZE=thread, cached in $BUILD_DIR/onetbb-tsan. Prints the install prefix.
TBB_TSAN_CMAKE_ARGS=(-DTBB_SANITIZE=thread -DTBB_TEST=OFF -DTBB_EXAMPLES=OFF -DTBBMALLOC_BUILD=OFF
  -DTBB_STRICT=OFF -DTBB_ENABLE_IPO=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_POLICY_VERSION_MINIMUM=3.5)
tsan_onetbb() {
  local version top prefix
  version="$(dpkg-query -W -f='${source:Version}' libtbb-dev)"
  top="$(realpath -m "$BUILD_DIR/onetbb-tsan")"
  prefix="$top/install-$version"
  if [ ! -f "$prefix/.complete" ]; then
    echo "pixelflow: building oneTBB $version with -fsanitize=thread (once; cached in $top)" >&2
    rm -rf "$top" && mkdir -p "$top/apt/lists/partial" "$top/apt/cache/archives/partial"
    local suites
    suites="$(. /etc/os-release && echo "$VERSION_CODENAME $VERSION_CODENAME-updates")"
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$suites" >"$top/apt/debian-src.sources"
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian-security\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "${suites%% *}" >"$top/apt/debian-security-src.sources"
    local apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$top/apt"
      -o "Dir::State::Lists=$top/apt/lists" -o "Dir::Cache=$top/apt/cache" -o APT::Sandbox::User=root)
    apt-get "${apt_opts[@]}" -qq update >&2
    (cd "$top" && apt-get "${apt_opts[@]}" -qq source --download-only "onetbb=$version" >&2)
    dpkg-source --no-check -x "$top"/onetbb_*.dsc "$top/src" >&2
    cmake -S "$top/src" -B "$top/obj" -G Ninja "${TBB_TSAN_CMAKE_ARGS[@]}" \
      -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib >&2
    cmake --build "$top/obj" -j "$JOBS" >&2
    cmake --install "$top/obj" >&2
    rm -rf "$top/obj" "$top/src" "$top/apt" "$top"/onetbb_*
    touch "$prefix/.complete"
  fi
  echo "$prefix"
}

# TSan: the tests that run the oneTBB flow graph, the loaders and the batch pipelines (one process,
# Catch2 tag filter), linked against the instrumented oneTBB (tsan_onetbb), with no suppressions.
# Then a test of the test: a data race planted on purpose in a loader run by the flow graph
# ([.tsan_canary]) must be reported, or the step fails.
TSAN_TESTS="[pipeline],[builder],[load_input],[stream_decode],[golden],[approximate],[loader],[post_process_run]"
run_tsan() {
  echo "pixelflow: TSan build (oneTBB instrumented) and graph/pipeline tests"
  local tbb
  tbb="$(tsan_onetbb)"
  TARGETS="pixelflow_tests" instrumented_build tsan -DPIXELFLOW_SANITIZE=thread -DTBB_DIR="$tbb/lib/cmake/TBB"
  local bin="$BUILD_DIR/tsan/bin/pixelflow_tests"
  if ! ldd "$bin" | grep -F "$tbb/lib/libtbb" >/dev/null; then
    echo "pixelflow: $bin is not linked against the instrumented oneTBB in $tbb" >&2
    ldd "$bin" | grep -i tbb >&2
    return 1
  fi
  local runs="${PIXELFLOW_TSAN_RUNS:-1}" i
  for ((i = 1; i <= runs; i++)); do
    [ "$runs" -gt 1 ] && echo "pixelflow: TSan run $i of $runs"
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" "$bin" "$TSAN_TESTS"
  done
  echo "pixelflow: TSan canary (a race planted on purpose must be reported)"
  local out
  if out="$(TSAN_OPTIONS="halt_on_error=1" "$bin" "[.tsan_canary]" 2>&1)"; then
    echo "$out" | tail -20 >&2
    echo "pixelflow: TSan did not report the planted race: the TSan step cannot be trusted" >&2
    return 1
  fi
  if ! echo "$out" | grep -E "^SUMMARY: ThreadSanitizer: data race .*test_tsan_canary\.cpp" >/dev/null; then
    echo "$out" | tail -20 >&2
    echo "pixelflow: the TSan canary failed without reporting its planted race" >&2
    return 1
  fi
  echo "pixelflow: TSan canary reported as expected"
}

# Seeds of a fuzz target: its committed corpus (tests/fuzz/corpus/<target>: hand-made seeds and the
# reproducers of past findings) plus the small fixtures of its format already in the repository.
seed_files() {
  local exts
  case "$1" in
    fuzz_decode_image) exts='.*\.\(jpg\|jpeg\|mpo\|png\|webp\|bmp\|gif\|txt\)' ;;
    fuzz_stream_decode) exts='.*\.\(jpg\|jpeg\|mpo\)' ;;
    fuzz_npy) exts='.*\.npy' ;;
    fuzz_processor_config) exts='.*preprocessor_config\.json' ;;
    fuzz_pipeline_yaml) exts='.*\.ya?ml' ;;
    *) return 0 ;;  # its committed corpus only (fuzz_input_files: entries of a made-up folder)
  esac
  find tests/data pipelines -type f -size -4k -regex "$exts" 2>/dev/null || true
}

# libFuzzer: every target for PIXELFLOW_FUZZ_SECONDS on a copy of its seeds (new inputs go to the
# copy; the repository's corpus stays as committed).
run_fuzz() {
  echo "pixelflow: fuzz build and ${FUZZ_SECONDS}s per target"
  local targets=(fuzz_decode_image fuzz_stream_decode fuzz_input_files fuzz_npy fuzz_processor_config)
  [ -f pipelines/yaml_pipeline.h ] && targets+=(fuzz_pipeline_yaml)
  TARGETS="${targets[*]}" instrumented_build fuzz -DPIXELFLOW_FUZZ=ON -DPIXELFLOW_BUILD_TESTS=OFF
  for t in "${targets[@]}"; do
    local work="$BUILD_DIR/fuzz/corpus/$t"
    rm -rf "$work" && mkdir -p "$work"
    [ -d "tests/fuzz/corpus/$t" ] && cp -r "tests/fuzz/corpus/$t/." "$work/"
    seed_files "$t" | while read -r f; do cp "$f" "$work/seed_$(echo "$f" | tr '/' '_')"; done
    local dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    echo "pixelflow: $t"
    ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" \
      "$BUILD_DIR/fuzz/bin/$t" "${dict[@]}" -seed="$FUZZ_SEED" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2560 \
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
    python_install
    "$VENV/bin/python" examples/python/demo.py pipelines/samples/*
    ;;
  test)
    run_unit
    run_python
    run_packaging
    run_asan
    run_tsan
    run_fuzz
    ;;
  unit) run_unit ;;
  python) run_python ;;
  packaging)
    python_env
    run_packaging
    ;;
  asan) run_asan ;;
  tsan) run_tsan ;;
  fuzz) run_fuzz ;;
  "") ;;
  *)
    echo "usage: $0 [demo|test|unit|python|packaging|asan|tsan|fuzz]" >&2
    exit 2
    ;;
esac
