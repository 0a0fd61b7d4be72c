#!/usr/bin/env bash
# tests/install/check_install.sh BUILD_DIR
#
# Checks what C++ consumers get from `cmake --install`: installs the `library` component of an
# already built BUILD_DIR (libpixelflow.so, headers, pixelflowConfig.cmake, the bundled configs)
# into a temporary prefix, then, with CMAKE_PREFIX_PATH=<prefix> only:
#   - compiles one translation unit including every installed header (no installed header may
#     need one that is not installed, nor a build-only dependency such as Halide);
#   - configures and builds examples/consumer (find_package(pixelflow) -> pixelflow::pixelflow),
#     checks that it found the package in the prefix and compiled no header of the source tree;
#   - runs it (libpixelflow.so loaded from the prefix) on images of tests/data and checks the
#     output lines, e.g. CLIP: "pixel_values float32 (1, 3, 224, 224)", and a one-line error.
# The install step uses the cmake that configured BUILD_DIR (it wrote the install scripts); the
# consumer is configured by the first cmake on PATH (Debian's 3.25 or PyPI's 4.x both work).
# Environment: PIXELFLOW_KEEP_INSTALL_CHECK=1 keeps the temporary folder (printed).
set -euo pipefail

fail() {
  echo "check_install: FAIL: $*" >&2
  exit 1
}

[ $# -eq 1 ] || {
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
}
SRC_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=tests/common/tmpdir.sh
source "$SRC_DIR/tests/common/tmpdir.sh"
[ -d "$1" ] || fail "build directory $1 does not exist"
BUILD_DIR="$(cd "$1" && pwd)"
[ -f "$BUILD_DIR/CMakeCache.txt" ] || fail "$BUILD_DIR is not a configured CMake build directory"
[ -e "$BUILD_DIR/lib/libpixelflow.so" ] ||
  fail "$BUILD_DIR/lib/libpixelflow.so is missing (configure with PIXELFLOW_BUILD_SHARED_LIBRARY=ON and build first)"
command -v cmake >/dev/null || fail "no cmake on PATH"
command -v ninja >/dev/null || fail "no ninja on PATH (Debian: ninja-build)"

start=$(date +%s)
make_work_dir install-check PIXELFLOW_KEEP_INSTALL_CHECK check_install
PREFIX="$WORK/prefix"
# Nothing from the environment may point the consumer elsewhere.
unset PIXELFLOW_MODELS_DIR LD_LIBRARY_PATH CMAKE_PREFIX_PATH pixelflow_DIR CPATH CPLUS_INCLUDE_PATH LIBRARY_PATH
# Model ids resolve from the Hugging Face cache first: an empty one, so that they come from the
# installed bundled configs.
export HF_HUB_CACHE="$WORK/hf-hub-empty" HF_HUB_OFFLINE=1

# 1. Install the library component alone (it must be complete by itself).
install_cmake="$(sed -n 's/^CMAKE_COMMAND:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt")"
[ -x "$install_cmake" ] || install_cmake="$(command -v cmake)"
echo "check_install: $("$install_cmake" --version | sed -n 1p) installs, $(cmake --version | sed -n 1p) ($(command -v cmake)) builds the consumer"
"$install_cmake" --install "$BUILD_DIR" --prefix "$PREFIX" --component library >"$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log" >&2; fail "cmake --install $BUILD_DIR --component library failed"; }
config="$(find "$PREFIX" -path '*/cmake/pixelflow/pixelflowConfig.cmake' | sed -n 1p)"
[ -n "$config" ] || fail "no lib*/cmake/pixelflow/pixelflowConfig.cmake installed in $PREFIX"
libdir="$(dirname "$(dirname "$(dirname "$config")")")"
[ -f "$libdir/libpixelflow.so" ] || fail "libpixelflow.so is not installed beside the package config ($libdir)"
[ -f "$PREFIX/include/pixelflow/pipelines/image_processor.h" ] || fail "headers not installed under $PREFIX/include/pixelflow"
clip="$PREFIX/share/pixelflow/models/openai__clip-vit-base-patch32/preprocessor_config.json"
[ -f "$clip" ] || fail "bundled configs not installed ($clip missing)"
if readelf -d "$libdir/libpixelflow.so" | grep -E 'R(UN)?PATH' | grep -F -e "$BUILD_DIR" -e "$SRC_DIR" >/dev/null; then
  fail "installed libpixelflow.so keeps an RPATH into the build or source tree: $(readelf -d "$libdir/libpixelflow.so" | grep -E 'R(UN)?PATH')"
fi
nheaders="$(find "$PREFIX/include/pixelflow" -type f | wc -l)"

