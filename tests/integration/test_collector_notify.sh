#!/usr/bin/env bash
# gs-collector speaks systemd's notify protocol without libsystemd (issue 18;
# collector/daemon/gs_notify.h): READY=1 once running, WATCHDOG=1 every
# WATCHDOG_USEC/2, RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on
# SIGTERM; over a path socket and over an abstract one ('@').
. "$GS_SRC/tests/lib/gs_test.sh"

# listen ADDR LOG: a unix datagram socket at ADDR ('@name' = abstract) that
# writes each message to LOG as "<ms since start> <message, newlines as |>";
# it stops by itself after 120 s (bounded) or on SIGTERM.
listen() {
  python3 - "$1" "$2" <<'PY' &
import os, socket, sys, time
addr, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
s.settimeout(0.2)
t0 = time.monotonic()
open(log + ".tmp", "w").close()
os.rename(log + ".tmp", log)  # LOG exists once the socket is bound
while time.monotonic() - t0 < 120:
    try:
        m = s.recv(4096)
    except socket.timeout:
        continue
    with open(log, "a") as f:
        f.write("%d %s\n" % ((time.monotonic() - t0) * 1000, m.decode().replace("\n", "|")))
PY
  T_PIDS+=($!)
}
# count LOG WORD: how many messages in LOG contain WORD
count() { grep -c -e "$2" "$1" 2>/dev/null || true; }

t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids 1 --households 2"
CONF=$GS_COLLECTOR_CONF
OLD=$(cat "$GS_DEVSTACK_DIR/collector.pid")
kill -TERM "$OLD"
t_wait 15 "the devstack's collector stops" bash -c "! kill -0 $OLD 2>/dev/null" || t_die "collector $OLD did not stop"

# run_collector ADDR LOG: starts gs-collector on the devstack's configuration
# with NOTIFY_SOCKET=ADDR and a 2 s watchdog; sets CPID
run_collector() {
  NOTIFY_SOCKET=$1 WATCHDOG_USEC=2000000 gs-collector -c "$CONF" >> "$T_DIR/collector-notify.log" 2>&1 &
  CPID=$!
  T_PIDS+=("$CPID")
}

# 1. a socket path
N=$T_DIR/notify.sock
listen "$N" "$T_DIR/n1.log"
t_wait 10 "the notify socket is bound" test -e "$T_DIR/n1.log" || t_die "no notify socket"
run_collector "$N"
t_wait 30 "READY=1" bash -c "grep -q 'READY=1' '$T_DIR/n1.log'" && t_pass "READY=1 arrived"
READY_MS=$(grep -m1 'READY=1' "$T_DIR/n1.log" | cut -d' ' -f1)
t_wait 5 "two WATCHDOG=1 within 5 s" bash -c "[ \$(grep -c 'WATCHDOG=1' '$T_DIR/n1.log') -ge 2 ]" &&
  t_pass "WATCHDOG=1 twice within 5 s of READY (WATCHDOG_USEC=2000000)"
# spacing: every WATCHDOG_USEC/2 = 1 s, so the first two are about 1 s apart
W=$(grep 'WATCHDOG=1' "$T_DIR/n1.log" | head -n 2 | cut -d' ' -f1 | tr '\n' ' ')
read -r W1 W2 <<< "$W"
if [ -n "$W2" ]; then
  GAP=$((W2 - W1))
  [ "$GAP" -ge 500 ] && [ "$GAP" -le 1800 ] && t_pass "watchdog period ${GAP} ms (want ~1000)" ||
    t_fail "watchdog period ${GAP} ms, want ~1000"
fi
grep -q 'READY=1' <(head -n 1 "$T_DIR/n1.log") && t_pass "READY=1 is the first message" ||
  t_fail "first message: $(head -n 1 "$T_DIR/n1.log") (READY at $READY_MS ms)"

kill -HUP "$CPID"
t_wait 10 "RELOADING=1 then READY=1" bash -c "grep -A5 'RELOADING=1' '$T_DIR/n1.log' | grep -q 'READY=1'" &&
  t_pass "SIGHUP: RELOADING=1 then READY=1"
grep 'RELOADING=1' "$T_DIR/n1.log" | grep -q 'MONOTONIC_USEC=[0-9]' && t_pass "RELOADING=1 carries MONOTONIC_USEC" ||
  t_fail "RELOADING=1 without MONOTONIC_USEC: $(grep RELOADING "$T_DIR/n1.log")"

kill -TERM "$CPID"
t_wait 15 "STOPPING=1" bash -c "grep -q 'STOPPING=1' '$T_DIR/n1.log'" && t_pass "SIGTERM: STOPPING=1"
t_wait 15 "the collector exits" bash -c "! kill -0 $CPID 2>/dev/null"
RC=0; wait "$CPID" || RC=$?
t_eq "$RC" 0 "the collector exited 0"

# 2. an abstract socket ('@'): READY and STOPPING arrive there too
A="@gs-notify-test-$$-$RANDOM"
listen "$A" "$T_DIR/n2.log"
t_wait 10 "the abstract socket is bound" test -e "$T_DIR/n2.log" || t_die "no abstract socket"
run_collector "$A"
t_wait 30 "READY=1 over an abstract socket" bash -c "grep -q 'READY=1' '$T_DIR/n2.log'" &&
  t_pass "READY=1 arrived over an abstract socket"
kill -TERM "$CPID"
t_wait 15 "STOPPING=1 over an abstract socket" bash -c "grep -q 'STOPPING=1' '$T_DIR/n2.log'" &&
  t_pass "STOPPING=1 over an abstract socket"
t_wait 15 "the collector exits" bash -c "! kill -0 $CPID 2>/dev/null"

# 3. a NOTIFY_SOCKET that is no socket name stops the start, naming it
RC=0; NOTIFY_SOCKET=relative/path timeout 30 gs-collector -c "$CONF" > /dev/null 2> "$T_DIR/bad-notify.err" || RC=$?
t_eq "$RC" 1 "a relative NOTIFY_SOCKET exits 1"
grep -q "NOTIFY_SOCKET 'relative/path'" "$T_DIR/bad-notify.err" && t_pass "and names it" ||
  t_fail "bad NOTIFY_SOCKET: $(cat "$T_DIR/bad-notify.err")"
t_done
