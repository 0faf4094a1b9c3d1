#!/usr/bin/env bash
# Push, ack, pull round trip through the real broker; re-sent batches are
# duplicates, not double writes; two devices editing one household offline
# converge and log a conflict. (issue: MQTT end to end)
. "$GS_SRC/tests/lib/gs_test.sh"
t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 2 --households 10"

A=$(t_device dev-0001 g-0001)
B=$(t_device dev-0002 g-0001,g-0002)

# --- round trip ---
t_dev "$A" sync --timeout 20 > "$T_DIR/a0.out" || t_fail "first sync of dev-0001"
t_eq "$(t_dev "$A" list household | wc -l)" 10 "a new phone pulls its grid's 10 households"
H=$(t_dev "$A" list household | head -1 | cut -f1)
t_dev "$A" visit add --grid g-0001 --household "$H" summary="入户走访，独居老人身体良好" duration=25 >/dev/null
t_dev "$A" report add --grid g-0001 --category safety_hazard --title "楼道堆放杂物" --urgency high >/dev/null
t_dev "$A" sync --timeout 20 > "$T_DIR/a1.out" || t_fail "sync of dev-0001 edits"
grep -q "pushed 2, applied 2" "$T_DIR/a1.out" && t_pass "two edits pushed and applied" || t_fail "ack: $(cat "$T_DIR/a1.out")"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM entity WHERE type IN ('visit','report')")" 2 "store holds the visit and the report"
t_eq "$(t_sql "$GS_DB" "SELECT json_extract(fields,'\$.summary') FROM entity WHERE type='visit'")" "入户走访，独居老人身体良好" "Chinese text stored intact"
t_eq "$(t_dev "$A" status | sed -n 's/^outbox //p')" 0 "outbox empty after the ack"

# --- the same batch twice with a standard client: duplicates, not double writes ---
NOW=$(( $(date +%s) * 1000 ))
BATCH='{"v":1,"batch":"b-dup-1","changes":[{"id":"dup-change-1","seq":100,"type":"visit","entity":"dup-visit-1","hlc":['$NOW',0],"set":{"grid":"g-0001","household":"'$H'","visited_at":'$NOW',"kind":"routine"}}]}'
t_rr_as dev-0001 gs/v1/dev/dev-0001/up gs/v1/dev/dev-0001/ack "$BATCH" > "$T_DIR/ack1" || t_fail "no ack for the first copy"
t_rr_as dev-0001 gs/v1/dev/dev-0001/up gs/v1/dev/dev-0001/ack "$BATCH" >> "$T_DIR/ack1" || t_fail "no ack for the second copy"
grep -q '"applied":1' "$T_DIR/ack1" && t_pass "first copy applied" || t_fail "first ack: $(cat "$T_DIR/ack1")"
grep -q '"duplicates":1' "$T_DIR/ack1" && t_pass "second copy acked as duplicate" || t_fail "second ack: $(cat "$T_DIR/ack1")"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM change WHERE id='dup-change-1'")" 1 "change recorded once"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM entity WHERE id='dup-visit-1'")" 1 "the visit stored once"

# --- two phones edit one household offline ---
t_dev "$B" sync --timeout 20 >/dev/null || t_fail "first sync of dev-0002"
t_dev "$A" set household "$H" members=4 note="长期独居" >/dev/null
t_dev "$B" set household "$H" members=6 >/dev/null
t_dev "$B" sync --timeout 20 > "$T_DIR/b1.out" || t_fail "sync B"
t_dev "$A" sync --timeout 20 > "$T_DIR/a2.out" || t_fail "sync A"
grep -q "conflicts 1" "$T_DIR/a2.out" && t_pass "the later ack reports the conflict" || t_fail "A ack: $(cat "$T_DIR/a2.out")"
t_dev "$B" sync --timeout 20 >/dev/null || t_fail "sync B again"
MA=$(t_dev "$A" show household "$H" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fields"]["members"])')
MB=$(t_dev "$B" show household "$H" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fields"]["members"])')
MS=$(t_sql "$GS_DB" "SELECT json_extract(fields,'\$.members') FROM entity WHERE id='$H'")
t_eq "$MA/$MB" "$MS/$MS" "both phones converge on the server's value"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM conflict WHERE entity='$H' AND field='members'")" 1 "conflict logged once"
gs-admin --db "$GS_DB" conflicts | t_has "field members" && t_pass "gs-admin conflicts lists it" || t_fail "gs-admin conflicts"
t_done
