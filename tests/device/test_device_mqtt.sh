# test_device_mqtt.sh - gs-device sync over real mosquitto (mutual TLS) against
# a scripted collector stand-in: push/ack trims the outbox, pull merges pages,
# resend after a lost ack reuses batch and change ids, rejections are kept,
# too_large splits, an unreachable broker loses nothing.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/device/dev_lib.sh"

PKI=$T_DIR/pki
dev_pki "$PKI" dev-a dev-b collector
PORT=$(t_free_port)
dev_broker_start "$PKI" "$PORT"
A=$T_DIR/a
dev_init "$A" dev-a "$PKI" "$PORT" || t_die "init dev-a"

# --- 1. push, ack, pull -------------------------------------------------------
H='hh-0001'
cat > "$T_DIR/page.json" <<JSON
[{"type":"household","id":"$H","rev":1,"fields":{"grid":"g-1","address":"幸福路8号","members":3},
  "ver":{"grid":[1700000000000,0,"dev-z"],"address":[1700000000000,0,"dev-z"],"members":[1700000000000,0,"dev-z"]}}]
JSON
dev_fake_start "$PKI" "$PORT" normal
V1=$(gs-device --home "$A" visit add --grid g-1 --household "$H" summary="入户走访，老人身体状况良好")
gs-device --home "$A" set household "$H" members=4 > /dev/null
t_eq "$(dev_status "$A" outbox)" 2 "two changes pending before sync"
out=$(gs-device --home "$A" sync --timeout 20) || t_fail "sync 1 exited non-zero: $out"
t_eq "$out" "pushed 2, applied 2, duplicates 0, rejected 0, conflicts 0, pulled 1 entities" "sync 1 summary"
t_eq "$(dev_status "$A" outbox)" 0 "outbox empty after ack"
t_eq "$(dev_status "$A" acked_seq)" 2 "acked_seq 2"
t_eq "$(dev_status "$A" cursor)" 1 "cursor = next of the page"
t_eq "$(wc -l < "$T_DIR/up.log")" 1 "one batch published"
t_eq "$(jq -r '.changes|map(.seq)|join(",")' < "$T_DIR/up.log")" "1,2" "batch carries seq 1,2 in order"
t_eq "$(jq -r '.batch' < "$T_DIR/up.log")" "b-1-$(jq -r '.batch' < "$T_DIR/up.log" | cut -d- -f3)" "batch id b-<first seq>-<random>"
t_eq "$(jq -r '.changes[1].base|length' < "$T_DIR/up.log")" 0 "edit of a never-pulled household has no base"
# The local edit (members=4, newer hlc) beats the pulled older value; address comes from the page.
show=$(gs-device --home "$A" show household "$H")
t_eq "$(jq -r .fields.members <<<"$show")" 4 "local newer edit survives the pull"
t_eq "$(jq -r .fields.address <<<"$show")" "幸福路8号" "pulled field merged"
t_eq "$(jq -r .rev <<<"$show")" 1 "server rev stored"
t_eq "$(jq -r '.ver.members[2]' <<<"$show")" dev-a "members version is ours"
t_eq "$(gs-device --home "$A" show visit "$V1" | jq -r .fields.summary)" "入户走访，老人身体状况良好" "visit kept"
# Next edit carries the version it had as base.
gs-device --home "$A" set household "$H" address="幸福路9号" > /dev/null
gs-device --home "$A" sync --timeout 20 > /dev/null || t_fail "sync 2"
t_eq "$(tail -n 1 "$T_DIR/up.log" | jq -c '.changes[0].base.address')" '[1700000000000,0,"dev-z"]' "base = pulled version"
t_eq "$(jq -r .since "$T_DIR/pull.log" | tail -n 1)" 1 "second pull starts at the cursor"
dev_fake_stop

# --- 2. lost ack: the resend reuses the batch id and the bytes ----------------
dev_fake_start "$PKI" "$PORT" drop1
gs-device --home "$A" report add --grid g-1 --category safety_hazard --title "楼道堆放杂物" > /dev/null
out=$(gs-device --home "$A" sync --timeout 20 --request-timeout 2) || t_fail "sync after a lost ack: $out"
t_eq "$(wc -l < "$T_DIR/up.log")" 2 "batch sent twice"
t_eq "$(sed -n 1p "$T_DIR/up.log")" "$(sed -n 2p "$T_DIR/up.log")" "resend is byte-identical (same batch id and change ids)"
t_eq "$(dev_status "$A" outbox)" 0 "outbox empty after the resend was acked"
dev_fake_stop

# --- 2b. kill -9 while waiting for the ack: the next sync resends the same batch
dev_fake_start "$PKI" "$PORT" drop1
gs-device --home "$A" visit add --grid g-1 --household "$H" summary="复查" > /dev/null
gs-device --home "$A" sync --timeout 60 > /dev/null 2>&1 &
SYNC_PID=$!
T_PIDS+=("$SYNC_PID")
t_wait 20 "the batch reached the stand-in" test -s "$T_DIR/up.log"
kill -9 "$SYNC_PID"; wait "$SYNC_PID" 2>/dev/null || true
t_eq "$(dev_status "$A" outbox)" 1 "change still in the outbox after kill -9"
out=$(gs-device --home "$A" sync --timeout 20) || t_fail "sync after kill -9: $out"
t_eq "$(sed -n 2p "$T_DIR/up.log")" "$(sed -n 1p "$T_DIR/up.log")" "after a crash the same batch (id, changes) is resent"
t_eq "$(dev_status "$A" outbox)" 0 "acked after the restart"
dev_fake_stop

