# bridge_lib.sh - a city broker and district stacks in one test (source after gs_test.sh).
#
#   b_city_up                  city broker (no collector) in $T_DIR/city; sets CITY_PORT, CITY_PKI
#   b_district_up N [args]     district N (seeded, own CA, own collector) bridged to the city, in $T_DIR/dN
#   b_use DIR                  exports that stack's GS_* variables (for t_device, t_pub_as, ...)
#   b_rollup [args]            imports every district's tree at the city, starts gs-rollup
#   b_status ORG               retained status of ORG at the city (bridge-test account)
#   b_field JSON PYEXPR        a value of a document
B_STACKS=()

b_cleanup() {
  local rc=$?
  for d in "${B_STACKS[@]:-}"; do [ -n "$d" ] && "$GS_BIN/gs-devstack" down --dir "$d" >/dev/null 2>&1 || true; done
  if [ "$rc" -ne 0 ] || [ "$T_FAILS" -ne 0 ]; then
    for f in "$T_DIR"/city/*.log "$T_DIR"/d[0-9]/*.log; do
      [ -f "$f" ] && { echo "--- tail $f" >&2; tail -n 25 "$f" >&2; }
    done
  fi
  (exit "$rc")
  t_cleanup
}
trap b_cleanup EXIT

b_use() { # shellcheck disable=SC1090
  . "$1/devstack.env"; }

b_city_up() {
  B_STACKS+=("$T_DIR/city")
  gs-devstack up --dir "$T_DIR/city" --no-collector > "$T_DIR/city.env" 2>"$T_DIR/city-up.log" || t_die "city up failed"
  CITY_PORT=$(sed -n 's/^export GS_MQTT_PORT=//p' "$T_DIR/city.env")
  CITY_PKI="$T_DIR/city/pki"
  gs-certs --pki "$CITY_PKI" issue-service bridge-test >/dev/null 2>&1 || t_die "issue-service bridge-test"
}

b_district_up() {
  local n=$1; shift
  B_STACKS+=("$T_DIR/d$n")
  gs-devstack up --dir "$T_DIR/d$n" --seed --seed-args "--district $n --streets 1 --communities 1 --grids 2 --households 5" \
    --bridge-to "127.0.0.1:$CITY_PORT" --bridge-pki "$CITY_PKI" --bridge-name "d0$n" "$@" \
    > "$T_DIR/d$n.env" 2>"$T_DIR/d$n-up.log" || t_die "district $n up failed: $(tail -3 "$T_DIR/d$n-up.log")"
}

b_rollup() {
  local trees=() d
  for d in "$T_DIR"/d[0-9]; do
    gs-admin --db "$d/gridsync.db" org export "$d/tree.csv" >/dev/null || t_die "org export $d"
    trees+=(--tree "$d/tree.csv")
  done
  gs-devstack rollup --dir "$T_DIR/city" "${trees[@]}" --rollup-args "$*" 2>>"$T_DIR/city-up.log" || t_die "rollup failed"
}

b_status() {
  mosquitto_sub -h 127.0.0.1 -p "$CITY_PORT" --cafile "$CITY_PKI/ca.crt" --cert "$CITY_PKI/bridge-test.crt" \
    --key "$CITY_PKI/bridge-test.key" -i bridge-test -t "gs/v1/status/$1" -C 1 -W 3 2>/dev/null
}
b_field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps(eval("d"+sys.argv[2]), ensure_ascii=False))' "$1" "$2"; }
# b_status_is ORG PYEXPR VALUE (VALUE in JSON form: 3, [], ["d-02"])
b_status_is() { local d; d=$(b_status "$1") && [ "$(b_field "$d" "$2")" = "$3" ]; }
