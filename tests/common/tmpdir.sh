# Sourced by tests/install/check_install.sh and tests/python/check_wheel.sh.
#
# make_work_dir NAME KEEP_VAR LABEL: sets WORK to a fresh folder ${TMPDIR:-/tmp}/pixelflow-NAME.XXXXXX,
# removed when the script exits (interrupted too) unless the variable named KEEP_VAR is 1, in
# which case "LABEL: kept WORK" is printed on stderr.
make_work_dir() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/pixelflow-$1.XXXXXX")"
  _work_keep_var="$2"
  _work_label="$3"
  trap _remove_work_dir EXIT
  trap 'exit 130' INT TERM  # cleanup on interruption too
}

_remove_work_dir() {
  if [ "${!_work_keep_var:-0}" = 1 ]; then
    echo "$_work_label: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
