#!/usr/bin/env bash
# Two districts (own CA, own collector, own devices) bridged to one city
# broker; gs-rollup publishes the city as the sum of the districts. Then the
# outages: a district broker stopped and restarted (stale, then caught up,
# the other district untouched) and the city broker stopped while a district
# keeps working (the bridge's persistent queue delivers afterwards). Last the
# boundaries: separate CAs (a device of one district cannot connect to the
# other's broker) and a bridge misconfigured to carry device topics carries
# nothing into the city's (its plugin lets bridge-* write gs/v1/status/# only).
# One script, one set of stacks: starting them is most of the cost.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/bridge/bridge_lib.sh"

b_city_up
b_district_up 1
b_district_up 2
b_rollup --stale-after 3 --heartbeat 2

# sum_ok: the city's document equals d-01 + d-02 member by member (all counts)
sum_ok() {
  python3 - "$(b_status c-demo)" "$(b_status d-01)" "$(b_status d-02)" <<'PY'
import json, sys
c, a, b = (json.loads(x) for x in sys.argv[1:4])
skip = {"v", "org", "parent", "level", "name", "as_of", "period", "stale"}
def check(c, a, b, path):
    for k, v in a.items():
        if path == "" and k in skip: continue
        if isinstance(v, dict): check(c[k], v, b[k], path + k + "."); continue
        if isinstance(v, (int, float)) and c.get(k) != v + b[k]:
            sys.exit("%s%s: city %s != %s + %s" % (path, k, c.get(k), v, b[k]))
check(c, a, b, "")
PY
}

t_wait 20 "the city has both districts' households" b_status_is c-demo '["households"]' 20

# --- devices sync into their own districts ---
b_use "$T_DIR/d1"
A=$(t_device dev-0001 g-0001)
t_dev "$A" sync --timeout 20 >/dev/null || t_fail "district 1 initial sync"
HA=$(t_dev "$A" list household | sed -n 1p | cut -f1)
t_dev "$A" visit add --grid g-0001 --household "$HA" >/dev/null
t_dev "$A" visit add --grid g-0001 --household "$HA" kind=follow_up >/dev/null
t_dev "$A" report add --grid g-0001 --category safety_hazard --title "楼道堆物" --urgency high >/dev/null
t_dev "$A" sync --timeout 20 >/dev/null || t_fail "district 1 sync"

b_use "$T_DIR/d2"
B=$(t_device dev-2-0001 g-2-0001)
t_dev "$B" sync --timeout 20 >/dev/null || t_fail "district 2 initial sync"
HB=$(t_dev "$B" list household | sed -n 1p | cut -f1)
t_dev "$B" visit add --grid g-2-0001 --household "$HB" >/dev/null
t_dev "$B" report add --grid g-2-0001 --category dispute --title "邻里纠纷" --urgency low >/dev/null
t_dev "$B" report add --grid g-2-0001 --category environment --title "垃圾清运" --urgency critical >/dev/null
t_dev "$B" sync --timeout 20 >/dev/null || t_fail "district 2 sync"

t_wait 15 "the city counts 3 visits today" b_status_is c-demo '["visits_today"]' 3
t_wait 10 "the city counts 3 open reports" b_status_is c-demo '["reports_open"]' 3
t_wait 10 "the city equals d-01 + d-02 in every count" sum_ok
C=$(b_status c-demo)
t_eq "$(b_field "$C" '["reports_by_urgency"]')" '{"low": 1, "normal": 0, "high": 1, "critical": 1}' "urgencies summed"
t_eq "$(b_field "$C" '["level"]')/$(b_field "$C" '["parent"]')/$(b_field "$C" '["stale"]')" '"city"/null/[]' "city document: level, no parent, nothing stale"
t_wait 10 "a grid of district 2 is readable at the city" b_status_is g-2-0001 '["visits_today"]' 1
t_eq "$(b_field "$(b_status g-0001)" '["reports_open"]')" 1 "a grid of district 1 is readable at the city"

# --- district 2's broker goes away for a while ---
D1_BEFORE=$(b_status d-01)
gs-devstack stop-broker --dir "$T_DIR/d2" 2>/dev/null || t_fail "stop district 2 broker"
t_wait 15 "the city lists d-02 as stale" b_status_is c-demo '["stale"]' '["d-02"]'
t_eq "$(b_field "$(b_status c-demo)" '["households"]')" 20 "a stale district still counts (its last numbers)"
t_dev "$B" visit add --grid g-2-0001 --household "$HB" >/dev/null   # the worker keeps working offline
gs-devstack start-broker --dir "$T_DIR/d2" 2>/dev/null || t_fail "start district 2 broker"
t_wait 20 "d-02 is no longer stale" b_status_is c-demo '["stale"]' '[]'
t_dev "$B" sync --timeout 30 >/dev/null || t_fail "district 2 sync after its broker came back"
t_wait 20 "the city catches up with district 2's new visit" b_status_is c-demo '["visits_today"]' 4
t_wait 10 "the city equals d-01 + d-02 after the outage" sum_ok
t_eq "$(b_status d-01)" "$D1_BEFORE" "district 1's document at the city was not disturbed"

