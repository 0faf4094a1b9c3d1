# test_device_e2e.sh - gs-device and gs-sim against the real stack (gs-devstack:
# mosquitto with the project's config and plugin + gs-collector + SQLite):
# push/ack/pull round trip, two devices editing one household offline converge
# (with the conflict logged), idempotent resend of already-applied changes,
# forbidden grid rejected and undone locally, and a small gs-sim fleet.
. "$GS_SRC/tests/lib/gs_test.sh"
[ -x "$GS_BIN/gs-devstack" ] && [ -x "$GS_BIN/gs-collector" ] || t_die "gs-devstack/gs-collector not built"

t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 2 --households 6"
# mkdevice ID GRIDS: certificate + bundle + registration + device home in $T_DIR/ID
mkdevice() {
  gs-certs --pki "$GS_PKI" issue "$1" > /dev/null 2>&1 || t_die "gs-certs issue $1"
  gs-certs --pki "$GS_PKI" bundle "$1" --host 127.0.0.1 --mqtt-port "$GS_MQTT_PORT" \
    --out "$T_DIR/bundle-$1" > /dev/null 2>&1 || t_die "gs-certs bundle $1"
  gs-admin --db "$GS_DB" device add "$1" --grids "$2" > /dev/null || t_die "gs-admin device add $1"
  gs-device --home "$T_DIR/$1" init --bundle "$T_DIR/bundle-$1" > /dev/null || t_die "init $1"
}
st() { gs-device --home "$T_DIR/$1" status | awk -v k="$2" '$1 == k { print $2 }'; }
srv_fields() { t_sql "$GS_DB" "select fields from entity where type='$1' and id='$2'" | jq -S -c .; }

mkdevice e2e-a g-0001
mkdevice e2e-b g-0001

# --- round trip ----------------------------------------------------------------
out=$(gs-device --home "$T_DIR/e2e-a" sync --timeout 20) || t_fail "first sync: $out"
t_eq "$out" "pushed 0, applied 0, duplicates 0, rejected 0, conflicts 0, pulled 6 entities" "first sync pulls the grid's 6 households"
gs-device --home "$T_DIR/e2e-b" sync --timeout 20 > /dev/null || t_fail "first sync b"
H=$(gs-device --home "$T_DIR/e2e-a" list household --grid g-0001 | head -n 1 | cut -f1)
[ -n "$H" ] || t_die "no household pulled"
V=$(gs-device --home "$T_DIR/e2e-a" visit add --grid g-0001 --household "$H" summary="入户走访，老人身体状况良好" duration=20)
R=$(gs-device --home "$T_DIR/e2e-a" report add --grid g-0001 --category safety_hazard --title "楼道堆放杂物" --urgency high)
out=$(gs-device --home "$T_DIR/e2e-a" sync --timeout 20) || t_fail "push sync: $out"
t_eq "$(cut -d, -f1-3 <<<"$out")" "pushed 2, applied 2, duplicates 0" "visit and report applied"
t_eq "$(st e2e-a outbox)" 0 "outbox empty"
t_eq "$(st e2e-a acked_seq)" 2 "acked_seq 2"
t_eq "$(t_sql "$GS_DB" "select acked_seq from device where id='e2e-a'")" 2 "server watermark 2"
t_eq "$(srv_fields visit "$V" | jq -r .summary)" "入户走访，老人身体状况良好" "visit stored on the server"
t_eq "$(srv_fields report "$R" | jq -r .urgency)" high "report stored on the server"
# b pulls what a wrote.
gs-device --home "$T_DIR/e2e-b" sync --timeout 20 > /dev/null || t_fail "b pulls"
t_eq "$(gs-device --home "$T_DIR/e2e-b" show visit "$V" | jq -r .fields.duration)" 20 "b received a's visit"
t_eq "$(st e2e-b cursor)" "$(t_sql "$GS_DB" "select max(rev) from entity where grid='g-0001'")" "cursor = server rev"

# --- two devices edit one household offline ------------------------------------
gs-device --home "$T_DIR/e2e-a" set household "$H" members=7 note="老人独居" > /dev/null
gs-device --home "$T_DIR/e2e-b" set household "$H" members=8 phone='"13900000000"' > /dev/null
cp -a "$T_DIR/e2e-a" "$T_DIR/e2e-a-copy"   # the same outbox, to resend later
out_a=$(gs-device --home "$T_DIR/e2e-a" sync --timeout 20) || t_fail "a sync: $out_a"
out_b=$(gs-device --home "$T_DIR/e2e-b" sync --timeout 20) || t_fail "b sync: $out_b"
gs-device --home "$T_DIR/e2e-a" sync --timeout 20 > /dev/null || t_fail "a sync again"
t_eq "$(cut -d, -f5 <<<"$out_b")" " conflicts 1" "b's concurrent edit of members is a conflict"
fa=$(gs-device --home "$T_DIR/e2e-a" show household "$H" | jq -S -c .fields)
fb=$(gs-device --home "$T_DIR/e2e-b" show household "$H" | jq -S -c .fields)
t_eq "$fa" "$fb" "both devices converge"
t_eq "$fa" "$(srv_fields household "$H")" "devices equal the server state"
t_eq "$(jq -c '[.members,.note,.phone]' <<<"$fa")" '[8,"老人独居","13900000000"]' "per-field LWW: later members, both other fields"
t_eq "$(gs-device --home "$T_DIR/e2e-a" show household "$H" | jq -S -c .ver)" \
     "$(t_sql "$GS_DB" "select ver from entity where type='household' and id='$H'" | jq -S -c .)" "versions equal the server's"

