# test_certs_broker.sh - certificates from gs-certs against the real mosquitto
# with gs_broker_plugin.so: who may connect, as whom, and to which topics.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/certs/broker_lib.sh"
WS="python3 $GS_SRC/tests/certs/ws_mqtt.py"

b_pki_init
for d in dev-a dev-b; do gs-certs --pki "$PKI" issue "$d" 2>/dev/null; done
gs-certs --pki "$PKI" issue dev-old --not-before 20200101000000 --not-after 20200102000000 2>/dev/null
# A second CA whose device carries a name this broker knows.
gs-certs --pki "$T_DIR/other" init --cn "gs test CA" 2>/dev/null
gs-certs --pki "$T_DIR/other" issue dev-a 2>/dev/null
b_broker_start

# 1. An issued certificate connects and publishes on its own up topic; the
#    collector's service certificate sees it.
col="$T_DIR/collector.out"
b_sub gs-collector "$col" 'gs/v1/dev/+/up'
probe_a() { b_pub dev-a gs/v1/dev/dev-a/up probe-a >/dev/null 2>&1; grep -q 'gs/v1/dev/dev-a/up probe-a' "$col"; }
if t_wait 15 "collector receives dev-a's up message" probe_a; then t_pass "device publishes on its own up topic"; fi

# 2. Publishing to another device's topic is not delivered. mosquitto acks the
#    PUBLISH anyway (MQTT 3.1.1), so a marker published afterwards proves the
#    denied message had its chance.
b_pub dev-a gs/v1/dev/dev-b/up forged-by-a >/dev/null 2>&1 || true
b_pub dev-a gs/v1/dev/dev-a/up marker-1 >/dev/null 2>&1 || true
t_wait 10 "marker after the forged publish" grep -q marker-1 "$col" || true
if grep -q forged-by-a "$col"; then t_fail "dev-a's publish to dev-b's topic was delivered"; else t_pass "cross-device publish not delivered"; fi
t_wait 5 "plugin logged the denial" grep -q 'denied dev-a publish on "gs/v1/dev/dev-b/up"' "$T_DIR/mosquitto.log" \
  && t_pass "plugin denial logged"

# 3. A certificate of another CA is refused at the TLS handshake.
rc=0; out=$(b_pub dev-a gs/v1/dev/dev-a/up other-ca "--cert" "$T_DIR/other/dev-a.crt" "--key" "$T_DIR/other/dev-a.key" 2>&1) || rc=$?
t_eq "$([ $rc -ne 0 ] && echo refused || echo accepted)" refused "certificate from another CA refused ($out)"

# 4. An expired certificate is refused.
rc=0; out=$(b_pub dev-old gs/v1/dev/dev-old/up expired 2>&1) || rc=$?
t_eq "$([ $rc -ne 0 ] && echo refused || echo accepted)" refused "expired certificate refused ($out)"
if grep -q 'expired' "$col"; then t_fail "expired device's message delivered"; fi

# 5. Subscribing to someone else's topics is refused (SUBACK failure).
rc=0; out=$(timeout 10 mosquitto_sub $(b_tls dev-a) -i dev-a -t 'gs/v1/dev/dev-b/down' -C 1 -W 3 2>&1) || rc=$?
t_eq "$(echo "$out" | grep -c 'denied')" 1 "device cannot subscribe to another device's down topic"
rc=0; out=$(timeout 10 mosquitto_sub $(b_tls dev-a) -i dev-a -t 'gs/v1/dev/#' -C 1 -W 3 2>&1) || rc=$?
t_eq "$(echo "$out" | grep -c 'denied')" 1 "device cannot subscribe to gs/v1/dev/#"

