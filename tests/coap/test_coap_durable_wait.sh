#!/usr/bin/env bash
# The event loop is not blocked while a CoAP upload waits for durability
# (docs/ARCHITECTURE.md, "One batch"): with the WAL's fdatasync slowed to
# 8 s (tests/coap/slow_fsync.c, preloaded into the collector), a CoAP upload
# is committed and its 2.04 held; meanwhile an MQTT pull and a CoAP GET (a new
# DTLS handshake) by another device are answered, before the upload's ack.
# When the fsync returns, the upload gets its 2.04 (a separate response).
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/coap/coap_lib.sh"
SHIM=$GS_BUILD/tests/coap/libgs_slow_fsync.so
[ -f "$SHIM" ] || t_die "$SHIM not built"
t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 2 --households 10"
c_device dev-0101 g-0001
c_device dev-0102 g-0002
H=$(c_household g-0001)
[ -n "$H" ] || t_die "no household in g-0001"

# the collector again, with the shim (idle until the flag file exists); a
# sanitizer runtime must then accept a library loaded before it
FLAG=$T_DIR/slow
LD_PRELOAD=$SHIM GS_SLOW_FSYNC_FLAG=$FLAG GS_SLOW_FSYNC_MS=$((8000 * GS_TIMEOUT_MULT)) \
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
  gs-devstack restart-collector --dir "$GS_DEVSTACK_DIR" >/dev/null 2>&1 || t_die "restart the collector with the shim"
tr '\0' '\n' < "/proc/$(c_collector_pid)/environ" | t_has "^LD_PRELOAD=$SHIM" || t_die "the shim is not preloaded"
c_req "$T_DIR/warm" dev-0101 get /v1/status/g-0001 # the listener is up
t_eq "$(c_code "$T_DIR/warm")" ok "collector with the shim answers"

touch "$FLAG"
c_batch "$T_DIR/b1.json" --batch b-dw --prefix dw --n 1 --seq 1 --grid g-0001 --household "$H"
t0=$(date +%s%N)
(c_req "$T_DIR/up" dev-0101 post /v1/up -t 50 -f "$T_DIR/b1.json"; date +%s%N > "$T_DIR/up.end") &
UP=$!
T_PIDS+=("$UP")
# committed (visible to another connection) but its fsync sleeps: not durable yet
committed() { [ "$(c_changes dw)" = 1 ]; }
t_wait 20 "the batch committed" committed
[ -f "$T_DIR/up.end" ] && t_fail "the upload was answered before its commit was durable" || t_pass "upload committed, its ack held"

# another device, both transports, while the upload waits
t1=$(date +%s%N)
PAGE=$(t_rr_as dev-0102 gs/v1/dev/dev-0102/pull gs/v1/dev/dev-0102/down '{"v":1,"since":0,"limit":5}' 10 || true)
ms=$((($(date +%s%N) - t1) / 1000000))
t_eq "$(echo "$PAGE" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["entities"]) > 0)' 2>/dev/null || echo none)" True \
  "MQTT pull answered while the upload waits ($ms ms)"
[ -f "$T_DIR/up.end" ] && t_fail "the MQTT pull was answered only after the upload's ack (the loop waited)" ||
  t_pass "the MQTT pull came first"
t1=$(date +%s%N)
C_WAIT=10 c_req "$T_DIR/st" dev-0102 get /v1/status/g-0002
ms=$((($(date +%s%N) - t1) / 1000000))
t_eq "$(c_json "$T_DIR/st" 'd["org"]')" g-0002 "CoAP GET (new DTLS session) answered while the upload waits ($ms ms)"
[ -f "$T_DIR/up.end" ] && t_fail "the CoAP GET was answered only after the upload's ack (the loop waited)" ||
  t_pass "the CoAP GET came first"

# the fsync returns: the upload gets its ack
rm -f "$FLAG"
wait "$UP" || true
t_eq "$(c_json "$T_DIR/up" 'd["applied"], d["batch"]')" "(1, 'b-dw')" "the upload got its 2.04 ack once durable"
[ -f "$T_DIR/up.end" ] && echo "measured: upload answered after $((($(cat "$T_DIR/up.end") - t0) / 1000000)) ms (fsync held 8 s)" >&2
t_eq "$(c_changes dw)" 1 "the change is stored once"
kill -0 "$(c_collector_pid)" && t_pass "collector still running" || t_fail "collector died"
t_done