# --- the city broker goes away; district 1 keeps working; the bridge queues ---
gs-devstack stop-broker --dir "$T_DIR/city" 2>/dev/null || t_fail "stop city broker"
b_use "$T_DIR/d1"
t_dev "$A" visit add --grid g-0001 --household "$HA" >/dev/null
t_dev "$A" sync --timeout 20 >/dev/null || t_fail "district 1 syncs while the city is down"
gs-certs --pki "$GS_PKI" issue-service bridge-test >/dev/null 2>&1 || t_die "issue-service bridge-test (district 1)"
d1_local_is() {
  mosquitto_sub -h 127.0.0.1 -p "$GS_MQTT_PORT" --cafile "$GS_CA" --cert "$GS_PKI/bridge-test.crt" \
    --key "$GS_PKI/bridge-test.key" -i bridge-test -t gs/v1/status/d-01 -C 1 -W 3 2>/dev/null | t_has "\"visits_today\":$1,"
}
t_wait 10 "district 1's broker has the new numbers while the city is down" d1_local_is 3
gs-devstack start-broker --dir "$T_DIR/city" 2>/dev/null || t_fail "start city broker"
t_wait 30 "the queued update reaches the city (d-01 visits_today 3)" b_status_is d-01 '["visits_today"]' 3
t_wait 15 "the rollup republishes the city (visits_today 5)" b_status_is c-demo '["visits_today"]' 5
t_wait 10 "the city equals d-01 + d-02 after the city outage" sum_ok

# --- separate CAs ---
b_use "$T_DIR/d1"
D1_PKI=$GS_PKI D1_PORT=$GS_MQTT_PORT
D2_PORT=$(sed -n 's/^export GS_MQTT_PORT=//p' "$T_DIR/d2/devstack.env")
D2_CA="$T_DIR/d2/pki/ca.crt"
pub_dev1() { # pub_dev1 PORT CAFILE: dev-0001 of district 1 publishes its own up topic
  mosquitto_pub -h 127.0.0.1 -p "$1" --cafile "$2" --cert "$D1_PKI/dev-0001.crt" --key "$D1_PKI/dev-0001.key" \
    -i dev-0001 -q 1 -t gs/v1/dev/dev-0001/up -m '{"v":1,"batch":"x","changes":[]}' 2>"$T_DIR/pub.err"
}
pub_dev1 "$D1_PORT" "$D1_PKI/ca.crt" && t_pass "district 1 device connects to district 1" || t_fail "control: $(cat "$T_DIR/pub.err")"
if pub_dev1 "$D2_PORT" "$D2_CA"; then t_fail "district 1 device was accepted by district 2's broker"
else t_pass "district 1 device refused by district 2's broker (other CA)"; fi

# --- a bridge configured to carry device topics carries nothing into the city's ---
echo "topic gs/v1/dev/# out 1" >> "$T_DIR/d1/mosquitto.conf"   # still inside the bridge section (the last one)
gs-devstack stop-broker --dir "$T_DIR/d1" 2>/dev/null && gs-devstack start-broker --dir "$T_DIR/d1" 2>/dev/null ||
  t_die "restart district 1 broker"
bridge_up() { [ "$(mosquitto_sub -h 127.0.0.1 -p "$CITY_PORT" --cafile "$CITY_PKI/ca.crt" --cert "$CITY_PKI/bridge-test.crt" \
  --key "$CITY_PKI/bridge-test.key" -i bridge-test -t gs/v1/status/d-01/link -C 1 -W 3 2>/dev/null)" = 1 ]; }
t_wait 15 "district 1's bridge reconnected" bridge_up
# the city's device-topic reader: the city's gs-collector account (no collector runs at the city)
mosquitto_sub -h 127.0.0.1 -p "$CITY_PORT" --cafile "$CITY_PKI/ca.crt" --cert "$CITY_PKI/gs-collector.crt" \
  --key "$CITY_PKI/gs-collector.key" -i gs-collector -q 1 -t 'gs/v1/dev/+/up' -v -C 1 -W 20 > "$T_DIR/city-dev.txt" 2>&1 &
SUB=$!
T_PIDS+=("$SUB")
sub_ready() { grep -q "as gs-collector" "$T_DIR/city/mosquitto.log"; }
t_wait 10 "the city subscriber is connected" sub_ready
n0=$(grep -c 'denied publish on "gs/v1/dev/dev-0001/up"' "$T_DIR/city/mosquitto.log" || true)
pub_dev1 "$D1_PORT" "$D1_PKI/ca.crt" || t_fail "district 1 device publish"
denied() { [ "$(grep -c 'bridge-d01 publish on "gs/v1/dev/dev-0001/up"' "$T_DIR/city/mosquitto.log")" -gt "$n0" ]; }
t_wait 10 "the city's plugin denied the bridge's publish into a device topic" denied
# positive control: a device of the city's own CA reaches the same subscriber
gs-certs --pki "$CITY_PKI" issue dev-city >/dev/null 2>&1 || t_die "issue dev-city"
mosquitto_pub -h 127.0.0.1 -p "$CITY_PORT" --cafile "$CITY_PKI/ca.crt" --cert "$CITY_PKI/dev-city.crt" \
  --key "$CITY_PKI/dev-city.key" -i dev-city -q 1 -t gs/v1/dev/dev-city/up -m control || t_fail "control publish at the city"
wait "$SUB" || true
t_eq "$(cat "$T_DIR/city-dev.txt")" "gs/v1/dev/dev-city/up control" "the city's device topics saw only the control message"
t_done