# --- resend of applied changes is a duplicate ---------------------------------
out=$(gs-device --home "$T_DIR/e2e-a-copy" sync --timeout 20) || t_fail "copy sync: $out"
t_eq "$(cut -d, -f1-3 <<<"$out")" "pushed 1, applied 0, duplicates 1" "resend counted as duplicate, not re-applied"
t_eq "$(t_sql "$GS_DB" "select count(*) from change where device='e2e-a'")" 3 "server holds each change once"

# --- forbidden grid ------------------------------------------------------------
X=$(gs-device --home "$T_DIR/e2e-a" household add --grid g-0002 --address "越权地址")
out=$(gs-device --home "$T_DIR/e2e-a" sync --timeout 20 2>/dev/null) || t_fail "sync with a forbidden change: $out"
t_eq "$(cut -d, -f4 <<<"$out")" " rejected 1" "forbidden grid rejected"
gs-device --home "$T_DIR/e2e-a" rejected | t_has forbidden_grid && t_pass "rejected lists forbidden_grid" || t_fail "rejected list"
gs-device --home "$T_DIR/e2e-a" show household "$X" > /dev/null 2>&1 && t_fail "rejected household still local" || t_pass "rejected household undone locally"
t_eq "$(t_sql "$GS_DB" "select count(*) from entity where id='$X'")" 0 "not on the server"

# --- a device with a certificate but no registration ----------------------------
gs-certs --pki "$GS_PKI" issue ghost-1 > /dev/null 2>&1
gs-certs --pki "$GS_PKI" bundle ghost-1 --host 127.0.0.1 --mqtt-port "$GS_MQTT_PORT" --out "$T_DIR/bundle-ghost-1" > /dev/null 2>&1
gs-device --home "$T_DIR/ghost-1" init --bundle "$T_DIR/bundle-ghost-1" > /dev/null
gs-device --home "$T_DIR/ghost-1" household add --grid g-0001 --address x > /dev/null
if gs-device --home "$T_DIR/ghost-1" sync --timeout 10 > /dev/null 2> "$T_DIR/ghost.err"; then
  t_fail "unregistered device synced"
else
  grep -q "unknown_device" "$T_DIR/ghost.err" && t_pass "unregistered device: $(tail -n 1 "$T_DIR/ghost.err")" || t_fail "ghost: $(cat "$T_DIR/ghost.err")"
fi
t_eq "$(gs-device --home "$T_DIR/ghost-1" status | sed -n 's/^outbox //p')" 1 "its change stays in the outbox until an administrator registers it"

# --- a small fleet -------------------------------------------------------------
for d in sim-a sim-b sim-c; do
  gs-certs --pki "$GS_PKI" issue "$d" > /dev/null 2>&1
  gs-certs --pki "$GS_PKI" bundle "$d" --host 127.0.0.1 --mqtt-port "$GS_MQTT_PORT" --out "$T_DIR/bundle-$d" > /dev/null 2>&1
done
gs-admin --db "$GS_DB" device add sim-a --grids g-0001 > /dev/null
gs-admin --db "$GS_DB" device add sim-b --grids g-0001 > /dev/null
gs-admin --db "$GS_DB" device add sim-c --grids g-0001,g-0002 > /dev/null
printf 'sim-a,%s,g-0001\nsim-b,%s,g-0001\nsim-c,%s,g-0001;g-0002\n' \
  "$T_DIR/bundle-sim-a" "$T_DIR/bundle-sim-b" "$T_DIR/bundle-sim-c" > "$T_DIR/fleet.csv"
out=$(gs-sim --workdir "$T_DIR/fleet" --devices "$T_DIR/fleet.csv" --rounds 3 --edits-per-round 15 \
  --seed 3 --timeout 60 2>"$T_DIR/sim.err") || t_fail "gs-sim: $out $(cat "$T_DIR/sim.err")"
t_log "$out"
changes=$(sed -n 's/.* changes \([0-9]*\) .*/\1/p' <<<"$out")
t_eq "$(sed -n 's/.* acked \([0-9]*\) .*/\1/p' <<<"$out")" "$changes" "every simulated change acked"
t_eq "$(sed -n 's/.* rejected \([0-9]*\) .*/\1/p' <<<"$out")" 0 "no simulated change rejected (fields match schema/)"
t_eq "$(t_sql "$GS_DB" "select count(*) from change where device like 'sim-%' and status = 0")" "$changes" "server applied every simulated change once" ||
  t_log "change status counts: $(t_sql "$GS_DB" "select status, count(*) from change where device like 'sim-%' group by status")"
# After a final sync every fleet device holds the server's household state.
for d in sim-a sim-b; do gs-device --home "$T_DIR/fleet/$d" sync --timeout 20 > /dev/null || t_fail "final sync $d"; done
households() { gs-device --home "$1" list household --grid g-0001 | while IFS=$'\t' read -r id f; do echo "$id $(jq -S -c . <<<"$f")"; done; }
da=$(households "$T_DIR/fleet/sim-a")
db=$(households "$T_DIR/fleet/sim-b")
[ "$(wc -l <<<"$da")" -ge 6 ] && t_pass "fleet devices hold the grid's households" || t_fail "households: $da"
t_eq "$da" "$db" "fleet devices converge on g-0001 households"
t_done
