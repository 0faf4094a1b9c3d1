#!/usr/bin/env bash
# CoAP over DTLS end to end with coap-client-openssl as the device: push/ack,
# re-sent batch acked as duplicates, pull; handshake refused without a client
# certificate, with a certificate of another CA and for an unregistered
# device (nothing stored); Block1 request body (300 changes) and Block2 pull
# page; 4.15 for other content formats; 4.13 over max_body_bytes; GET and
# Observe of /v1/status/{org}; 4.04 for an unknown org.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/coap/coap_lib.sh"
t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 2 --households 10"
c_device dev-0101 g-0001
H=$(c_household g-0001)
[ -n "$H" ] || t_die "no household in g-0001"

# --- push, ack after commit, duplicate, pull ---
c_batch "$T_DIR/b1.json" --batch b-1 --prefix rt --n 2 --seq 1 --grid g-0001 --household "$H"
c_req "$T_DIR/up1" dev-0101 post /v1/up -t 50 -f "$T_DIR/b1.json"
t_eq "$(c_code "$T_DIR/up1")" ok "POST /v1/up answered with a body (2.04)"
t_eq "$(c_json "$T_DIR/up1" 'd["applied"], d["duplicates"], d["acked_seq"], d["batch"]')" "(2, 0, 2, 'b-1')" "ack: 2 applied, acked_seq 2"
t_eq "$(c_changes rt)" 2 "both changes committed"
c_req "$T_DIR/up2" dev-0101 post /v1/up -t 50 -f "$T_DIR/b1.json"
t_eq "$(c_json "$T_DIR/up2" 'd["applied"], d["duplicates"]')" "(0, 2)" "the same batch again is acked as duplicates"
t_eq "$(c_changes rt)" 2 "no change recorded twice"
echo '{"v":1,"since":0,"limit":500}' > "$T_DIR/pull0.json"
c_req "$T_DIR/pull1" dev-0101 post /v1/pull -t 50 -f "$T_DIR/pull0.json"
t_eq "$(c_json "$T_DIR/pull1" 'sum(1 for e in d["entities"] if e["type"]=="visit"), sum(1 for e in d["entities"] if e["type"]=="household"), d["more"]')" \
  "(2, 10, False)" "pull returns the grid's 10 households and the 2 new visits"

# --- refused handshakes: nothing stored ---
c_batch "$T_DIR/bx.json" --batch b-x --prefix nope --n 1 --seq 100 --grid g-0001 --household "$H"
c_req "$T_DIR/nocert" none post /v1/up -t 50 -f "$T_DIR/bx.json"
grep -qi "handshake failure" "$T_DIR/nocert.err" && t_pass "no client certificate: handshake fails" || t_fail "no cert: $(cat "$T_DIR/nocert.err")"
gs-certs --pki "$T_DIR/other" init --cn "gridsync devstack CA" >/dev/null 2>&1 # same subject, other key
gs-certs --pki "$T_DIR/other" issue dev-0101 >/dev/null 2>&1
c_req "$T_DIR/othca" "$T_DIR/other/dev-0101" post /v1/up -t 50 -f "$T_DIR/bx.json"
grep -qiE "unknown ca|certificate verify|decrypt error|bad certificate" "$T_DIR/othca.err" && t_pass "certificate of another CA with the same name: handshake fails" ||
  t_fail "other CA: $(cat "$T_DIR/othca.err")"
gs-certs --pki "$GS_PKI" issue dev-0999 >/dev/null 2>&1 # our CA, but not registered
c_req "$T_DIR/unreg" dev-0999 post /v1/up -t 50 -f "$T_DIR/bx.json"
t_eq "$(c_code "$T_DIR/unreg")" none "unregistered device: no response"
grep -q "dev-0999 is not registered or disabled" "$GS_DEVSTACK_DIR/collector.log" && t_pass "unregistered device refused at the handshake" || t_fail "no refusal logged for dev-0999"
t_eq "$(c_changes nope)" 0 "nothing stored from refused handshakes"

# --- content format ---
c_req "$T_DIR/cf" dev-0101 post /v1/up -t 0 -f "$T_DIR/bx.json"
t_eq "$(c_code "$T_DIR/cf")" 4.15 "text/plain body refused with 4.15"
c_req "$T_DIR/cf2" dev-0101 post /v1/up -f "$T_DIR/bx.json"
t_eq "$(c_code "$T_DIR/cf2")" 4.15 "body without Content-Format refused with 4.15"
t_eq "$(c_changes nope)" 0 "nothing stored from refused formats"

