#!/usr/bin/env bash
# Guarantee 7.1: a change a device saw acked is never lost, and every change
# is recorded exactly once, while the collector is killed with SIGKILL at
# random moments (10 kills; GS_LONG=1: 60) and restarted, with a fleet of
# reference devices syncing through the real broker the whole time.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/fault/fault_lib.sh"
ND=3; KILLS=10
[ "$GS_LONG" = 1 ] && { ND=4; KILLS=${GS_KILLS:-60}; }
f_fleet "$ND"
STOP="$T_DIR/stop"
for i in $(seq 1 "$ND"); do f_worker "$i" "$STOP" & T_PIDS+=($!); done
killed=0
for k in $(seq 1 "$KILLS"); do
  f_sleep_ms 200 1500
  pid=$(f_collector_pid)
  kill -KILL "$pid"
  f_wait_dead "$pid" || break
  killed=$((killed + 1))
  f_sleep_ms 0 400
  gs-devstack restart-collector --dir "$GS_DEVSTACK_DIR" 2>>"$T_DIR/restart.log" || { t_fail "restart $k"; break; }
done
t_eq "$killed" "$KILLS" "collector killed with SIGKILL and restarted $KILLS times"
touch "$STOP"
wait_workers() { for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; }
wait_workers
T_PIDS=()
f_final_sync
f_check_store "after $killed collector kills"
rounds=$(cat "$T_DIR"/worker*.rounds | awk '{s+=$1} END {print s+0}')
t_log "kills=$killed devices=$ND worker_rounds=$rounds changes=$F_TOTAL lost=0 (checked)"
echo "FAULT-SUMMARY collector_kill kills=$killed devices=$ND changes=$F_TOTAL rounds=$rounds"
t_done
