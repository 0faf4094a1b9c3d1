#!/usr/bin/env bash
# Guarantee 7.2 under network faults: devices and the collector reach the
# broker through relay.py, which delays, fragments and cuts connections at
# random (RST or FIN, plus short blackouts). Three devices share grid g-0001
# and edit the same household concurrently. At the end every device has an
# empty outbox, the store holds each change exactly once, and every device's
# copy of the shared household equals the server's (the union of all edits
# merged by last-writer-wins). GS_LONG=1 runs longer.
. "$GS_SRC/tests/lib/gs_test.sh"
F_SHARED=1
. "$GS_SRC/tests/fault/fault_lib.sh"
ND=3; SECS=25
[ "$GS_LONG" = 1 ] && { ND=5; SECS=${GS_NET_SECONDS:-300}; }
t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 1 --households 5"
BROKER_PORT=$GS_MQTT_PORT
RELAY_PORT=$(t_free_port)
python3 "$GS_SRC/tests/fault/relay.py" --listen "$RELAY_PORT" --target "$BROKER_PORT" --seed "${GS_SEED:-$RANDOM}" \
  --delay-ms 15 --cut-ms 300 1200 --blackout-pct 15 --stats "$T_DIR/relay.json" >"$T_DIR/relay.log" 2>&1 &
RELAY=$!
T_PIDS+=($RELAY)
t_wait 10 "relay up" t_port_open "$RELAY_PORT"
# the collector goes through the relay too
cpid=$(f_collector_pid); kill -TERM "$cpid"; f_wait_dead "$cpid"
sed -i "s|^port = $BROKER_PORT\$|port = $RELAY_PORT|" "$GS_COLLECTOR_CONF"
grep -q "^port = $RELAY_PORT" "$GS_COLLECTOR_CONF" || t_die "could not point the collector at the relay"
gs-devstack restart-collector --dir "$GS_DEVSTACK_DIR" || t_die "collector restart through the relay"
GS_MQTT_PORT=$RELAY_PORT
for i in $(seq 1 "$ND"); do
  F_GRID[$i]=g-0001
  F_HOMES[$i]=$(t_device "$(printf 'dev-%04d' "$i")" g-0001)
  t_wait 60 "first sync of device $i through the relay" t_dev "${F_HOMES[$i]}" sync --timeout 20 --request-timeout 2 ||
    t_die "device $i never synced through the relay"
done
HH=$(t_dev "${F_HOMES[1]}" list household | head -1 | cut -f1)
for i in $(seq 1 "$ND"); do F_HH[$i]=$HH; done
STOP="$T_DIR/stop"
for i in $(seq 1 "$ND"); do f_worker "$i" "$STOP" 2 & W[$i]=$!; T_PIDS+=(${W[$i]}); done
sleep "$SECS"
touch "$STOP"
for i in $(seq 1 "$ND"); do wait "${W[$i]}" 2>/dev/null || true; done
# converge: still through the faulty relay
f_final_sync
f_final_sync   # a second pass pulls what the others pushed in the first
f_check_store "through the faulty relay"
want=$(t_sql "$GS_DB" "SELECT fields FROM entity WHERE type='household' AND id='$HH'" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))')
copy_of() {
  t_dev "${F_HOMES[$1]}" show household "$HH" | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d.get("fields", d)
print(json.dumps({k: v for k, v in d.items() if not k.startswith("_") or k == "_deleted"}, sort_keys=True))'
}
for i in $(seq 1 "$ND"); do
  # A completed sync must leave the server's copy: pulls carry a request id the
  # page echoes, so a stale page redelivered after a cut cannot end a sync early.
  got=$(copy_of "$i")
  t_eq "$got" "$want" "device $i's copy of the shared household equals the server's"
done
visits=$(t_sql "$GS_DB" "SELECT count(*) FROM entity WHERE type='visit'")
t_eq "$visits" "$(( $(t_sql "$GS_DB" "SELECT count(*) FROM change WHERE type='visit'") ))" "one visit entity per visit change"
kill -TERM "$RELAY"; wait "$RELAY" 2>/dev/null || true
t_log "relay: $(cat "$T_DIR/relay.json" 2>/dev/null); conflicts logged: $(t_sql "$GS_DB" "SELECT count(*) FROM conflict")"
echo "FAULT-SUMMARY network devices=$ND seconds=$SECS changes=$F_TOTAL relay=$(cat "$T_DIR/relay.json" 2>/dev/null)"
t_done
