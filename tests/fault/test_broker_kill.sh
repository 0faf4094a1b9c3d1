#!/usr/bin/env bash
# Guarantee 7.1 with the broker as the victim: mosquitto is killed with SIGKILL
# at random moments (10 kills; GS_LONG=1: 50) and started again while a fleet
# syncs; the collector and the devices reconnect by themselves, and at the end
# every change is recorded exactly once and every outbox is empty.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/fault/fault_lib.sh"
ND=3; KILLS=10
[ "$GS_LONG" = 1 ] && { ND=4; KILLS=${GS_KILLS:-50}; }
f_fleet "$ND"
STOP="$T_DIR/stop"
for i in $(seq 1 "$ND"); do f_worker "$i" "$STOP" & T_PIDS+=($!); done
killed=0
conns() { grep -c "mqtt: connected" "$GS_DEVSTACK_DIR/collector.log" || true; }
for k in $(seq 1 "$KILLS"); do
  # kill at a random moment once the collector is back online, so that every
  # window carries traffic
  f_sleep_ms 200 1500
  pid=$(f_broker_pid)
  kill -KILL "$pid"
  f_wait_dead "$pid" || break
  killed=$((killed + 1))
  f_sleep_ms 0 500
  c0=$(conns)
  gs-devstack start-broker --dir "$GS_DEVSTACK_DIR" 2>>"$T_DIR/restart.log" || { t_fail "broker start $k"; break; }
  t_wait 20 "the collector to reconnect after broker kill $k" bash -c "[ \$(grep -c 'mqtt: connected' '$GS_DEVSTACK_DIR/collector.log') -gt $c0 ]" || break
done
t_eq "$killed" "$KILLS" "broker killed with SIGKILL and restarted $KILLS times"
kill -0 "$(f_collector_pid)" && t_pass "the collector survived every broker kill" || t_fail "the collector died"
touch "$STOP"
for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
T_PIDS=()
f_final_sync
f_check_store "after $killed broker kills"
rounds=$(cat "$T_DIR"/worker*.rounds | awk '{s+=$1} END {print s+0}')
recon=$(grep -c "mqtt: connected" "$GS_DEVSTACK_DIR/collector.log" || true)
t_log "kills=$killed devices=$ND worker_rounds=$rounds changes=$F_TOTAL collector_connects=$recon"
echo "FAULT-SUMMARY broker_kill kills=$killed devices=$ND changes=$F_TOTAL rounds=$rounds"
t_done
