#!/usr/bin/env bash
# test_devstack_dir - gs-devstack changes nothing outside its --dir (issue 18):
# a stack below a private (0700) directory starts, serves the dashboard page
# and leaves the mode and owner of every directory above --dir (and of the
# build and source trees) as they were. Run as root with a mosquitto user,
# it also checks that a stack the mosquitto user can reach runs the broker as
# that user (the privileges are dropped when they can be).
. "$GS_SRC/tests/lib/gs_test.sh"

STACKS=()
OPEN=""
down_all() {
  local s
  for s in "${STACKS[@]:-}"; do [ -n "$s" ] && gs-devstack down --dir "$s" >/dev/null 2>&1 || true; done
  [ -z "$OPEN" ] || rm -rf "$OPEN"
}
trap 'rc=$?; down_all; (exit $rc); t_cleanup' EXIT

# modes DIR...: mode, owner and group of each DIR and of every directory above it
modes() {
  local d
  for d in "$@"; do
    while :; do
      stat -c '%a %u %g %n' "$d"
      [ "$d" = / ] && break
      d=$(dirname "$d")
    done
  done | sort -u
}

# check_stack PARENT: brings a stack up in PARENT/stack and down again; checks modes and the page
check_stack() {
  local parent=$1 s=$1/stack before after
  before=$(modes "$parent" "$GS_BIN" "$GS_SRC" "${GS_BUILD:-$GS_BIN}")
  STACKS+=("$s")
  gs-devstack up --dir "$s" --no-collector > "$parent/env" 2> "$parent/up.err" || { cat "$parent/up.err" >&2; t_die "gs-devstack up --dir $s failed"; }
  # shellcheck disable=SC1091
  . "$parent/env"
  after=$(modes "$parent" "$GS_BIN" "$GS_SRC" "${GS_BUILD:-$GS_BIN}")
  t_eq "$after" "$before" "up in $(stat -c %a "$parent") $parent: no directory above --dir changed"
  t_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GS_WS_PORT/index.html")" 200 "the broker serves the dashboard page"
  BROKER_USER=$(ps -o user= -p "$(cat "$s/mosquitto.pid")")
  gs-devstack down --dir "$s" >/dev/null 2>&1 || t_fail "gs-devstack down --dir $s"
  after=$(modes "$parent" "$GS_BIN" "$GS_SRC" "${GS_BUILD:-$GS_BIN}")
  t_eq "$after" "$before" "down: no directory above --dir changed"
}

mkdir -m 0700 "$T_DIR/private"
check_stack "$T_DIR/private"
t_eq "$(stat -c %a "$T_DIR/private")" 700 "the private parent is still 0700"

if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
  OPEN=$(mktemp -d /tmp/gs-devstack-open.XXXXXX)
  chmod 0755 "$OPEN"
  check_stack "$OPEN"
  t_eq "$BROKER_USER" mosquitto "a broker the mosquitto user can reach drops root"
  t_eq "$(stat -c '%a %G' "$OPEN/stack/broker")" "750 mosquitto" "its files are group mosquitto, nothing for others"
else
  t_log "not root or no mosquitto user: the privilege-drop case is skipped"
fi
t_done
