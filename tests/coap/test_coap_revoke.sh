#!/usr/bin/env bash
# Revocation without a restart: after `gs-certs revoke` + `gs-certs crl` the
# collector reloads crl.pem (mtime check every 2 s) and refuses the revoked
# device at the DTLS handshake while other devices go on. A corrupt CRL makes
# every handshake fail (fail closed) until a good one is back; a missing CRL
# at start stops the collector from starting.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/coap/coap_lib.sh"
t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 1 --households 3"
c_device dev-0201 g-0001
c_device dev-0202 g-0001
H=$(c_household g-0001)
PID=$(c_collector_pid)
echo '{"v":1,"since":0,"limit":1}' > "$T_DIR/pull.json"

c_req "$T_DIR/a0" dev-0201 post /v1/pull -t 50 -f "$T_DIR/pull.json"
t_eq "$(c_code "$T_DIR/a0")" ok "dev-0201 syncs before the revocation"

gs-certs --pki "$GS_PKI" revoke dev-0201 >/dev/null 2>&1 || t_die "gs-certs revoke failed"
gs-certs --pki "$GS_PKI" crl >/dev/null 2>&1 || t_die "gs-certs crl failed"
t0=$(date +%s%N)
refused() {
  c_req "$T_DIR/a1" dev-0201 post /v1/pull -t 50 -f "$T_DIR/pull.json"
  grep -qi "certificate revoked" "$T_DIR/a1.err"
}
t_wait 15 "dev-0201 refused at the handshake" refused && t_pass "revoked certificate refused at the handshake (certificate revoked alert)"
echo "measured: revocation effective $((($(date +%s%N) - t0) / 1000000)) ms after gs-certs crl" >&2
grep -q "certificate revoked: 'dev-0201' depth=0" "$GS_DEVSTACK_DIR/collector.log" && t_pass "collector logs the revoked CN" || t_fail "no log line for dev-0201"
c_batch "$T_DIR/rb.json" --batch b-r --prefix rev --n 1 --seq 1 --grid g-0001 --household "$H"
c_req "$T_DIR/a2" dev-0201 post /v1/up -t 50 -f "$T_DIR/rb.json"
t_eq "$(c_changes rev)" 0 "nothing stored from the revoked device"
t_eq "$(c_collector_pid)" "$PID" "no collector restart"
c_req "$T_DIR/b0" dev-0202 post /v1/up -t 50 -f "$T_DIR/rb.json"
t_eq "$(c_json "$T_DIR/b0" 'd["applied"]')" 1 "another device still syncs"

# --- a corrupt CRL: fail closed, then recover ---
cp "$GS_PKI/crl.pem" "$T_DIR/crl.good"
echo "garbage" > "$GS_PKI/crl.pem"
closed() {
  c_req "$T_DIR/b1" dev-0202 post /v1/pull -t 50 -f "$T_DIR/pull.json"
  [ "$(c_code "$T_DIR/b1")" = none ]
}
t_wait 15 "handshakes refused with a corrupt CRL" closed && t_pass "corrupt CRL: every handshake refused (fail closed)"
grep -q "holds no CRL" "$GS_DEVSTACK_DIR/collector.log" && t_pass "the corrupt CRL is logged" || t_fail "no log line for the corrupt CRL"
gs-certs --pki "$GS_PKI" crl >/dev/null 2>&1 || t_die "gs-certs crl failed"
open_again() {
  c_req "$T_DIR/b2" dev-0202 post /v1/pull -t 50 -f "$T_DIR/pull.json"
  [ "$(c_code "$T_DIR/b2")" = ok ]
}
t_wait 15 "handshakes accepted with a good CRL again" open_again && t_pass "a good CRL restores service without a restart"
t_eq "$(c_collector_pid)" "$PID" "still the same collector process"

# --- missing CRL at start: the collector refuses to start ---
sed -e "s|^crlfile = .*|crlfile = $T_DIR/missing-crl.pem|" -e "s|^port = $GS_COAP_PORT|port = $(t_free_port)|" \
  "$GS_DEVSTACK_DIR/collector.conf" > "$T_DIR/nocrl.conf"
rc=0
timeout 30 gs-collector -c "$T_DIR/nocrl.conf" > "$T_DIR/nocrl.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && t_pass "collector exits ($rc) when the CRL is missing" || t_fail "collector with a missing CRL: rc $rc"
grep -q "cannot read CRL file" "$T_DIR/nocrl.log" && t_pass "the missing CRL is named in the log" || t_fail "log: $(tail -3 "$T_DIR/nocrl.log")"
t_done