# --- Block1: a 300-change batch; Block2: a large pull page ---
c_batch "$T_DIR/big.json" --batch b-big --prefix big --n 300 --seq 3 --grid g-0001 --household "$H" --pad 120
BYTES=$(wc -c < "$T_DIR/big.json")
t0=$(date +%s%N)
c_req "$T_DIR/big" dev-0101 post /v1/up -t 50 -f "$T_DIR/big.json"
ms=$((($(date +%s%N) - t0) / 1000000))
t_eq "$(c_json "$T_DIR/big" 'd["applied"], d["acked_seq"]')" "(300, 302)" "300-change batch of $BYTES bytes applied (Block1)"
t_eq "$(c_changes big)" 300 "300 changes committed once"
echo "measured: POST /v1/up of $BYTES bytes (300 changes, Block1) in $ms ms" >&2
t0=$(date +%s%N)
c_req "$T_DIR/pull2" dev-0101 post /v1/pull -t 50 -f "$T_DIR/pull0.json"
ms=$((($(date +%s%N) - t0) / 1000000))
PBYTES=$(wc -c < "$T_DIR/pull2")
t_eq "$(c_json "$T_DIR/pull2" 'len(d["entities"]), d["more"]')" "(312, False)" "pull page of $PBYTES bytes complete (Block2)"
[ "$PBYTES" -gt 10000 ] && t_pass "the page spans many blocks" || t_fail "page only $PBYTES bytes"
echo "measured: POST /v1/pull page of $PBYTES bytes (312 entities, Block2) in $ms ms" >&2

# --- 4.13 over max_body_bytes (reloaded with SIGHUP, no restart) ---
c_set_coap max_body_bytes 16384
c_batch "$T_DIR/over.json" --batch b-over --prefix over --n 300 --seq 303 --grid g-0001 --household "$H" --pad 120
c_req "$T_DIR/over" dev-0101 post /v1/up -t 50 -f "$T_DIR/over.json"
t_eq "$(c_code "$T_DIR/over")" 4.13 "body over max_body_bytes refused with 4.13"
t_eq "$(c_changes over)" 0 "nothing of the oversized batch stored"
c_req "$T_DIR/small" dev-0101 post /v1/up -t 50 -f "$T_DIR/bx.json"
t_eq "$(c_json "$T_DIR/small" 'd["applied"]')" 1 "a small batch still goes through"

# --- status: GET, Observe, unknown org ---
c_req "$T_DIR/st" dev-0101 get /v1/status/g-0001
t_eq "$(c_json "$T_DIR/st" 'd["org"], d["households"]')" "('g-0001', 10)" "GET /v1/status/g-0001"
c_req "$T_DIR/st404" dev-0101 get /v1/status/g-9999
t_eq "$(c_code "$T_DIR/st404")" 4.04 "unknown org: 4.04"
# the status document follows commits within its debounce (1 s): wait until it
# shows every visit committed so far, so the observer's first notification is
# not an older document that the next one overtakes by several batches
want_today=$(t_sql "$GS_DB" "SELECT visits FROM org_day WHERE org='g-0001' ORDER BY day DESC LIMIT 1")
status_current() { C_WAIT=5 c_req "$T_DIR/stc" dev-0101 get /v1/status/g-0001; [ "$(c_json "$T_DIR/stc" 'd["visits_today"]')" = "$want_today" ]; }
t_wait 20 "status document shows the $want_today visits committed today" status_current
C_STREAM=1 C_WAIT=12 c_req "$T_DIR/obs" dev-0101 get /v1/status/g-0001 -s 10 -w &
OBS=$!
t_wait 10 "first observe notification" bash -c "grep -q visits_today '$T_DIR/obs'"
V0=$(head -1 "$T_DIR/obs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["visits_today"])')
c_batch "$T_DIR/b2.json" --batch b-2 --prefix obs --n 1 --seq 400 --grid g-0001 --household "$H"
c_req "$T_DIR/up3" dev-0101 post /v1/up -t 50 -f "$T_DIR/b2.json"
t_wait 10 "a notification after the commit" bash -c "[ \$(grep -c visits_today '$T_DIR/obs') -ge 2 ]"
V1=$(grep visits_today "$T_DIR/obs" | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["visits_today"])')
t_eq "$V1" "$((V0 + 1))" "observer notified of the new visit (visits_today $V0 -> $V1)"
wait "$OBS" 2>/dev/null || true
kill -0 "$(c_collector_pid)" && t_pass "collector still running" || t_fail "collector died"
t_done
