#!/usr/bin/env bash
# gs-device sync --coap against a devstack collector (real DTLS on loopback):
# round trip push/ack/pull with Block1 and Block2; a device that syncs half
# over MQTT and half over CoAP ends in the same state (fields, versions,
# server change count) as one that used CoAP only; 5.03 while the store is
# locked is retried with the same batch (each change stored once); 4.13 over
# max_body_bytes splits the batch; devices without a valid certificate (other
# CA, unregistered, unreadable file) fail fast with a clear error and keep
# their outbox; usage and configuration errors.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/coap/coap_lib.sh"
t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 2 --households 10"
[ -n "${GS_COAP_PORT:-}" ] || t_die "devstack has no CoAP listener"
H1=$(c_household g-0001)
H2=$(c_household g-0002)
[ -n "$H1" ] && [ -n "$H2" ] || t_die "no seeded households"

status() { gs-device --home "$1" status | awk -v k="$2" '$1 == k { print $2 }'; }
server_changes() { t_sql "$GS_DB" "SELECT count(*) FROM change WHERE device='$1'"; }
# sync_ok HOME WHAT ARGS...: one bounded sync that must succeed; output in $T_DIR/last.out/.err
sync_ok() {
  local home=$1 what=$2; shift 2
  if timeout $((60 * GS_TIMEOUT_MULT)) gs-device --home "$home" -v -v sync "$@" >"$T_DIR/last.out" 2>"$T_DIR/last.err"; then
    t_pass "$what"
  else
    t_fail "$what: $(cat "$T_DIR/last.out") $(grep -v DEBUG "$T_DIR/last.err" | tail -3)"
  fi
}

# --- 1. round trip: 60 changes (Block1), pull of the grid (Block2) -----------
A=$(t_device dev-0201 g-0001)
for i in $(seq 1 60); do
  gs-device --home "$A" visit add --grid g-0001 --household "$H1" summary="第${i}次入户走访，老人身体状况良好，家中整洁" >/dev/null
done
t_eq "$(status "$A" outbox)" 60 "60 changes pending"
sync_ok "$A" "sync --coap round trip" --coap --timeout 30
t_eq "$(cat "$T_DIR/last.out")" "pushed 60, applied 60, duplicates 0, rejected 0, conflicts 0, pulled 70 entities" "summary: 60 applied, 10 households + 60 visits pulled"
grep -q "coap: DTLS session to 127.0.0.1:$GS_COAP_PORT as dev-0201 established" "$T_DIR/last.err" && t_pass "went over DTLS" || t_fail "no DTLS session in the device log"
grep -q "coap: POST /v1/up: 2.04" "$T_DIR/last.err" && t_pass "ack came as 2.04" || t_fail "no 2.04 in the device log"
BIG=$(grep -oE 'push batch [^ ]+ 60 changes, seq 1..60, [0-9]+ bytes' "$T_DIR/last.err" | grep -oE '[0-9]+ bytes' | cut -d' ' -f1)
[ "${BIG:-0}" -gt 4096 ] && t_pass "the batch ($BIG bytes) needed Block1" || t_fail "batch only ${BIG:-?} bytes"
PAGE=$(grep -oE 'POST /v1/pull: 2.05, [0-9]+ bytes' "$T_DIR/last.err" | head -1 | grep -oE '[0-9]+ bytes' | cut -d' ' -f1)
[ "${PAGE:-0}" -gt 4096 ] && t_pass "the page ($PAGE bytes) came with Block2" || t_fail "page only ${PAGE:-?} bytes"
t_eq "$(status "$A" outbox)" 0 "outbox empty after the ack"
t_eq "$(status "$A" acked_seq)" 60 "acked_seq 60"
t_eq "$(server_changes dev-0201)" 60 "60 changes stored for dev-0201"
t_eq "$(gs-device --home "$A" list household --grid g-0001 | wc -l)" 10 "device holds the grid's 10 households"
gs-device --home "$A" set household "$H1" members=7 >/dev/null
sync_ok "$A" "second sync --coap (an edit of a pulled household)" --coap --timeout 30
t_eq "$(cat "$T_DIR/last.out")" "pushed 1, applied 1, duplicates 0, rejected 0, conflicts 0, pulled 1 entities" "one edit with its base, one entity back"
t_eq "$(t_sql "$GS_DB" "SELECT json_extract(fields,'\$.members') FROM entity WHERE type='household' AND id='$H1'")" 7 "server has members=7"
sync_ok "$A" "third sync --coap (nothing to do)" --coap --timeout 30
t_eq "$(cat "$T_DIR/last.out")" "pushed 0, applied 0, duplicates 0, rejected 0, conflicts 0, pulled 0 entities" "nothing new: pull from the cursor"

# --- 2. same edits, MQTT+CoAP vs CoAP only ----------------------------------
M=$(t_device dev-0202 g-0002) # mixed
C=$(t_device dev-0203 g-0002) # CoAP only
declare -A HH VV
for d in M C; do
  home=${!d}
  HH[$d]=$(gs-device --home "$home" household add --grid g-0002 --address "幸福路8号" members=3 tags='["elderly_alone"]')
