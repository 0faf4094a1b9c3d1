#!/usr/bin/env bash
# A broker restart while devices sync: everything converges once it is back.
. "$GS_SRC/tests/lib/gs_test.sh"
t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 3 --households 5"
HOMES=()
for g in 1 2 3; do
  h=$(t_device "dev-000$g" "g-000$g")
  t_dev "$h" sync --timeout 20 >/dev/null || t_fail "initial sync dev-000$g"
  HOMES+=("$h")
done
for g in 1 2 3; do
  h=${HOMES[$((g - 1))]}
  HH=$(t_dev "$h" list household | head -1 | cut -f1)
  for i in $(seq 1 20); do t_dev "$h" visit add --grid "g-000$g" --household "$HH" duration=$i >/dev/null; done
done
PIDS=()
for g in 1 2 3; do
  t_dev "${HOMES[$((g - 1))]}" sync --timeout 90 --request-timeout 2 --batch 5 > "$T_DIR/sync$g.out" 2>&1 &
  PIDS+=($!); T_PIDS+=($!)
done
gs-devstack stop-broker --dir "$GS_DEVSTACK_DIR" || t_fail "stop broker"
t_log "broker stopped while devices sync"
gs-devstack start-broker --dir "$GS_DEVSTACK_DIR" || t_fail "start broker"
for i in 0 1 2; do
  wait "${PIDS[$i]}" && t_pass "dev-000$((i + 1)) sync finished" || t_fail "dev-000$((i + 1)): $(tail -3 "$T_DIR/sync$((i + 1)).out")"
done
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM entity WHERE type='visit'")" 60 "all 60 visits stored"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM (SELECT id FROM change GROUP BY id HAVING count(*) > 1)")" 0 "no change twice"
for g in 1 2 3; do
  t_eq "$(t_dev "${HOMES[$((g - 1))]}" status | sed -n 's/^outbox //p')" 0 "dev-000$g outbox empty"
done
grep -qE "connection to .* lost|disconnected \(unexpected\)|cannot connect" "$GS_DEVSTACK_DIR/collector.log" && t_pass "the collector saw the broker go away and came back" || t_fail "the broker restart did not reach the collector"
t_done
