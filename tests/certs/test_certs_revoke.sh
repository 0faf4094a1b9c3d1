# test_certs_revoke.sh - revocation end to end: `gs-certs revoke X && gs-certs crl`
# cuts a connected device off without a broker restart (plugin kick), it is
# refused at reconnect (plugin before SIGHUP, TLS CRL check after SIGHUP), and
# other devices keep working.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/certs/broker_lib.sh"

b_pki_init
for d in dev-a dev-c; do gs-certs --pki "$PKI" issue "$d" 2>/dev/null; done
b_broker_start

# dev-c is connected and subscribed to its ack topic (readiness: its SUBACK).
csub="$T_DIR/dev-c.out"
stdbuf -oL mosquitto_sub $(b_tls dev-c) -i dev-c -q 1 -t gs/v1/dev/dev-c/ack -d > "$csub" 2>&1 &
CPID=$!
T_PIDS+=("$CPID")
t_wait 15 "dev-c subscribed" grep -q 'received SUBACK' "$csub" || t_die "dev-c never subscribed"

gs-certs --pki "$PKI" revoke dev-c --reason keyCompromise 2>/dev/null || t_fail "revoke"
gs-certs --pki "$PKI" crl 2>/dev/null || t_fail "crl"
openssl crl -in "$PKI/crl.pem" -CAfile "$PKI/ca.crt" -noout 2>&1 | t_has 'verify OK' \
  && t_pass "crl.pem verifies against ca.crt" || t_fail "crl.pem does not verify"
t0=$(date +%s)
cut() { ! kill -0 "$CPID" 2>/dev/null; }
if t_wait 90 "revoked dev-c's subscriber to be cut off" cut; then
  t_pass "connected revoked client cut off after $(( $(date +%s) - t0 ))s without a restart"
fi
grep -q "of dev-c revoked: disconnecting dev-c" "$T_DIR/mosquitto.log" && t_pass "plugin logged the kick" || t_fail "no kick logged"

# Before SIGHUP: the broker's TLS layer still has the old CRL; the plugin refuses.
rc=0; out=$(b_pub dev-c gs/v1/dev/dev-c/up after-revoke 2>&1) || rc=$?
t_eq "$(echo "$out" | grep -c 'not authorised')" 1 "revoked dev-c refused by the plugin before SIGHUP"

# After SIGHUP mosquitto 2.0.11 re-reads crlfile: refused during the handshake.
b_broker_reload
tls_refused() { ! b_pub dev-c gs/v1/dev/dev-c/up after-hup >/dev/null 2>&1 \
  && [ "$(grep -c 'certificate verify failed' "$T_DIR/mosquitto.log")" -gt 0 ]; }
t_wait 15 "TLS refusal of dev-c after SIGHUP" tls_refused && t_pass "revoked dev-c refused at the TLS handshake after SIGHUP"

# Everyone else still works after the reload.
col="$T_DIR/collector.out"
b_sub gs-collector "$col" 'gs/v1/dev/+/up'
probe_a() { b_pub dev-a gs/v1/dev/dev-a/up still-here >/dev/null 2>&1; grep -q 'dev-a/up still-here' "$col"; }
t_wait 15 "dev-a still publishes" probe_a && t_pass "other devices unaffected"
if grep -q 'after-' "$col"; then t_fail "a revoked device's message was delivered"; fi

# A replacement certificate for the same id is issued and accepted.
gs-certs --pki "$PKI" issue dev-c 2>"$T_DIR/replace.err" || t_fail "re-issue after revoke"
grep -q 'this replaces its revoked certificate' "$T_DIR/replace.err" && t_pass "re-issue says it is a replacement" || t_fail "re-issue message: $(cat "$T_DIR/replace.err")"
probe_c() { b_pub dev-c gs/v1/dev/dev-c/up replaced >/dev/null 2>&1; grep -q 'dev-c/up replaced' "$col"; }
t_wait 15 "replacement dev-c publishes" probe_c && t_pass "replacement certificate accepted"

t_done