done
sync_ok "$M" "mixed: sync 1 over MQTT" --mqtt --timeout 30
sync_ok "$C" "single: sync 1 over CoAP" --coap --timeout 30
for d in M C; do
  home=${!d}
  gs-device --home "$home" set household "${HH[$d]}" members=4 note="独居老人，需每周探访" >/dev/null
  VV[$d]=$(gs-device --home "$home" visit add --grid g-0002 --household "${HH[$d]}" summary="复查血压" duration=15 visited_at=1700000000000)
done
sync_ok "$M" "mixed: sync 2 over CoAP" --coap --timeout 30
sync_ok "$C" "single: sync 2 over CoAP" --coap --timeout 30
for d in M C; do
  home=${!d}
  gs-device --home "$home" set household "${HH[$d]}" members=5 >/dev/null
  gs-device --home "$home" set visit "${VV[$d]}" duration=25 >/dev/null
done
sync_ok "$M" "mixed: sync 3 push over MQTT" --mqtt --push-only --timeout 30
sync_ok "$M" "mixed: sync 3 pull over CoAP" --coap --timeout 30
sync_ok "$C" "single: sync 3 over CoAP" --coap --timeout 30
for d in M C; do
  home=${!d}
  gs-device --home "$home" delete visit "${VV[$d]}" >/dev/null
done
sync_ok "$M" "mixed: sync 4 over MQTT" --mqtt --timeout 30
sync_ok "$C" "single: sync 4 over CoAP" --coap --timeout 30
# per device: local copy == server row (fields and exact versions); across devices: same
# fields, same version owners, same change count, same counters
# (the visit's household is each device's own household)
norm() { jq -cS '{fields: (.fields | del(.household)), owners: (.ver | map_values(.[2] | sub("dev-020[23]"; "SELF")))}'; }
for t in household visit; do
  for d in M C; do
    home=${!d}
    if [ "$t" = household ]; then id=${HH[$d]}; else id=${VV[$d]}; fi
    gs-device --home "$home" show "$t" "$id" > "$T_DIR/$d.$t.json"
    t_eq "$(jq -cS .fields "$T_DIR/$d.$t.json")" "$(t_sql "$GS_DB" "SELECT fields FROM entity WHERE type='$t' AND id='$id'" | jq -cS .)" "$d $t: local fields = server fields"
    t_eq "$(jq -cS .ver "$T_DIR/$d.$t.json")" "$(t_sql "$GS_DB" "SELECT ver FROM entity WHERE type='$t' AND id='$id'" | jq -cS .)" "$d $t: local versions = server versions"
    norm < "$T_DIR/$d.$t.json" > "$T_DIR/$d.$t.norm"
  done
  t_eq "$(cat "$T_DIR/M.$t.norm")" "$(cat "$T_DIR/C.$t.norm")" "$t: MQTT+CoAP device = CoAP-only device (fields, version owners)"
done
t_eq "$(jq -c '.fields.members' "$T_DIR/M.household.json")" 5 "last household edit won"
t_eq "$(jq -c '.fields._deleted' "$T_DIR/M.visit.json")" true "visit deleted"
t_eq "$(server_changes dev-0202)" "$(server_changes dev-0203)" "same server change count for both devices"
t_eq "$(server_changes dev-0202)" 6 "6 changes each, none twice"
for k in outbox next_seq acked_seq rejected; do
  t_eq "$(status "$M" $k)" "$(status "$C" $k)" "status $k equal"
done

# --- 3. 5.03 while the store is locked: retried with the same batch ---------
gs-device --home "$C" visit add --grid g-0002 --household "${HH[C]}" summary="锁库期间" >/dev/null
# held 12 s: the collector's busy timeout (5 s) must run out while the first
# request waits, however late a loaded machine gets it there (7 s was flaky)
python3 - "$GS_DB" "$T_DIR/locked" 12 <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
db.execute("ROLLBACK")
PY
LOCK=$!
T_PIDS+=("$LOCK")
t_wait 10 "the store write lock" test -f "$T_DIR/locked"
sync_ok "$C" "sync --coap while the store is locked for 12 s" --coap --timeout 60 --request-timeout 20
wait "$LOCK" 2>/dev/null || true
grep -q "coap: collector answered 5.03" "$T_DIR/last.err" && t_pass "device saw 5.03 and retried" || t_fail "no 5.03 in the device log"
grep -q "answered 5.03, the device retries" "$GS_DEVSTACK_DIR/collector.log" && t_pass "collector answered 5.03" || t_fail "no 5.03 in the collector log"
t_eq "$(status "$C" outbox)" 0 "outbox empty after the retry"
t_eq "$(server_changes dev-0203)" 7 "the change stored exactly once"

# --- 4. 4.13 over max_body_bytes: the engine splits the batch ---------------
c_set_coap max_body_bytes 6000
PAD=$(printf '很%.0s' $(seq 1 150))
for i in $(seq 1 20); do
  gs-device --home "$A" visit add --grid g-0001 --household "$H1" summary="$PAD$i" >/dev/null
