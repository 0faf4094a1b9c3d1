#!/usr/bin/env bash
# Disk full: the store lives on a small tmpfs that gets filled. The collector
# must not ack what it could not commit, must log why, keep running, keep
# answering pulls, and resume by itself once space returns; nothing acked is
# lost and the store passes integrity_check. Needs root (mount); skipped (77)
# otherwise.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/fault/fault_lib.sh"
MNT="$T_DIR/small"
mkdir -p "$MNT"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=3m,mode=0755 gs-fault-tmpfs "$MNT" 2>"$T_DIR/mount.err"; then
  echo "test_disk_full: skipped: cannot mount a tmpfs ($(cat "$T_DIR/mount.err" 2>/dev/null)); run as root" >&2
  trap - EXIT; rm -rf "$T_DIR"
  exit 77
fi
disk_cleanup() {
  local rc=$?
  [ -f "$T_DIR/stack/devstack.env" ] && gs-devstack down --dir "$T_DIR/stack" >/dev/null 2>&1
  umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
  (exit $rc)
  t_cleanup
}
trap disk_cleanup EXIT

f_fleet 1
A=${F_HOMES[1]}
# move the store onto the tmpfs: clean stop (WAL checkpointed), move, restart
cpid=$(f_collector_pid)
kill -TERM "$cpid"; f_wait_dead "$cpid"
mv "$GS_DB" "$MNT/gridsync.db"
rm -f "$GS_DB-wal" "$GS_DB-shm"
sed -i "s|^db = .*|db = $MNT/gridsync.db|" "$GS_COLLECTOR_CONF"
GS_DB="$MNT/gridsync.db"
gs-devstack restart-collector --dir "$GS_DEVSTACK_DIR" || t_die "collector restart on the tmpfs"
CPID=$(f_collector_pid)

# acked before the disk fills
f_edit 1 3
t_dev "$A" sync --timeout 20 >/dev/null || t_fail "sync before the disk is full"
before=$(t_sql "$GS_DB" "SELECT count(*) FROM change")
acked_before=$(f_status_of "$A" acked_seq)

# a second device registered now (a registration is a write) pulls while full
B=$(t_device dev-0009 g-0001)

# fill the disk to the last block
dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null || true
dd if=/dev/zero of="$MNT/filler2" bs=512 2>/dev/null || true
t_log "tmpfs full: $(df -h "$MNT" | tail -1)"
LONG=$(printf '走访记录%.0s' $(seq 1 400))
nlog0=$(grep -c "not committed" "$GS_DEVSTACK_DIR/collector.log" || true)
for j in $(seq 1 12); do
  t_dev "$A" visit add --grid g-0001 --household "${F_HH[1]}" summary="$LONG$j" >/dev/null
done
if t_dev "$A" sync --timeout 8 --request-timeout 2 >"$T_DIR/full-sync.out" 2>&1; then
  t_fail "a sync with the disk full reported success: $(cat "$T_DIR/full-sync.out")"
else
  t_pass "sync with the disk full does not complete"
fi
t_eq "$(f_status_of "$A" acked_seq)" "$acked_before" "no ack while the disk is full (device acked_seq unchanged)"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM change")" "$before" "nothing new in the change table while full"
t_wait 10 "the collector to log the failed commit" bash -c \
  "[ \$(grep -c 'not committed' '$GS_DEVSTACK_DIR/collector.log') -gt $nlog0 ]" && t_pass "the collector logged it"
grep -m1 "not committed" "$GS_DEVSTACK_DIR/collector.log" | t_has -i "full" && t_pass "the log says the disk is full" ||
  t_fail "the log line does not say disk full: $(grep -m1 'not committed' "$GS_DEVSTACK_DIR/collector.log")"
kill -0 "$CPID" 2>/dev/null && t_pass "the collector keeps running with the disk full" || t_fail "the collector exited"
# pulls are read-only: a second device (fresh home, cursor 0) still gets its grid
t_dev "$A" sync --timeout 8 --request-timeout 2 --push-only >/dev/null 2>&1 || true
if t_dev "$B" sync --timeout 15 --request-timeout 3 >"$T_DIR/pull-full.out" 2>&1; then
  t_eq "$(t_dev "$B" list household | wc -l)" 5 "pull answered with the disk full (5 households)"
else
  t_log "pull with the disk full did not complete: $(tail -2 "$T_DIR/pull-full.out" 2>/dev/null)"
  t_fail "pull with the disk full"
fi

# space returns: the device's retry goes through with no restart
rm -f "$MNT/filler" "$MNT/filler2"
t_dev "$A" sync --timeout 30 --request-timeout 2 >"$T_DIR/after.out" 2>&1 && t_pass "sync completes once space returns" ||
  t_fail "sync after space returned: $(tail -3 "$T_DIR/after.out")"
t_eq "$(f_collector_pid)" "$CPID" "same collector process (resumed by itself)"
unset 'F_HOMES[9]'
f_check_store "after disk full"
t_done
