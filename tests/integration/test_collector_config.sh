#!/usr/bin/env bash
# gs-collector configuration: errors name the key and line; SIGHUP applies a
# new file (and refuses a broken one, keeping the running configuration);
# SIGTERM stops cleanly.
. "$GS_SRC/tests/lib/gs_test.sh"
printf '[store]\ndb = %s/x.db\n\n[mqtt]\nport = 99999\n' "$T_DIR" > "$T_DIR/bad.conf"
rc=0; gs-collector -c "$T_DIR/bad.conf" 2> "$T_DIR/bad.err" || rc=$?
t_eq "$rc" 2 "bad configuration exits 2"
grep -q "bad.conf:5: \[mqtt\] port: '99999' is not a whole number from 1 to 65535" "$T_DIR/bad.err" &&
  t_pass "message names file, line and key" || t_fail "message: $(cat "$T_DIR/bad.err")"
printf '[stoer]\ndb = x\n' > "$T_DIR/bad2.conf"
gs-collector -c "$T_DIR/bad2.conf" 2> "$T_DIR/bad2.err" && t_fail "unknown section accepted" ||
  { grep -q "bad2.conf:2: \[stoer\] db: unknown key" "$T_DIR/bad2.err" && t_pass "unknown section refused" || t_fail "$(cat "$T_DIR/bad2.err")"; }

t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 1 --households 2"
CONF=$GS_COLLECTOR_CONF
CPID=$(cat "$GS_DEVSTACK_DIR/collector.pid")
LOG=$GS_DEVSTACK_DIR/collector.log
gs-certs --pki "$GS_PKI" issue dev-0001 >/dev/null 2>&1
NOW=$(( $(date +%s) * 1000 ))
mk() { # mk BATCH N: a batch of N new visits
  local b=$1 n=$2 i c=""
  for i in $(seq 1 "$n"); do
    c="$c${c:+,}{\"id\":\"$b-$i\",\"seq\":$((SEQ + i)),\"type\":\"visit\",\"entity\":\"$b-v$i\",\"hlc\":[$NOW,$i],\"set\":{\"grid\":\"g-0001\",\"household\":\"h\",\"visited_at\":$NOW}}"
  done
  SEQ=$((SEQ + n))
  echo "{\"v\":1,\"batch\":\"$b\",\"changes\":[$c]}"
}
SEQ=0
ack() { t_rr_as dev-0001 gs/v1/dev/dev-0001/up gs/v1/dev/dev-0001/ack "$1"; }
ack "$(mk b1 3)" | t_has '"applied":3' && t_pass "3 changes applied with the default limits" || t_fail "b1"

printf '\n[limits]\nmax_changes = 2\n' >> "$CONF"
N0=$(wc -l < "$LOG")
kill -HUP "$CPID"
t_wait 10 "reload logged" bash -c "tail -n +$((N0 + 1)) '$LOG' | grep -q 'config: reloaded'"
ack "$(mk b2 3)" | t_has '"error":"too_large"' && t_pass "SIGHUP applied max_changes = 2" || t_fail "b2 not refused"

printf 'this is not ini\n' >> "$CONF"
N0=$(wc -l < "$LOG")
kill -HUP "$CPID"
t_wait 10 "refusal logged" bash -c "tail -n +$((N0 + 1)) '$LOG' | grep -q 'reload refused'"
ack "$(mk b3 2)" | t_has '"applied":2' && t_pass "a broken file is refused and the collector keeps working" || t_fail "b3"
kill -0 "$CPID" && t_pass "still running" || t_fail "collector died on a bad reload"

kill -TERM "$CPID"
t_wait 15 "collector exits on SIGTERM" bash -c "! kill -0 $CPID 2>/dev/null"
grep -q "stopping after" "$LOG" && t_pass "clean stop logged" || t_fail "no clean stop in the log"
t_eq "$(t_sql "$GS_DB" "PRAGMA integrity_check")" ok "store intact"
t_done