done
sync_ok "$A" "sync --coap of a batch over max_body_bytes" --coap --timeout 40
grep -q "too_large" "$T_DIR/last.err" && t_pass "4.13 became a too_large split" || t_fail "no too_large in the device log"
t_eq "$(status "$A" outbox)" 0 "all 20 pushed in smaller batches"
t_eq "$(status "$A" rejected)" 0 "nothing rejected"
t_eq "$(server_changes dev-0201)" 81 "81 changes stored for dev-0201"
c_set_coap max_body_bytes 1048576

# --- 5. no valid certificate: clear error, outbox kept, nothing stored ------
# (a) certificate of another CA with the same name
gs-certs --pki "$T_DIR/other" init --cn "gridsync devstack CA" >/dev/null 2>&1
gs-certs --pki "$T_DIR/other" issue dev-0204 >/dev/null 2>&1
gs-admin --db "$GS_DB" device add dev-0204 --grids g-0001 >/dev/null
X=$T_DIR/dev-0204
gs-device --home "$X" init --id dev-0204 --ca "$GS_CA" --cert "$T_DIR/other/dev-0204.crt" --key "$T_DIR/other/dev-0204.key" \
  --host 127.0.0.1 --mqtt-port "$GS_MQTT_PORT" --coap-port "$GS_COAP_PORT" >/dev/null
gs-device --home "$X" visit add --grid g-0001 --household "$H1" summary=x >/dev/null
t0=$(date +%s)
rc=0; timeout 60 gs-device --home "$X" sync --coap --timeout 30 >/dev/null 2>"$T_DIR/x.err" || rc=$?
secs=$(($(date +%s) - t0))
t_eq "$rc" 1 "other CA: sync exits 1"
grep -q "refused the DTLS handshake of device dev-0204 (alert: " "$T_DIR/x.err" && t_pass "other CA: clear error ($(grep -o 'alert: [^)]*' "$T_DIR/x.err"))" || t_fail "other CA: $(cat "$T_DIR/x.err")"
[ "$secs" -lt 15 ] && t_pass "other CA: fails in ${secs}s, not at the sync timeout" || t_fail "other CA took ${secs}s"
t_eq "$(status "$X" outbox)" 1 "other CA: the change stays in the outbox"
t_eq "$(server_changes dev-0204)" 0 "other CA: nothing stored"
# (b) our CA, but not registered
gs-certs --pki "$GS_PKI" issue dev-0299 >/dev/null 2>&1
U=$T_DIR/dev-0299
gs-device --home "$U" init --id dev-0299 --ca "$GS_CA" --cert "$GS_PKI/dev-0299.crt" --key "$GS_PKI/dev-0299.key" \
  --host 127.0.0.1 --mqtt-port "$GS_MQTT_PORT" --coap-port "$GS_COAP_PORT" >/dev/null
gs-device --home "$U" visit add --grid g-0001 --household "$H1" summary=x >/dev/null
rc=0; timeout 60 gs-device --home "$U" sync --coap --timeout 30 >/dev/null 2>"$T_DIR/u.err" || rc=$?
t_eq "$rc" 1 "unregistered: sync exits 1"
grep -q "refused the DTLS handshake of device dev-0299" "$T_DIR/u.err" && grep -q "registered and enabled" "$T_DIR/u.err" &&
  t_pass "unregistered: clear error" || t_fail "unregistered: $(cat "$T_DIR/u.err")"
t_eq "$(server_changes dev-0299)" 0 "unregistered: nothing stored"
# (c) unreadable certificate file
echo "not a certificate" > "$U/device.crt"
rc=0; timeout 60 gs-device --home "$U" sync --coap --timeout 30 >/dev/null 2>"$T_DIR/f.err" || rc=$?
t_eq "$rc" 1 "broken device.crt: sync exits 1"
grep -q "cannot load the device certificate $U/device.crt" "$T_DIR/f.err" && t_pass "broken device.crt: clear error" || t_fail "broken cert: $(cat "$T_DIR/f.err")"
t_eq "$(status "$U" outbox)" 1 "broken device.crt: the change stays in the outbox"

# --- 6. usage and configuration ---------------------------------------------
rc=0; gs-device --home "$A" sync --coap --mqtt >/dev/null 2>&1 || rc=$?
t_eq "$rc" 2 "--coap with --mqtt is a usage error"
N=$T_DIR/nocoap
gs-device --home "$N" init --id dev-0201 --ca "$GS_CA" --cert "$GS_PKI/dev-0201.crt" --key "$GS_PKI/dev-0201.key" \
  --host 127.0.0.1 --mqtt-port "$GS_MQTT_PORT" >/dev/null
rc=0; gs-device --home "$N" sync --coap >/dev/null 2>"$T_DIR/n.err" || rc=$?
t_eq "$rc" 1 "home without a CoAP port: sync --coap fails"
grep -q "has no \[coap\] host and port" "$T_DIR/n.err" && t_pass "no CoAP port: clear error" || t_fail "no coap port: $(cat "$T_DIR/n.err")"
kill -0 "$(c_collector_pid)" && t_pass "collector still running" || t_fail "collector died"
t_done
