# test_device_cli.sh - gs-device without a network: init, edits, queries, and
# bad input that must fail with one clear line and write nothing.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/device/dev_lib.sh"

PKI=$T_DIR/pki
dev_pki "$PKI" dev-a
H=$T_DIR/home
gs-device --home "$H" init --id dev-a --ca "$PKI/ca.crt" --cert "$PKI/dev-a.crt" \
  --key "$PKI/dev-a.key" --host 127.0.0.1 --mqtt-port 8883 --coap-port 5684 > "$T_DIR/init.out" ||
  t_die "init failed"
t_eq "$(cat "$T_DIR/init.out")" "initialised device dev-a in $H" "init message"
t_eq "$(stat -c %a "$H/device.key")" 600 "key copied with mode 0600"
grep -q '^port=5684' "$H/device.conf" && t_pass "coap port stored" || t_fail "coap port missing"
t_eq "$(dev_status "$H" device)" dev-a "status shows the id"

# Bundle init.
B=$T_DIR/bundle
mkdir -p "$B"
cp "$PKI/ca.crt" "$B/ca.crt"; cp "$PKI/dev-a.crt" "$B/device.crt"; cp "$PKI/dev-a.key" "$B/device.key"
printf '[device]\nid=dev-a\n\n[mqtt]\nhost=mqtt.example\nport=8884\n\n[coap]\nhost=mqtt.example\nport=5685\n' > "$B/device.conf"
gs-device --home "$T_DIR/home2" init --bundle "$B" > /dev/null || t_fail "init --bundle"
grep -q '^host=mqtt.example' "$T_DIR/home2/device.conf" && t_pass "bundle host stored" || t_fail "bundle host"

# Edits.
hh=$(gs-device --home "$H" household add --grid g-0307 --address "人民路12号3栋" members=4 \
  tags='["elderly_alone"]' gps='[31.2,121.4]' phone='"13800138000"')
[[ $hh =~ ^[0-9a-f-]{36}$ ]] && t_pass "household add prints a uuid" || t_fail "household id '$hh'"
show=$(gs-device --home "$H" show household "$hh")
t_eq "$(jq -c .fields.tags <<<"$show")" '["elderly_alone"]' "JSON array value"
t_eq "$(jq -c .fields.gps <<<"$show")" '[31.2,121.4]' "gps value"
t_eq "$(jq -r '.fields.members|type' <<<"$show")" number "number value"
t_eq "$(jq -r '.fields.phone|type' <<<"$show")" string "quoted JSON string stays a string"
t_eq "$(jq -r .fields.address <<<"$show")" "人民路12号3栋" "Chinese address"
t_eq "$(jq -r '.ver.members[2]' <<<"$show")" dev-a "version carries the device id"
v=$(gs-device --home "$H" visit add --grid g-0307 --household "$hh" summary="入户走访")
t_eq "$(gs-device --home "$H" show visit "$v" | jq -r .fields.kind)" routine "visit kind defaults to routine"
now=$(date +%s%3N)
at=$(gs-device --home "$H" show visit "$v" | jq -r .fields.visited_at)
[ $(( now - at )) -lt 60000 ] && [ $(( now - at )) -gt -60000 ] && t_pass "visited_at defaults to now" || t_fail "visited_at $at vs $now"
r=$(gs-device --home "$H" report add --grid g-0307 --category dispute --title "邻里纠纷" --urgency high)
t_eq "$(gs-device --home "$H" show report "$r" | jq -c '[.fields.urgency,.fields.status]')" '["high","open"]' "report fields"
gs-device --home "$H" set household "$hh" note=二楼 members=5 > /dev/null || t_fail "set existing"
t_eq "$(gs-device --home "$H" show household "$hh" | jq -r .fields.note)" "二楼" "plain string value"
t_eq "$(gs-device --home "$H" list household --grid g-0307 | cut -f1)" "$hh" "list by grid"
t_eq "$(gs-device --home "$H" list household --grid other | wc -l)" 0 "other grid is empty"
gs-device --home "$H" delete visit "$v" > /dev/null || t_fail "delete"
t_eq "$(gs-device --home "$H" list visit | wc -l)" 0 "deleted visit hidden from list"
t_eq "$(gs-device --home "$H" show visit "$v" | jq -r .fields._deleted)" true "delete sets _deleted"
t_eq "$(dev_status "$H" outbox)" 5 "five changes queued"
t_eq "$(dev_status "$H" next_seq)" 6 "seq counts from 1"
t_eq "$(sqlite3 "$H/device.db" 'select group_concat(seq) from (select seq from outbox order by seq)')" "1,2,3,4,5" "outbox in seq order"
t_eq "$(sqlite3 "$H/device.db" 'PRAGMA journal_mode')" wal "store in WAL mode"

# Bad input: exit non-zero, one line on stderr, nothing written.
before=$(sqlite3 "$H/device.db" 'select count(*) from outbox')
bad() {
  local what=$1; shift
  local rc=0
  gs-device --home "$H" "$@" > /dev/null 2> "$T_DIR/bad.err" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$(wc -l < "$T_DIR/bad.err")" -eq 1 ]; then
    t_pass "$what: $(cat "$T_DIR/bad.err")"
  else
    t_fail "$what: rc=$rc stderr=$(cat "$T_DIR/bad.err")"
  fi
}
bad "unknown type" set car color=red
bad "no fields" set household "$hh"
bad "new without grid" set household members=3
bad "bad field name" set household "$hh" Bad-Name=1
bad "missing =" household add --grid g-1 --address a junk
bad "missing required option" report add --grid g-1 --title t
bad "bad grid id" household add --grid 'g 1' --address a
bad "unknown option" visit add --grid g-1 --household x --color red
bad "unknown command" frobnicate
bad "show unknown id" show household nope
bad "delete unknown id" delete household nope
bad "bad timeout" sync --timeout abc
bad "reserved field" set household "$hh" _secret=1
t_eq "$(sqlite3 "$H/device.db" 'select count(*) from outbox')" "$before" "nothing written by bad input"
rc=0; gs-device --home "$T_DIR/nowhere" status 2> "$T_DIR/bad.err" || rc=$?
[ $rc -ne 0 ] && grep -q "init" "$T_DIR/bad.err" && t_pass "uninitialised home says to run init" || t_fail "uninit: $(cat "$T_DIR/bad.err")"
rc=0; gs-device --home "$H" init --id other-dev --ca "$PKI/ca.crt" --cert "$PKI/dev-a.crt" \
  --key "$PKI/dev-a.key" --host h --mqtt-port 1 2> "$T_DIR/bad.err" || rc=$?
[ $rc -ne 0 ] && t_pass "re-init with another id refused: $(cat "$T_DIR/bad.err")" || t_fail "re-init allowed"
t_eq "$(dev_status "$H" device)" dev-a "id unchanged after refused re-init"
rc=0; gs-device --home "$T_DIR/h3" init --id dev-c --ca /nonexistent --cert x --key y --host h --mqtt-port 1 2> "$T_DIR/bad.err" || rc=$?
[ $rc -ne 0 ] && [ ! -e "$T_DIR/h3/device.db" ] && t_pass "init with a missing file writes no store" || t_fail "init missing file rc=$rc"
t_eq "$(gs-device --home "$H" rejected | wc -l)" 0 "no rejected changes"
t_done
