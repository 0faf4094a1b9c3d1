#!/usr/bin/env bash
# Status over CoAP does not depend on the broker: with mosquitto STOPPED, a
# collector started meanwhile answers GET /v1/status/{org} for every org it
# knows (4.04 only for an unknown org), a CoAP upload is acked (2.04), and an
# observer of the org gets a notification with the new numbers. When the
# broker is back, the retained MQTT status catches up.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/coap/coap_lib.sh"
t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 2 --households 10"
c_device dev-0101 g-0001
H=$(c_household g-0001)
[ -n "$H" ] || t_die "no household in g-0001"
LOG=$GS_DEVSTACK_DIR/collector.log

# --- broker down, then a collector started without it ---
gs-devstack stop-broker --dir "$GS_DEVSTACK_DIR" || t_die "stop broker"
kill -TERM "$(c_collector_pid)"
t_wait 15 "collector to stop" bash -c "! kill -0 $(c_collector_pid) 2>/dev/null" || t_die "collector did not stop"
n0=$(wc -l < "$LOG")
setsid gs-collector -c "$GS_DEVSTACK_DIR/collector.conf" >>"$LOG" 2>&1 < /dev/null &
echo $! > "$GS_DEVSTACK_DIR/collector.pid" # gs-devstack down stops it
t_wait 20 "CoAP listener of the new collector" bash -c "tail -n +$((n0 + 1)) '$LOG' | grep -q 'coap: listening'" ||
  t_die "collector did not start listening"
t_wait 20 "the collector to try the stopped broker" bash -c "tail -n +$((n0 + 1)) '$LOG' | grep -q 'mqtt: cannot connect'"
tail -n +$((n0 + 1)) "$LOG" | t_has 'mqtt: connected' && t_fail "the collector reached a broker that is stopped" ||
  t_pass "broker stopped: the collector is not connected to MQTT"

c_req "$T_DIR/st" dev-0101 get /v1/status/g-0001
t_eq "$(c_json "$T_DIR/st" 'd["org"], d["households"]')" "('g-0001', 10)" "GET /v1/status/g-0001 answers without the broker"
P=$(t_sql "$GS_DB" "SELECT parent FROM org WHERE id='g-0001'")
[ -n "$P" ] || t_die "g-0001 has no parent org"
c_req "$T_DIR/st2" dev-0101 get "/v1/status/$P"
t_eq "$(c_json "$T_DIR/st2" 'd["org"]')" "$P" "GET of its parent org ($P) answers too"
c_req "$T_DIR/st404" dev-0101 get /v1/status/g-9999
t_eq "$(c_code "$T_DIR/st404")" 4.04 "unknown org: still 4.04"

# --- observe, upload over CoAP, notification ---
C_STREAM=1 C_WAIT=20 c_req "$T_DIR/obs" dev-0101 get /v1/status/g-0001 -s 18 -w &
OBS=$!
T_PIDS+=("$OBS")
t_wait 10 "first observe notification" bash -c "grep -q visits_today '$T_DIR/obs'"
V0=$(grep visits_today "$T_DIR/obs" | head -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["visits_today"])')
c_batch "$T_DIR/b1.json" --batch b-nb --prefix nb --n 2 --seq 1 --grid g-0001 --household "$H"
c_req "$T_DIR/up" dev-0101 post /v1/up -t 50 -f "$T_DIR/b1.json"
t_eq "$(c_json "$T_DIR/up" 'd["applied"], d["batch"]')" "(2, 'b-nb')" "CoAP upload acked (2.04) with the broker down"
t_eq "$(c_changes nb)" 2 "both changes committed"
notified() { grep visits_today "$T_DIR/obs" | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["visits_today"])'; }
notified_is() { [ "$(notified)" = "$1" ]; }
t_wait 10 "a notification with the 2 new visits" notified_is $((V0 + 2))
t_eq "$(notified)" "$((V0 + 2))" "observer notified without the broker (visits_today $V0 -> $((V0 + 2)))"
kill "$OBS" 2>/dev/null || true
wait "$OBS" 2>/dev/null || true

# --- broker back: the retained status catches up ---
n1=$(wc -l < "$LOG")
gs-devstack start-broker --dir "$GS_DEVSTACK_DIR" || t_die "start broker"
t_wait 30 "the collector to connect" bash -c "tail -n +$((n1 + 1)) '$LOG' | grep -q 'mqtt: connected'"
gs-certs --pki "$GS_PKI" issue-service bridge-test >/dev/null 2>&1 || t_die "issue-service bridge-test"
retained() {
  mosquitto_sub -h 127.0.0.1 -p "$GS_MQTT_PORT" --cafile "$GS_CA" --cert "$GS_PKI/bridge-test.crt" \
    --key "$GS_PKI/bridge-test.key" -i bridge-test -t "gs/v1/status/g-0001" -C 1 -W 5 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["visits_today"])'
}
retained_is() { [ "$(retained)" = "$1" ]; }
t_wait 20 "retained status of g-0001 with the visits made while the broker was down" retained_is $((V0 + 2))
kill -0 "$(c_collector_pid)" && t_pass "collector still running" || t_fail "collector died"
t_done