# --- 3. per-change rejection -------------------------------------------------
dev_fake_start "$PKI" "$PORT" reject1
R9=$(gs-device --home "$A" household add --grid g-9 --address "别的网格")
gs-device --home "$A" household add --grid g-1 --address "幸福路10号" > /dev/null
hlc_before=$(dev_status "$A" hlc)
out=$(gs-device --home "$A" sync --timeout 20 2>"$T_DIR/sync3.err") || t_fail "sync 3: $out"
# The rejection resets the cursor: the device pulls everything again.
t_eq "$out" "pushed 2, applied 1, duplicates 0, rejected 1, conflicts 0, pulled 1 entities" "sync 3 summary"
gs-device --home "$A" show household "$R9" > /dev/null 2>&1 && t_fail "rejected household still shown" || t_pass "rejected creation undone locally"
t_eq "$(jq -r .since "$T_DIR/pull.log" | tail -n 1)" 0 "pull restarted from 0 after a rejection"
t_eq "$(dev_status "$A" rejected)" 1 "one change in the rejected table"
gs-device --home "$A" rejected > "$T_DIR/rejected.txt"
grep -q "forbidden_grid grid not assigned" "$T_DIR/rejected.txt" && t_pass "rejected lists error and detail" || t_fail "rejected output: $(cat "$T_DIR/rejected.txt")"
grep -q "rejected" "$T_DIR/sync3.err" && t_pass "sync tells the user about rejections" || t_fail "no rejection notice"
# ack hlc was a minute ahead: the device clock merged it.
hlc_after=$(dev_status "$A" hlc)
ms_after=$(tr -d '[]' <<<"$hlc_after" | cut -d, -f1)
[ "$ms_after" -gt $(( $(date +%s%3N) + 30000 )) ] && t_pass "ack hlc merged into the device HLC" || t_fail "hlc not merged: $hlc_before -> $hlc_after"
dev_fake_stop

# --- 4. too_large: split in halves -------------------------------------------
dev_fake_start "$PKI" "$PORT" toolarge
for i in 1 2 3 4 5; do gs-device --home "$A" household add --grid g-1 --address "路$i号" > /dev/null; done
out=$(gs-device --home "$A" sync --timeout 20 2>/dev/null) || t_fail "sync 4: $out"
t_eq "$(dev_status "$A" outbox)" 0 "all five pushed after splitting"
t_eq "$(jq -r '.changes|length' < "$T_DIR/up.log" | tr '\n' ' ')" "5 2 2 1 " "batches 5 -> 2,2,1"
ids=$(jq -r '.changes[].id' < "$T_DIR/up.log" | sort | uniq | wc -l)
t_eq "$ids" 5 "same five change ids throughout"
dev_fake_stop

# --- 5. broker down: sync fails clearly, nothing lost; later succeeds ---------
gs-device --home "$A" household add --grid g-1 --address "离线路1号" > /dev/null
dev_broker_stop
if out=$(gs-device --home "$A" sync --timeout 3 2>"$T_DIR/sync5.err"); then
  t_fail "sync with the broker down exited 0"
else
  t_pass "sync with the broker down exits non-zero"
fi
grep -q "nothing is lost" "$T_DIR/sync5.err" && t_pass "clear message: $(cat "$T_DIR/sync5.err")" || t_fail "message: $(cat "$T_DIR/sync5.err")"
t_eq "$(dev_status "$A" outbox)" 1 "change still pending"
dev_broker_start "$PKI" "$PORT"
dev_fake_start "$PKI" "$PORT" normal
gs-device --home "$A" sync --timeout 20 > /dev/null || t_fail "sync after the broker is back"
t_eq "$(dev_status "$A" outbox)" 0 "pending change pushed once the broker is back"

# --- 6. a device certificate from another CA is refused -----------------------
dev_pki "$T_DIR/other" dev-b
B=$T_DIR/b
gs-device --home "$B" init --id dev-b --ca "$PKI/ca.crt" --cert "$T_DIR/other/dev-b.crt" \
  --key "$T_DIR/other/dev-b.key" --host 127.0.0.1 --mqtt-port "$PORT" > /dev/null
gs-device --home "$B" household add --grid g-1 --address x > /dev/null
if gs-device --home "$B" sync --timeout 3 > /dev/null 2>"$T_DIR/sync6.err"; then
  t_fail "sync with an unknown CA cert succeeded"
else
  t_pass "sync with a foreign certificate fails: $(cat "$T_DIR/sync6.err")"
fi
t_eq "$(dev_status "$B" outbox)" 1 "its change stays pending"
t_done
