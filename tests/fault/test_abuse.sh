#!/usr/bin/env bash
# Guarantees 7.3 and 7.4 against the real stack: abusive input from an
# authenticated device gets the documented refusal, and the store's entity
# table is unchanged (digest of SELECT * FROM entity ORDER BY type,id before
# and after each case); the collector keeps running throughout.
# Not covered here: a dashboard account trying to publish (it speaks MQTT over
# websockets only; tests/browser covers it).
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/fault/fault_lib.sh"
t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 2 --households 5"
t_device dev-0001 g-0001 >/dev/null
t_device dev-0002 g-0002 >/dev/null
R=$(t_device dev-0004 g-0001)
t_dev "$R" sync --timeout 20 >/dev/null || t_die "initial sync"
H=$(t_dev "$R" list household | head -1 | cut -f1)
CPID=$(f_collector_pid)
uuid() { cat /proc/sys/kernel/random/uuid; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ack_of DEV PAYLOAD_FILE: publishes the batch as DEV (one client that
# subscribes to its ack topic first: the plugin allows one client id per
# device) and prints the ack; empty when none came in 10 s.
ack_of() {
  python3 "$GS_SRC/tests/fault/mqtt_rr.py" --port "$GS_MQTT_PORT" --ca "$GS_CA" --cert "$GS_PKI/$1.crt" \
    --key "$GS_PKI/$1.key" --id "$1" --pub "gs/v1/dev/$1/up" --sub "gs/v1/dev/$1/ack" --file "$2" --timeout 10 \
    2>"$T_DIR/rr.err" || true
}
# expect WHAT DEV FILE PYCHECK: sends FILE, checks the ack with a python expression on `a`
# (the parsed ack), and that the entity table did not change.
expect() {
  local what=$1 dev=$2 file=$3 check=$4 d0 ack
  d0=$(f_digest)
  ack=$(ack_of "$dev" "$file")
  if [ -z "$ack" ]; then
    t_fail "$what: no ack ($(head -c 200 "$T_DIR/rr.err"))"
  elif printf '%s' "$ack" | python3 -c "import json,sys; a=json.load(sys.stdin); sys.exit(0 if ($check) else 1)"; then
    t_pass "$what: refused as expected"
  else
    t_fail "$what: unexpected ack $(printf '%s' "$ack" | head -c 400)"
  fi
  t_eq "$(f_digest)" "$d0" "$what: entity table unchanged"
}
change() {  # change SEQ SETJSON [TYPE] [ENTITY]
  printf '{"id":"%s","seq":%s,"type":"%s","entity":"%s","hlc":[%s,0],"set":%s}' "$(uuid)" "$1" "${3:-household}" \
    "${4:-$H}" "$(now_ms)" "$2"
}
F="$T_DIR/in"
rej() { echo "a.get('rejected') and all(r['error']=='$1' for r in a['rejected']) and a.get('applied',0)==0"; }

# too many changes in one batch (limit 1000)
python3 - "$F" "$H" <<'PY'
import json, sys, time, uuid
ch = [{"id": str(uuid.uuid4()), "seq": i + 1, "type": "household", "entity": sys.argv[2],
       "hlc": [int(time.time() * 1000), 0], "set": {"members": 2}} for i in range(1001)]
open(sys.argv[1], "w").write(json.dumps({"v": 1, "batch": "b-many", "changes": ch}))
PY
expect "1001 changes in one batch" dev-0001 "$F" "'too_large' in json.dumps(a) and a.get('applied',0)==0"
# field longer than its limit (note: 2000 characters)
printf '{"v":1,"batch":"b-big","changes":[%s]}' "$(change 1 "{\"note\":\"$(head -c 3000 /dev/zero | tr '\0' x)\"}")" >"$F"
expect "field over its max_len" dev-0001 "$F" "$(rej bad_value) or $(rej too_large)"
# a payload over 1 MiB: the broker's max_packet_size drops it before the collector
head -c 1100000 /dev/zero | tr '\0' ' ' >"$F"
d0=$(f_digest)
ack=$(ack_of dev-0001 "$F")
t_eq "$ack" "" "1.1 MB payload: no ack (the broker refuses the packet)"
t_eq "$(f_digest)" "$d0" "1.1 MB payload: entity table unchanged"
# deeply nested JSON
python3 -c "import sys; open(sys.argv[1],'w').write('{\"v\":1,\"batch\":\"b\",\"changes\":' + '['*50000 + ']'*50000 + '}')" "$F"
expect "deep JSON (50000 levels)" dev-0001 "$F" "a.get('error') in ('bad_json','too_large','bad_change')"
# invalid UTF-8
printf '{"v":1,"batch":"b-utf","changes":[{"id":"\xff\xfe","seq":1,"set":{"address":"\xc0\x80"}}]}' >"$F"
expect "invalid UTF-8" dev-0001 "$F" "a.get('error')=='bad_json'"
# not JSON at all
head -c 4096 /dev/urandom >"$F"
expect "random bytes" dev-0001 "$F" "a.get('error')=='bad_json'"
# wrong types
printf '{"v":1,"batch":"b-types","changes":[{"id":"%s","seq":"1","type":"household","entity":"%s","hlc":"now","set":{"members":"four"}}]}' "$(uuid)" "$H" >"$F"
expect "wrong types" dev-0001 "$F" "$(rej bad_change) or $(rej bad_value)"
printf '{"v":1,"batch":"b-types2","changes":[%s]}' "$(change 1 '{"members":"four","tags":"x"}')" >"$F"
expect "wrong field types" dev-0001 "$F" "$(rej bad_value)"
# unknown entity type / unknown field
printf '{"v":1,"batch":"b-ut","changes":[%s,%s]}' "$(change 1 '{"grid":"g-0001"}' spaceship "$(uuid)")" \
  "$(change 2 '{"is_admin":true}')" >"$F"
expect "unknown type and unknown field" dev-0001 "$F" \
  "sorted(r['error'] for r in a['rejected'])==['unknown_field','unknown_type'] and a.get('applied',0)==0"
# a grid the device does not own: a new household in g-0002, and moving one there
printf '{"v":1,"batch":"b-fg","changes":[%s,%s]}' "$(change 1 '{"grid":"g-0002","address":"越权路1号"}' household "$(uuid)")" \
  "$(change 2 '{"grid":"g-0002"}')" >"$F"
expect "writing a grid it does not own" dev-0001 "$F" "$(rej forbidden_grid)"
# an existing entity of another grid
H2=$(t_sql "$GS_DB" "SELECT id FROM entity WHERE type='household' AND grid='g-0002' LIMIT 1")
printf '{"v":1,"batch":"b-fg2","changes":[%s]}' "$(change 1 '{"members":99}' household "$H2")" >"$F"
expect "editing another grid's household" dev-0001 "$F" "$(rej forbidden_grid)"

# another device's topic: the broker's ACL drops it, the collector never sees it
CID=$(uuid)
d0=$(f_digest)
m0=$(t_sql "$GS_DB" "SELECT json_extract(fields,'\$.members') FROM entity WHERE id='$H2'")
n0=$(t_sql "$GS_DB" "SELECT count(*) FROM change")
t_pub_as dev-0001 gs/v1/dev/dev-0002/up \
  "{\"v\":1,\"batch\":\"b-spoof\",\"changes\":[{\"id\":\"$CID\",\"seq\":1,\"type\":\"household\",\"entity\":\"$H2\",\"hlc\":[$(now_ms),0],\"set\":{\"members\":42}}]}" ||
  true
# a marker batch after it on dev-0001's own topic: once it is in, the spoofed one would be too
printf '{"v":1,"batch":"b-marker","changes":[%s]}' "$(change 1 '{"members":2}')" >"$F"
ack_of dev-0001 "$F" >/dev/null
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM change WHERE id='$CID'")" 0 "publish on another device's topic never reaches the store"
grep -q "$CID" "$GS_DEVSTACK_DIR/collector.log" && t_fail "the collector saw the spoofed batch" ||
  t_pass "the collector never saw the spoofed batch"
t_eq "$(t_sql "$GS_DB" "SELECT acked_seq FROM device WHERE id='dev-0002'")" 0 "dev-0002's watermark untouched"
t_eq "$(t_sql "$GS_DB" "SELECT json_extract(fields,'\$.members') FROM entity WHERE id='$H2'")" "$m0" \
  "dev-0002's household untouched"

# replay of an old batch: duplicates, acked again, nothing re-applied
printf '{"v":1,"batch":"b-ok","changes":[%s,%s]}' "$(change 2 '{"members":5}')" "$(change 3 '{"phone":"13900000000"}')" >"$F"
ack=$(ack_of dev-0001 "$F")
printf '%s' "$ack" | t_has '"applied":2' && t_pass "a good batch applies" || t_fail "good batch: $ack"
cp "$F" "$T_DIR/replay"
n1=$(t_sql "$GS_DB" "SELECT count(*) FROM change")
expect "replay of an old batch" dev-0001 "$T_DIR/replay" "a.get('duplicates')==2 and a.get('applied')==0 and not a.get('rejected')"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM change")" "$n1" "replay: no new change rows"
# same change id with different content
sed 's/13900000000/13911111111/' "$T_DIR/replay" >"$F"
expect "change id reused with other content" dev-0001 "$F" "$(rej id_reused)"

# revoked certificate: gs-certs revoke + crl + SIGHUP; the broker refuses the device
gs-certs --pki "$GS_PKI" revoke dev-0004 >/dev/null 2>&1 || t_fail "gs-certs revoke"
gs-certs --pki "$GS_PKI" crl >/dev/null 2>&1 || t_fail "gs-certs crl"
kill -HUP "$(f_broker_pid)"
d0=$(f_digest)
t_dev "$R" set household "$H" members=77 >/dev/null
t_wait 15 "the broker to refuse the revoked certificate" bash -c \
  "! gs-device --home '$R' sync --timeout 3 --request-timeout 2 >/dev/null 2>&1" && t_pass "revoked device refused"
t_eq "$(f_status_of "$R" outbox)" 1 "revoked device's change stays in its outbox"
t_eq "$(f_digest)" "$d0" "revoked certificate: entity table unchanged"
printf '{"v":1,"batch":"b-rev","changes":[%s]}' "$(change 1 '{"members":78}')" >"$F"
t_eq "$(ack_of dev-0004 "$F")" "" "revoked certificate: a direct publish gets no ack"
t_eq "$(t_sql "$GS_DB" "SELECT acked_seq FROM device WHERE id='dev-0004'")" 0 "revoked device: nothing recorded"

kill -0 "$CPID" 2>/dev/null && t_pass "the collector survived every abuse case" || t_fail "the collector died"
t_eq "$(t_sql "$GS_DB" "PRAGMA integrity_check")" ok "store integrity"
t_done