# 6. Device A using client id B is refused, and B's queued messages stay B's.
kill "${T_PIDS[-1]}" 2>/dev/null || true  # the collector subscriber: its id is needed below
t_wait 10 "collector subscriber gone" bash -c "! kill -0 ${T_PIDS[-1]} 2>/dev/null"
bsess="$T_DIR/b-session.out"
timeout 10 mosquitto_sub $(b_tls dev-b) -i dev-b -c -q 1 -t gs/v1/dev/dev-b/ack -d -C 1 -W 2 > "$bsess" 2>&1 || true
grep -q 'SUBACK' "$bsess" || t_fail "dev-b could not create its persistent session"
b_pub gs-collector gs/v1/dev/dev-b/ack queued-1 >/dev/null 2>&1 || t_fail "collector publish to dev-b/ack"
b_pub gs-collector gs/v1/dev/dev-b/ack queued-2 >/dev/null 2>&1 || t_fail "collector publish to dev-b/ack"
rc=0; out=$(timeout 10 mosquitto_sub $(b_tls dev-a) -i dev-b -c -q 1 -t '#' -C 1 -W 3 2>&1) || rc=$?
t_eq "$(echo "$out" | grep -c 'not authorised')" 1 "dev-a connecting as client id dev-b refused"
if echo "$out" | t_has queued; then t_fail "dev-a received dev-b's queued messages"; fi
t_wait 5 "plugin logged the id mismatch" grep -q 'client id "dev-b" is not its certificate CN "dev-a"' "$T_DIR/mosquitto.log" \
  && t_pass "id mismatch logged"
rc=0; got=$(timeout 15 mosquitto_sub $(b_tls dev-b) -i dev-b -c -q 1 -t gs/v1/dev/dev-b/ack -C 2 -W 10 2>&1) || rc=$?
t_eq "$(echo "$got" | tr '\n' ' ')" "queued-1 queued-2 " "dev-b still gets its queued messages after the takeover attempt"

# 7. Dashboard account (websockets, password): reads status, cannot publish.
b_pub gs-collector gs/v1/status/g-1 '{"v":1,"org":"g-1","households":3}' -r >/dev/null 2>&1 \
  || t_fail "collector publishes retained status"
rc=0; got=$($WS sub "$WS_PORT" "$DASH_USER" "$DASH_PASS" 'gs/v1/status/#' --count 1 --timeout 10) || rc=$?
t_eq "$got" 'gs/v1/status/g-1 {"v":1,"org":"g-1","households":3}' "dashboard reads retained status over websockets"
rc=0; $WS pub "$WS_PORT" "$DASH_USER" "$DASH_PASS" gs/v1/status/g-1 'forged' --retain || rc=$?
t_wait 5 "plugin logged the dashboard publish denial" grep -q 'denied (dashboard) publish on "gs/v1/status/g-1"' "$T_DIR/mosquitto.log" \
  && t_pass "dashboard publish denied"
rc=0; got=$($WS sub "$WS_PORT" "$DASH_USER" "$DASH_PASS" 'gs/v1/status/#' --count 1 --timeout 10) || rc=$?
t_eq "$got" 'gs/v1/status/g-1 {"v":1,"org":"g-1","households":3}' "retained status unchanged by the dashboard's publish"
rc=0; $WS sub "$WS_PORT" "$DASH_USER" "$DASH_PASS" 'gs/v1/dev/+/up' --count 1 --timeout 5 2>/dev/null || rc=$?
t_eq "$rc" 4 "dashboard cannot subscribe to device topics"
rc=0; $WS sub "$WS_PORT" "$DASH_USER" wrong-password 'gs/v1/status/#' --timeout 5 2>/dev/null || rc=$?
t_eq "$rc" 5 "dashboard with a wrong password refused"

# 8. A device cannot write status, the collector can read up but not write it.
b_pub dev-a gs/v1/status/g-1 forged-status -r >/dev/null 2>&1 || true
b_pub gs-collector gs/v1/dev/dev-a/up forged-up >/dev/null 2>&1 || true
rc=0; got=$($WS sub "$WS_PORT" "$DASH_USER" "$DASH_PASS" 'gs/v1/status/#' --count 1 --timeout 10) || rc=$?
t_eq "$got" 'gs/v1/status/g-1 {"v":1,"org":"g-1","households":3}' "device cannot overwrite status"
t_wait 5 "collector up-publish denied" grep -q 'denied gs-collector publish on "gs/v1/dev/dev-a/up"' "$T_DIR/mosquitto.log" \
  && t_pass "collector cannot publish on a device's up topic"

t_done