# CMake arguments of both projects below: the prefix and nothing else (no package registries).
cmake_args=(-G Ninja "-DCMAKE_PREFIX_PATH=$PREFIX" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
# Headers of the source tree (graph/, ops/, pipelines/) among the headers a build compiled.
source_headers_used() {
  ninja -C "$1" -t deps | sed -n 's/^ *//p' | grep -E "^$SRC_DIR/(graph|ops|pipelines)/" || true
}

# 2. Every installed header, in one translation unit.
mkdir -p "$WORK/headers"
(cd "$PREFIX/include/pixelflow" && find . -name '*.h' | sort | sed 's|^\./\(.*\)|#include "\1"|') \
  >"$WORK/headers/all_headers.cpp"
cat >"$WORK/headers/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.22)
project(pixelflow_all_headers LANGUAGES C CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(pixelflow REQUIRED)
add_library(all_headers OBJECT all_headers.cpp)
target_link_libraries(all_headers PRIVATE pixelflow::pixelflow)
EOF
cmake -S "$WORK/headers" -B "$WORK/headers/build" "${cmake_args[@]}" >"$WORK/headers.log" 2>&1 ||
  { cat "$WORK/headers.log" >&2; fail "configuring a project with find_package(pixelflow) against $PREFIX failed"; }
cmake --build "$WORK/headers/build" -j 2 >>"$WORK/headers.log" 2>&1 ||
  { tail -30 "$WORK/headers.log" >&2; fail "the $nheaders installed headers do not compile together (log above)"; }
leaked="$(source_headers_used "$WORK/headers/build")"
[ -z "$leaked" ] || fail "the headers check compiled source-tree headers: $(echo "$leaked" | sed -n 1,3p | tr '\n' ' ')"

# 3. examples/consumer, built against the prefix.
consumer_build="$WORK/consumer"
cmake -S "$SRC_DIR/examples/consumer" -B "$consumer_build" "${cmake_args[@]}" >"$WORK/consumer.log" 2>&1 ||
  { cat "$WORK/consumer.log" >&2; fail "configuring examples/consumer against $PREFIX failed"; }
found="$(sed -n 's/^pixelflow_DIR:PATH=//p' "$consumer_build/CMakeCache.txt")"
[ "$found" = "$(dirname "$config")" ] || fail "examples/consumer found pixelflow in '$found', not in the prefix ($(dirname "$config"))"
cmake --build "$consumer_build" -j 2 >>"$WORK/consumer.log" 2>&1 ||
  { tail -30 "$WORK/consumer.log" >&2; fail "building examples/consumer against $PREFIX failed (log above)"; }
leaked="$(source_headers_used "$consumer_build")"
[ -z "$leaked" ] || fail "examples/consumer compiled source-tree headers: $(echo "$leaked" | sed -n 1,3p | tr '\n' ' ')"
if grep -F -e "-I$SRC_DIR" -e "-isystem $SRC_DIR" "$consumer_build/compile_commands.json" | grep -v -F "$PREFIX" >/dev/null; then
  fail "examples/consumer has an include path into the source tree: $(grep -o -e "-I$SRC_DIR[^ ]*" "$consumer_build/compile_commands.json" | sed -n 1p)"
fi
exe="$consumer_build/pixelflow_consumer"
loaded="$(ldd "$exe" | sed -n 's/^[[:space:]]*libpixelflow\.so[^ ]* => \([^ ]*\).*/\1/p')"
case "$loaded" in
  "$libdir"/*) ;;
  *) fail "pixelflow_consumer loads libpixelflow.so from '${loaded:-nowhere}', not from $libdir" ;;
esac

# 4. Runs: the default config (bundled CLIP, by model id) on a JPEG, an installed config folder
#    on a PNG, and a missing image (exit 1, one line).
expect_run() {  # expect_run "EXPECTED LINE|EXPECTED LINE..." ARGS...
  local want="$1" out line
  shift
  out="$("$exe" "$@" 2>"$WORK/run.err")" || fail "pixelflow_consumer $* exited $?: $(head -1 "$WORK/run.err")"
  IFS='|' read -r -a lines <<<"$want"
  for line in "${lines[@]}"; do
    echo "$out" | grep -Fx "$line" >/dev/null || fail "pixelflow_consumer $*: no line '$line' in: $(echo "$out" | tr '\n' ';')"
  done
  [ ! -s "$WORK/run.err" ] || fail "pixelflow_consumer $* wrote to stderr: $(head -1 "$WORK/run.err")"
  echo "check_install: pixelflow_consumer $(echo "$*" | sed "s|$PREFIX|<prefix>|g; s|$SRC_DIR/||g") -> $(echo "$out" | tr '\n' ';' | sed 's/;$//')"
}
expect_run "processor CLIPImageProcessor|pixel_values float32 (1, 3, 224, 224)" \
  "$SRC_DIR/tests/data/decode/jpeg_rgb_420.jpg"
expect_run "processor ViTImageProcessor|pixel_values float32 (1, 3, 224, 224)" \
  "$SRC_DIR/tests/data/decode/png_c2_b8.png" "$PREFIX/share/pixelflow/models/google__vit-base-patch16-224"
rc=0
"$exe" "$WORK/no-such-image.jpg" >"$WORK/run.out" 2>"$WORK/run.err" || rc=$?
[ "$rc" = 1 ] || fail "pixelflow_consumer on a missing image exited $rc, expected 1"
[ "$(wc -l <"$WORK/run.err")" = 1 ] || fail "pixelflow_consumer on a missing image: expected one line on stderr, got: $(cat "$WORK/run.err")"
echo "check_install: pixelflow_consumer <missing image> -> exit 1, $(sed "s|$WORK/||g" "$WORK/run.err")"

echo "check_install: OK: $nheaders header files, libpixelflow.so, package config and bundled configs in the prefix;" \
  "examples/consumer built and ran against it ($(($(date +%s) - start)) s)"
