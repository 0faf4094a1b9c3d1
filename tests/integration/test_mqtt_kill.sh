#!/usr/bin/env bash
# Collector killed with SIGKILL between receiving a batch and acking it: after
# restart the device's retry is applied exactly once and nothing acked is missing.
. "$GS_SRC/tests/lib/gs_test.sh"
t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 1 --households 5"
A=$(t_device dev-0001 g-0001)
t_dev "$A" sync --timeout 20 >/dev/null || t_fail "initial sync"
H=$(t_dev "$A" list household | head -1 | cut -f1)
# acked work before the crash
for i in 1 2 3; do t_dev "$A" visit add --grid g-0001 --household "$H" summary="第${i}次走访" >/dev/null; done
t_dev "$A" sync --timeout 20 >/dev/null || t_fail "sync before the crash"
ACKED=$(t_sql "$GS_DB" "SELECT count(*) FROM change WHERE device='dev-0001'")
t_eq "$ACKED" 3 "three changes acked before the crash"

# freeze the collector so a batch reaches it but is neither committed nor acked
CPID=$(cat "$GS_DEVSTACK_DIR/collector.pid")
kill -STOP "$CPID"
for i in 4 5 6 7; do t_dev "$A" visit add --grid g-0001 --household "$H" summary="第${i}次走访" >/dev/null; done
t_dev "$A" sync --timeout 60 --request-timeout 2 > "$T_DIR/sync.out" 2>&1 &
SYNC=$!
T_PIDS+=($SYNC)
# the batch is in the collector's socket (Recv-Q > 0) or queued at the broker for its session
recv_q() { ss -tnpH 2>/dev/null | awk -v p="pid=$CPID," 'index($0, p) {print $2}' | head -1; }
t_wait 20 "the batch to reach the frozen collector" bash -c "[ \"\$(ss -tnpH 2>/dev/null | awk -v p='pid=$CPID,' 'index(\$0, p) {print \$2}' | head -1)\" -gt 0 ]"
kill -KILL "$CPID"
t_wait 10 "collector gone" bash -c "! kill -0 $CPID 2>/dev/null"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM change WHERE device='dev-0001'")" 3 "nothing of the in-flight batch committed"
gs-devstack restart-collector --dir "$GS_DEVSTACK_DIR" || t_fail "collector restart"
wait "$SYNC" && t_pass "device sync completed after the restart" || t_fail "device sync: $(cat "$T_DIR/sync.out")"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM change WHERE device='dev-0001'")" 7 "all seven changes recorded"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM (SELECT id FROM change GROUP BY id HAVING count(*) > 1)")" 0 "each change exactly once"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM entity WHERE type='visit'")" 7 "seven visits in the store"
t_eq "$(t_sql "$GS_DB" "SELECT acked_seq FROM device WHERE id='dev-0001'")" 7 "watermark covers every seq"
t_eq "$(t_sql "$GS_DB" "PRAGMA integrity_check")" ok "store integrity"
t_done
