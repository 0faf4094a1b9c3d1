#!/usr/bin/env bash
# Clock faults (docs/PROTOCOL.md, "Data model"): a phone whose clock is hours ahead gets its hlc
# clamped to the server's and logged in skew_log, and cannot win every later
# edit: a later edit from a phone with a correct clock wins. A phone whose
# clock is hours behind is accepted (not clamped, not rejected) and simply
# loses to newer versions. gs-device has no fake clock, so the skewed phones
# publish hand-made batches with their own certificates (mosquitto_pub).
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/fault/fault_lib.sh"
t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 1 --households 5"
N=$(t_device dev-0002 g-0001)            # normal clock, reference device
t_device dev-0001 g-0001 >/dev/null      # clock 6 h ahead (hand-made batches)
t_device dev-0003 g-0001 >/dev/null      # clock 6 h behind
t_dev "$N" sync --timeout 20 >/dev/null || t_die "initial sync"
H=$(t_dev "$N" list household | head -1 | cut -f1)
uuid() { cat /proc/sys/kernel/random/uuid; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
members() { t_sql "$GS_DB" "SELECT json_extract(fields,'\$.members') FROM entity WHERE type='household' AND id='$H'"; }
# pub DEV SEQ HLC_MS SETJSON: one hand-made change; waits until the store has it
pub() {
  local id; id=$(uuid)
  t_pub_as "$1" "gs/v1/dev/$1/up" \
    "{\"v\":1,\"batch\":\"b-$2\",\"changes\":[{\"id\":\"$id\",\"seq\":$2,\"type\":\"household\",\"entity\":\"$H\",\"hlc\":[$3,0],\"set\":$4}]}" ||
    t_fail "publish as $1"
  t_wait 15 "change $id of $1 in the store" bash -c "[ \"\$(sqlite3 '$GS_DB' \"SELECT count(*) FROM change WHERE id='$id'\")\" = 1 ]"
  LAST_ID=$id
}
AHEAD=$(( 6 * 3600 * 1000 ))

# 1. future clock: accepted, clamped, logged
pub dev-0001 1 $(( $(now_ms) + AHEAD )) '{"members":7}'
t_eq "$(t_sql "$GS_DB" "SELECT status, clamped FROM change WHERE id='$LAST_ID'")" "0|1" "future change applied with its hlc clamped"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM skew_log WHERE device='dev-0001'")" 1 "skew_log has the clamped change"
t_eq "$(t_sql "$GS_DB" "SELECT hlc_ms - server_ms > 5*3600*1000 FROM skew_log WHERE change='$LAST_ID'")" 1 "skew_log keeps the phone's hlc and the server's time"
t_eq "$(members)" 7 "the clamped edit applied"
ver=$(t_sql "$GS_DB" "SELECT json_extract(ver,'\$.members[0]') FROM entity WHERE id='$H'")
t_eq "$(( ver <= $(now_ms) + 300000 ))" 1 "stored version is not in the future (clamped to the server clock)"
grep -q "dev-0001 change $LAST_ID: hlc .* ahead of the server; clamped" "$GS_DEVSTACK_DIR/collector.log" &&
  t_pass "the collector logged the skew" || t_fail "no skew line in the collector log"

# 2. a later edit from a correct clock wins over the future phone
t_dev "$N" sync --timeout 20 >/dev/null || t_fail "pull"
t_dev "$N" set household "$H" members=3 >/dev/null
t_dev "$N" sync --timeout 20 >/dev/null || t_fail "sync of the normal phone"
t_eq "$(members)" 3 "a later normal edit wins over the future-clock phone"
# ... and again after the future phone writes once more (its hlc is clamped again)
pub dev-0001 2 $(( $(now_ms) + AHEAD + 1000 )) '{"members":8}'
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM skew_log WHERE device='dev-0001'")" 2 "second future change clamped and logged"
t_dev "$N" sync --timeout 20 >/dev/null
t_dev "$N" set household "$H" members=4 >/dev/null
t_dev "$N" sync --timeout 20 >/dev/null || t_fail "sync of the normal phone"
t_eq "$(members)" 4 "the normal phone's next edit wins again (future phone cannot win every later edit)"

# 3. past clock: accepted, not clamped, loses to newer versions, wins an untouched field
pub dev-0003 1 $(( $(now_ms) - AHEAD )) '{"members":1,"note":"时钟慢了六小时"}'
t_eq "$(t_sql "$GS_DB" "SELECT status, clamped FROM change WHERE id='$LAST_ID'")" "0|0" "past change applied, not clamped"
t_eq "$(members)" 4 "an old-clock write does not overwrite a newer version"
t_eq "$(t_sql "$GS_DB" "SELECT json_extract(fields,'\$.note') FROM entity WHERE id='$H'")" "时钟慢了六小时" \
  "an old-clock write of a field nobody newer wrote is applied"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM skew_log WHERE device='dev-0003'")" 0 "no skew log for a slow clock"
t_eq "$(t_sql "$GS_DB" "SELECT acked_seq FROM device WHERE id='dev-0003'")" 1 "slow phone's change acked"
t_eq "$(t_sql "$GS_DB" "PRAGMA integrity_check")" ok "store integrity"
t_done
