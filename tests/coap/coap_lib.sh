# coap_lib.sh - helpers for the CoAP tests; source after tests/lib/gs_test.sh
# and t_stack_up. The device side is libcoap's own coap-client-openssl.
COAP_CLIENT=${GS_COAP_CLIENT:-coap-client-openssl}
C_DIR="$GS_SRC/tests/coap"

# c_device DEV GRIDS: issues DEV's certificate with gs-certs and registers it.
c_device() {
  gs-certs --pki "$GS_PKI" issue "$1" >/dev/null 2>&1 || t_die "gs-certs issue $1 failed"
  gs-admin --db "$GS_DB" device add "$1" --grids "$2" >/dev/null || t_die "gs-admin device add $1 failed"
}

# c_req OUT CERT METHOD PATH [coap-client args...]: one request; CERT is a
# device name in $GS_PKI, a path prefix (/x/dev -> /x/dev.crt + /x/dev.key) or
# "none". A success body goes to OUT; libcoap's messages and error responses
# ("4.13 {...}") go to OUT.err. C_STREAM=1 writes every response to OUT
# instead (for Observe). Bounded by -B $C_WAIT (20 s) and timeout(1).
# C_PORT overrides the port (to go through a relay).
c_req() {
  local out=$1 cert=$2 m=$3 path=$4 wait=${C_WAIT:-20}
  shift 4
  local args=(-m "$m" -C "$GS_CA" -B "$wait")
  case "$cert" in
    none) ;;
    /*) args+=(-c "$cert.crt" -j "$cert.key") ;;
    *) args+=(-c "$GS_PKI/$cert.crt" -j "$GS_PKI/$cert.key") ;;
  esac
  rm -f "$out"
  if [ "${C_STREAM:-0}" = 1 ]; then # observe: every notification on stdout
    timeout $(((wait + 10) * GS_TIMEOUT_MULT)) "$COAP_CLIENT" "${args[@]}" "$@" \
      "coaps://127.0.0.1:${C_PORT:-$GS_COAP_PORT}$path" >"$out" 2>"$out.err" || true
  else
    timeout $(((wait + 10) * GS_TIMEOUT_MULT)) "$COAP_CLIENT" "${args[@]}" -o "$out" "$@" \
      "coaps://127.0.0.1:${C_PORT:-$GS_COAP_PORT}$path" >"$out.err" 2>&1 || true
  fi
  [ -f "$out" ] || : > "$out"
}

# c_code OUT: the response class of the last c_req into OUT: "4.13" etc. for an
# error response, "ok" for a success with a body, "none" when nothing came.
c_code() {
  local code
  code=$(grep -oE '^[245]\.[0-9]{2}' "$1.err" | tail -1 || true)
  if [ -n "$code" ]; then echo "$code"
  elif [ -s "$1" ]; then echo ok
  else echo none; fi
}

# c_json OUT EXPR: evaluates a python expression on the JSON document in OUT (as d).
c_json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null || echo "?"; }

# c_batch FILE ARGS...: writes a batch with mkbatch.py.
c_batch() { local f=$1; shift; python3 "$C_DIR/mkbatch.py" "$@" > "$f"; }

# c_changes PREFIX: rows in the change table with ids PREFIX-*.
c_changes() { t_sql "$GS_DB" "SELECT count(*) FROM change WHERE id LIKE '$1-%'"; }

# c_household GRID: one household id of GRID.
c_household() { t_sql "$GS_DB" "SELECT id FROM entity WHERE type='household' AND json_extract(fields,'\$.grid')='$1' LIMIT 1"; }

# c_collector_pid: pid of the devstack's collector.
c_collector_pid() { cat "$GS_DEVSTACK_DIR/collector.pid"; }

# c_set_coap KEY VALUE: sets a [coap] key in the collector's configuration and
# reloads it with SIGHUP; waits for the "config: reloaded" line.
c_set_coap() {
  local conf=$GS_DEVSTACK_DIR/collector.conf n0
  n0=$(wc -l < "$GS_DEVSTACK_DIR/collector.log")
  sed -i "/^$1 = /d" "$conf"
  sed -i "s|^\[coap\]\$|[coap]\n$1 = $2|" "$conf"
  kill -HUP "$(c_collector_pid)"
  t_wait 10 "config reload" bash -c "tail -n +$((n0 + 1)) '$GS_DEVSTACK_DIR/collector.log' | grep -q 'config: reloaded'"
}

# c_set_log LEVEL: sets [log] level and reloads.
c_set_log() {
  local conf=$GS_DEVSTACK_DIR/collector.conf n0
  n0=$(wc -l < "$GS_DEVSTACK_DIR/collector.log")
  sed -i "s|^level = .*|level = $1|" "$conf"
  kill -HUP "$(c_collector_pid)"
  t_wait 10 "config reload" bash -c "tail -n +$((n0 + 1)) '$GS_DEVSTACK_DIR/collector.log' | grep -q 'config: reloaded'"
}
