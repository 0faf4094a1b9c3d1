# gs_test.sh - shared helpers for bash integration tests (source it).
#
# Every wait polls a condition with a deadline; nothing sleeps and hopes.
# Environment (set by ctest via gs_add_script_test): GS_BIN, GS_SRC, GS_BUILD.
# GS_KEEP=1 keeps the temp dir; GS_TIMEOUT_MULT scales every deadline.
set -euo pipefail
: "${GS_BIN:?GS_BIN not set (run through ctest)}"
: "${GS_SRC:?GS_SRC not set}"
GS_TIMEOUT_MULT=${GS_TIMEOUT_MULT:-1}
export PATH="$GS_BIN:$PATH"

# t_has ARGS...: grep ARGS on stdin, quietly. Unlike grep -q it reads all of
# its input: under pipefail, "producer | grep -q" fails when grep exits at
# the first match and the producer then dies of SIGPIPE (ldd, openssl).
t_has() { grep "$@" >/dev/null; }
# t_asan_collector: the collector under test is built with ASan
t_asan_collector() { ldd "$GS_BIN/gs-collector" 2>/dev/null | t_has libasan; }

T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "/tmp/gs-${T_NAME}.XXXXXX")
T_PIDS=()
T_FAILS=0
T_PASSES=0

t_cleanup() {
  local rc=$?
  for p in "${T_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  if [ -f "$T_DIR/stack/devstack.env" ]; then "$GS_BIN/gs-devstack" down --dir "$T_DIR/stack" >/dev/null 2>&1 || true; fi
  for p in "${T_PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ] || [ "$T_FAILS" -ne 0 ]; then
    echo "--- $T_NAME failed; logs in $T_DIR" >&2
    for f in "$T_DIR"/stack/*.log "$T_DIR"/*.log; do
      [ -f "$f" ] && { echo "--- tail $f" >&2; tail -n 40 "$f" >&2; }
    done
  elif [ "${GS_KEEP:-0}" != 1 ]; then
    rm -rf "$T_DIR"
  fi
}
trap t_cleanup EXIT

t_log() { echo "[$T_NAME] $*" >&2; }
t_fail() { echo "FAIL: $*" >&2; T_FAILS=$((T_FAILS + 1)); }
t_pass() { echo "ok: $*" >&2; T_PASSES=$((T_PASSES + 1)); }
t_die() { echo "FATAL: $*" >&2; exit 1; }

# t_eq ACTUAL EXPECTED WHAT
t_eq() { if [ "$1" == "$2" ]; then t_pass "$3"; else t_fail "$3: got '$1', want '$2'"; fi; }

# t_wait SECONDS WHAT CMD...: polls CMD every 50 ms until it succeeds or the deadline passes.
t_wait() {
  local secs=$1 what=$2; shift 2
  local deadline=$(( $(date +%s%N) / 1000000 + secs * 1000 * GS_TIMEOUT_MULT ))
  while ! "$@" >/dev/null 2>&1; do
    if [ $(( $(date +%s%N) / 1000000 )) -gt "$deadline" ]; then
      t_fail "timed out after ${secs}s waiting for: $what"
      return 1
    fi
    sleep 0.05
  done
}

# t_free_port: a TCP/UDP port free on loopback right now.
t_free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.bind(("127.0.0.1", p)); u.close(); print(p)
except OSError:
    print(p)
PY
}

t_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# t_sql DB SQL: runs a query on the store read-only-ish (sqlite3 CLI).
t_sql() { sqlite3 -batch -noheader "$1" "PRAGMA busy_timeout=5000;" "$2" | sed '/^5000$/d'; }

# t_stack_up [extra devstack args]: starts a devstack in $T_DIR/stack and exports its variables.
t_stack_up() {
  "$GS_BIN/gs-devstack" up --dir "$T_DIR/stack" "$@" > "$T_DIR/stack.env" || t_die "gs-devstack up failed"
  # shellcheck disable=SC1090
  . "$T_DIR/stack.env"
}

# t_done: prints the plain closing line and exits non-zero when anything failed.
t_done() {
  echo "$T_NAME: $T_PASSES passed, $T_FAILS failed"
  [ "$T_FAILS" -eq 0 ]
}

# t_device DEV GRIDS: issues DEV's certificate (gs-certs), registers it for GRIDS
# (comma list) and initialises a reference device home; prints the home dir.
t_device() {
  local dev=$1 grids=$2 home="$T_DIR/dev-$1"
  [ -f "$GS_PKI/$dev.crt" ] || gs-certs --pki "$GS_PKI" issue "$dev" >/dev/null 2>&1 || t_die "gs-certs issue $dev failed"
  gs-admin --db "$GS_DB" device add "$dev" --grids "$grids" >/dev/null || t_die "gs-admin device add $dev failed"
  gs-device --home "$home" init --id "$dev" --ca "$GS_CA" --cert "$GS_PKI/$dev.crt" --key "$GS_PKI/$dev.key" \
    --host 127.0.0.1 --mqtt-port "$GS_MQTT_PORT" ${GS_COAP_PORT:+--coap-port "$GS_COAP_PORT"} >/dev/null ||
    t_die "gs-device init $dev failed"
  echo "$home"
}

# t_dev HOME ARGS...: runs gs-device on a home dir.
t_dev() { local h=$1; shift; gs-device --home "$h" "$@"; }

# t_pub_as DEV TOPIC PAYLOAD [extra mosquitto_pub args]: publishes with DEV's certificate.
t_pub_as() {
  local dev=$1 topic=$2 payload=$3; shift 3
  mosquitto_pub -h 127.0.0.1 -p "$GS_MQTT_PORT" --cafile "$GS_CA" --cert "$GS_PKI/$dev.crt" --key "$GS_PKI/$dev.key" \
    -i "$dev" -q 1 -t "$topic" -m "$payload" "$@"
}

# t_rr_as DEV TOPIC REPLY_TOPIC PAYLOAD [secs]: publishes with DEV's certificate and prints the first
# reply on REPLY_TOPIC (one connection, client id = CN as the broker requires).
t_rr_as() {
  local dev=$1 topic=$2 reply=$3 payload=$4 secs=${5:-15}
  mosquitto_rr -h 127.0.0.1 -p "$GS_MQTT_PORT" --cafile "$GS_CA" --cert "$GS_PKI/$dev.crt" --key "$GS_PKI/$dev.key" \
    -i "$dev" -q 1 -t "$topic" -e "$reply" -m "$payload" -W "$secs"
}

# t_sub_as DEV OUTFILE TOPIC [count] [secs]: subscribes in the background (QoS 1), writing messages to OUTFILE.
# The client id is DEV (the broker refuses any other), so DEV must not connect elsewhere meanwhile.
t_sub_as() {
  local dev=$1 out=$2 topic=$3 count=${4:-1} secs=${5:-20}
  mosquitto_sub -h 127.0.0.1 -p "$GS_MQTT_PORT" --cafile "$GS_CA" --cert "$GS_PKI/$dev.crt" --key "$GS_PKI/$dev.key" \
    -i "$dev" -q 1 -t "$topic" -C "$count" -W "$secs" > "$out" 2>"$out.err" &
  T_PIDS+=($!)
}
