#!/usr/bin/env bash
# gs-collector configuration: errors name the key and line; SIGHUP applies a
# new file (and refuses a broken one, keeping the running configuration);
# SIGTERM stops cleanly. --check is read-only and thorough: TLS files, the
# time zone, the store's directory and schema version (issue 18).
. "$GS_SRC/tests/lib/gs_test.sh"
printf '[store]\ndb = %s/x.db\n\n[mqtt]\nport = 99999\n' "$T_DIR" > "$T_DIR/bad.conf"
rc=0; gs-collector -c "$T_DIR/bad.conf" 2> "$T_DIR/bad.err" || rc=$?
t_eq "$rc" 2 "bad configuration exits 2"
grep -q "bad.conf:5: \[mqtt\] port: '99999' is not a whole number from 1 to 65535" "$T_DIR/bad.err" &&
  t_pass "message names file, line and key" || t_fail "message: $(cat "$T_DIR/bad.err")"
printf '[stoer]\ndb = x\n' > "$T_DIR/bad2.conf"
gs-collector -c "$T_DIR/bad2.conf" 2> "$T_DIR/bad2.err" && t_fail "unknown section accepted" ||
  { grep -q "bad2.conf:2: \[stoer\] db: unknown key" "$T_DIR/bad2.err" && t_pass "unknown section refused" || t_fail "$(cat "$T_DIR/bad2.err")"; }

# --check on fixtures: chk NAME DB CAFILE KEYFILE TZ writes NAME.conf and runs
# gs-collector --check on it; sets RC, output in NAME.{out,err}
gs-certs --pki "$T_DIR/pki" init >/dev/null 2>&1 || t_die "gs-certs init"
gs-certs --pki "$T_DIR/pki" issue dev-0001 >/dev/null 2>&1 || t_die "gs-certs issue dev-0001"
P=$T_DIR/pki
chk() {
  printf '[store]\ndb = %s\n\n[mqtt]\ncafile = %s\ncertfile = %s\nkeyfile = %s\n\n[status]\ntimezone = %s\n' \
    "$2" "$3" "$P/dev-0001.crt" "$4" "$5" > "$T_DIR/$1.conf"
  RC=0; timeout 30 gs-collector -c "$T_DIR/$1.conf" --check > "$T_DIR/$1.out" 2> "$T_DIR/$1.err" || RC=$?
}
# expect NAME RC PATTERN WHAT: the last chk exited RC and its stderr matches PATTERN
expect() {
  t_eq "$RC" "$2" "--check: $4 exits $2"
  grep -q -e "$3" "$T_DIR/$1.err" && t_pass "--check names it: $(head -n 1 "$T_DIR/$1.err")" ||
    t_fail "--check $4: stderr lacks '$3': $(cat "$T_DIR/$1.err")"
}
chk ok "$T_DIR/first.db" "$P/ca.crt" "$P/dev-0001.key" Asia/Shanghai
t_eq "$RC" 0 "--check of a good configuration before the first start exits 0"
grep -q "first.db' does not exist; the collector creates it at its first start" "$T_DIR/ok.out" &&
  t_pass "--check notes the store is made at the first start" || t_fail "no note: $(cat "$T_DIR/ok.out" "$T_DIR/ok.err")"
[ ! -e "$T_DIR/first.db" ] && t_pass "--check created no store" || t_fail "--check created $T_DIR/first.db"
chk noca "$T_DIR/first.db" "$P/no-such-ca.crt" "$P/dev-0001.key" Asia/Shanghai
expect noca 1 "\[mqtt\] cafile '$P/no-such-ca.crt': cannot read: No such file" "a missing CA file"
chk nokey "$T_DIR/first.db" "$P/ca.crt" "$P/no-such.key" Asia/Shanghai
expect nokey 1 "\[mqtt\] keyfile '$P/no-such.key': cannot read" "a missing key file"
chk mismatch "$T_DIR/first.db" "$P/ca.crt" "$P/ca.key" Asia/Shanghai
expect mismatch 1 "keyfile '$P/ca.key' does not match certfile '$P/dev-0001.crt'" "a key not matching the certificate"
chk notpem "$T_DIR/first.db" "$T_DIR/ok.conf" "$P/dev-0001.key" Asia/Shanghai
expect notpem 1 "cafile '$T_DIR/ok.conf' holds no PEM certificate" "a CA file that is not PEM"
chk tz "$T_DIR/first.db" "$P/ca.crt" "$P/dev-0001.key" Asia/Shangai
expect tz 1 "\[status\] timezone: time zone 'Asia/Shangai' is unknown" "a misspelt time zone"
chk nodir "$T_DIR/no-such-dir/x.db" "$P/ca.crt" "$P/dev-0001.key" UTC
expect nodir 1 "directory '$T_DIR/no-such-dir' does not exist" "a store whose directory is missing"
sqlite3 "$T_DIR/future.db" "PRAGMA user_version = 999" || t_die "sqlite3 future.db"
chk future "$T_DIR/future.db" "$P/ca.crt" "$P/dev-0001.key" UTC
expect future 1 "schema version 999 is newer than this gridsync" "a store newer than this binary"
chk many "$T_DIR/first.db" "$P/no-such-ca.crt" "$P/ca.key" Asia/Shangai
t_eq "$RC/$(grep -c "^gs-collector: $T_DIR/many.conf: \[" "$T_DIR/many.err")" "1/3" "--check reports every problem, one line each"

# the store is created only at a first start in an existing directory: a
# missing directory (a typo, an unmounted volume) stops the start, exit 1
printf '[store]\ndb = %s/no-such-dir/x.db\n' "$T_DIR" > "$T_DIR/nodir-start.conf"
RC=0; timeout 30 gs-collector -c "$T_DIR/nodir-start.conf" > /dev/null 2> "$T_DIR/nodir-start.err" || RC=$?
t_eq "$RC" 1 "a start with a missing store directory exits 1"
grep -q "its directory '$T_DIR/no-such-dir' does not exist; the collector creates the store file only in an existing directory" \
  "$T_DIR/nodir-start.err" && t_pass "and says so" || t_fail "start without the store directory: $(cat "$T_DIR/nodir-start.err")"
[ ! -e "$T_DIR/no-such-dir" ] && t_pass "and creates nothing" || t_fail "a start created $T_DIR/no-such-dir"

t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 1 --households 2"
CONF=$GS_COLLECTOR_CONF
cp "$CONF" "$T_DIR/good.conf" # before the SIGHUP tests below change it
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

# --check of the stopped collector's configuration: fine, and the store untouched
UV=$(t_sql "$GS_DB" "PRAGMA user_version")
[ ! -e "$GS_DB-wal" ] && t_pass "no -wal after a clean stop" || t_fail "$GS_DB-wal left after a clean stop"
ST=$(stat -c '%s %Y %i' "$GS_DB")
RC=0; gs-collector --config="$T_DIR/good.conf" --check > "$T_DIR/good.out" 2> "$T_DIR/good.err" || RC=$?
t_eq "$RC" 0 "--check of the devstack's configuration exits 0"
[ "$RC" = 0 ] || cat "$T_DIR/good.err" >&2
t_eq "$(stat -c '%s %Y %i' "$GS_DB")" "$ST" "--check left the store's size and mtime alone"
[ ! -e "$GS_DB-wal" ] && [ ! -e "$GS_DB-shm" ] && t_pass "--check made no -wal or -shm" || t_fail "--check made $(ls "$GS_DB"-*)"
t_eq "$(t_sql "$GS_DB" "PRAGMA user_version")" "$UV" "--check left user_version at $UV"
t_done
