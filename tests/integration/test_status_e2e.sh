#!/usr/bin/env bash
# After devices sync, the retained status of their grid and of every ancestor
# carries the expected numbers; gs-admin status and --recount agree.
. "$GS_SRC/tests/lib/gs_test.sh"
t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 2 --households 10"
gs-certs --pki "$GS_PKI" issue-service bridge-test >/dev/null 2>&1 || t_die "issue-service bridge-test"

# status JSON of ORG, retained on the broker
status_of() {
  mosquitto_sub -h 127.0.0.1 -p "$GS_MQTT_PORT" --cafile "$GS_CA" --cert "$GS_PKI/bridge-test.crt" \
    --key "$GS_PKI/bridge-test.key" -i bridge-test -t "gs/v1/status/$1" -C 1 -W 5 2>/dev/null
}
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
# status_is ORG PYEXPR VALUE: the retained doc of ORG has that value
status_is() { [ "$(status_of "$1" | field "$2")" = "$3" ]; }

t_wait 20 "retained city status with 20 households" status_is c-demo '["households"]' 20
DOC=$(status_of c-demo)
t_eq "$(echo "$DOC" | field '["level"]')/$(echo "$DOC" | field '["name"]')/$(echo "$DOC" | field '["parent"]')" "city/示范市/None" "city document names its level and Chinese name"
t_eq "$(status_of g-0002 | field '["parent"]')" "cm-0101" "a grid's document names its parent"

A=$(t_device dev-0001 g-0001)
t_dev "$A" sync --timeout 20 >/dev/null || t_fail "initial sync"
H1=$(t_dev "$A" list household | sed -n 1p | cut -f1)
H2=$(t_dev "$A" list household | sed -n 2p | cut -f1)
t_dev "$A" visit add --grid g-0001 --household "$H1" >/dev/null
t_dev "$A" visit add --grid g-0001 --household "$H1" kind=follow_up >/dev/null
t_dev "$A" visit add --grid g-0001 --household "$H2" >/dev/null
t_dev "$A" report add --grid g-0001 --category safety_hazard --title "电动车楼道充电" --urgency high >/dev/null
t_dev "$A" report add --grid g-0001 --category dispute --title "邻里噪音纠纷" --urgency low due_at=1000 >/dev/null
t_dev "$A" sync --timeout 20 >/dev/null || t_fail "sync"

t_wait 15 "grid g-0001 shows the visits" status_is g-0001 '["visits_today"]' 3
G=$(status_of g-0001)
t_eq "$(echo "$G" | field '["visited_period"]')" 2 "two distinct households visited this period"
t_eq "$(echo "$G" | field '["reports_open"]')" 2 "two open reports"
t_eq "$(echo "$G" | field '["reports_by_urgency"]["high"]')/$(echo "$G" | field '["reports_by_urgency"]["low"]')" "1/1" "by urgency"
t_wait 15 "device counted active" status_is g-0001 '["devices_active_24h"]' 1
for org in cm-0101 s-01 d-01 c-demo; do
  t_wait 10 "$org sums its children" status_is "$org" '["visits_today"]' 3
  D=$(status_of "$org")
  t_eq "$(echo "$D" | field '["visited_period"]')/$(echo "$D" | field '["reports_open"]')/$(echo "$D" | field '["households"]')" "2/2/20" "$org: visited/open/households"
done
t_eq "$(status_of g-0002 | field '["visits_today"]')" 0 "the other grid is untouched"
# the report due at 1970 is overdue once the timer refreshed (refresh also runs at start; force via SIGHUP? no: poll)
t_wait 90 "overdue report counted" status_is g-0001 '["reports_overdue"]' 1

gs-admin --db "$GS_DB" status c-demo --tree > "$T_DIR/table.txt" || t_fail "gs-admin status"
grep -q "g-0001" "$T_DIR/table.txt" && grep -q "示范市" "$T_DIR/table.txt" && t_pass "gs-admin status --tree prints the tree" || t_fail "table: $(cat "$T_DIR/table.txt")"
gs-admin --db "$GS_DB" status --recount | t_has "identical" && t_pass "recount equals the incremental numbers" || t_fail "recount differed"
gs-admin --db "$GS_DB" export visits --format csv --org cm-0101 --bom 2> /dev/null > "$T_DIR/visits.csv"
t_eq "$(head -c 3 "$T_DIR/visits.csv" | od -An -tx1 | tr -d ' ')" "efbbbf" "CSV export starts with a BOM for Excel"
t_eq "$(($(wc -l < "$T_DIR/visits.csv") - 1))" 3 "CSV export has the three visits"
t_done
