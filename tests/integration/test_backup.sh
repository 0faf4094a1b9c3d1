#!/usr/bin/env bash
# gs-admin backup while devices sync (issue 18): the copy opens, passes
# integrity_check, is 0600, holds every change committed (so every change
# acked) before the backup started, and a collector started on a copy of it
# serves pulls. Also: the live store and its -wal are 0600.
. "$GS_SRC/tests/lib/gs_test.sh"
t_stack_up --seed --seed-args "--households 1000"
[ -n "${GS_DB:-}" ] && [ -f "$GS_DB" ] || t_die "no store"

# file modes of the store the collector is writing (SQLite gives -wal the main file's mode)
t_wait 10 "the store's -wal" test -f "$GS_DB-wal"
t_eq "$(stat -c %a "$GS_DB")" 600 "the store made by gs-admin seed is 0600"
t_eq "$(stat -c %a "$GS_DB-wal")" 600 "its -wal is 0600"

# devices syncing in the background: each round adds a visit and syncs
A=$(t_device dev-0001 g-0001)
C=$(t_device dev-0003 g-0003)
for h in "$A" "$C"; do t_dev "$h" sync --timeout 30 > /dev/null || t_die "first sync of $h"; done
syncer() { # syncer HOME GRID: until $T_DIR/stop exists
  local home=$1 grid=$2 hh i=0
  t_dev "$home" list household > "$home.households" || return 1
  hh=$(head -n 1 "$home.households" | cut -f1)
  while [ ! -e "$T_DIR/stop" ]; do
    i=$((i + 1))
    t_dev "$home" visit add --grid "$grid" --household "$hh" summary="backup round $i" > /dev/null || return 1
    t_dev "$home" sync --timeout 30 > /dev/null 2>> "$T_DIR/syncer.log" || return 1
  done
}
syncer "$A" g-0001 & SA=$!
syncer "$C" g-0003 & SC=$!
T_PIDS+=("$SA" "$SC")
visits() { t_sql "$1" "SELECT count(*) FROM entity WHERE type='visit'"; }
some_visits() { [ "$(visits "$GS_DB")" -ge 4 ]; }
t_wait 60 "devices to sync visits" some_visits

# three backups while the devices sync; each starts after a snapshot of the committed change ids
for n in 1 2 3; do
  B=$T_DIR/backup-$n.db
  t_sql "$GS_DB" "SELECT id FROM change ORDER BY id" > "$T_DIR/before-$n.ids"
  gs-admin --db "$GS_DB" backup "$B" > "$T_DIR/backup-$n.out" 2> "$T_DIR/backup-$n.err" ||
    t_fail "backup $n: $(cat "$T_DIR/backup-$n.err")"
  t_log "$(cat "$T_DIR/backup-$n.out")"
  t_has "pages, .* bytes, quick_check ok" "$T_DIR/backup-$n.out" && t_pass "backup $n reports pages, bytes and the check" ||
    t_fail "backup $n output: $(cat "$T_DIR/backup-$n.out")"
  t_eq "$(stat -c %a "$B" 2>/dev/null)" 600 "backup $n is 0600"
  [ ! -e "$B.tmp" ] && t_pass "backup $n left no .tmp" || t_fail "backup $n left $B.tmp"
  t_eq "$(t_sql "$B" "PRAGMA integrity_check")" ok "backup $n passes integrity_check"
  t_sql "$B" "SELECT id FROM change ORDER BY id" > "$T_DIR/backup-$n.ids"
  missing=$(comm -23 "$T_DIR/before-$n.ids" "$T_DIR/backup-$n.ids" | wc -l)
  t_eq "$missing" 0 "backup $n holds all $(wc -l < "$T_DIR/before-$n.ids") changes committed before it started"
done
V_LIVE=$(visits "$GS_DB")
touch "$T_DIR/stop"
wait "$SA" && wait "$SC" && t_pass "devices synced throughout" || t_fail "a syncing device failed: $(tail -n 5 "$T_DIR/syncer.log")"
V_B1=$(visits "$T_DIR/backup-1.db")
[ "$V_LIVE" -gt "$V_B1" ] && t_pass "the store kept changing during the backups ($V_B1 visits in backup 1, $V_LIVE later)" ||
  t_fail "no writes during the backups: $V_B1 visits in backup 1, $V_LIVE later"

# refusals: an existing FILE without --force; with --force it is replaced
RC=0
gs-admin --db "$GS_DB" backup "$T_DIR/backup-1.db" > "$T_DIR/again.out" 2> "$T_DIR/again.err" || RC=$?
t_eq "$RC/$(wc -c < "$T_DIR/again.out")" "1/0" "backup to an existing FILE is refused"
t_has "exists" "$T_DIR/again.err" && t_pass "the refusal says why: $(cat "$T_DIR/again.err")" || t_fail "refusal: $(cat "$T_DIR/again.err")"
t_eq "$(t_sql "$T_DIR/backup-1.db" "SELECT count(*) FROM entity WHERE type='visit'")" "$V_B1" "the refused backup left FILE alone"
gs-admin --db "$GS_DB" backup --force "$T_DIR/backup-1.db" > /dev/null || t_fail "backup --force"
t_eq "$(visits "$T_DIR/backup-1.db")" "$(visits "$GS_DB")" "backup --force replaced FILE with the quiet store"

# a collector on a copy of backup 3 serves pulls: fresh device homes get what it holds
B=$T_DIR/backup-3.db
cp "$B" "$T_DIR/restored.db"
sed -i "s|^db = .*|db = $T_DIR/restored.db|" "$GS_COLLECTOR_CONF"
gs-devstack restart-collector --dir "$GS_DEVSTACK_DIR" || t_die "collector on the copy did not start"
t_has "store $T_DIR/restored.db" "$GS_DEVSTACK_DIR/collector.log" && t_pass "the collector runs on the copy" ||
  t_fail "collector log: $(tail -n 5 "$GS_DEVSTACK_DIR/collector.log")"
for dg in dev-0001:g-0001 dev-0002:g-0002 dev-0003:g-0003; do
  dev=${dg%%:*} grid=${dg#*:} home=$T_DIR/fresh-${dg%%:*}
  [ -f "$GS_PKI/$dev.crt" ] || gs-certs --pki "$GS_PKI" issue "$dev" > /dev/null 2>&1 || t_die "gs-certs issue $dev"
  gs-device --home "$home" init --id "$dev" --ca "$GS_CA" --cert "$GS_PKI/$dev.crt" --key "$GS_PKI/$dev.key" \
    --host 127.0.0.1 --mqtt-port "$GS_MQTT_PORT" > /dev/null || t_die "gs-device init $dev"
  t_dev "$home" sync --timeout 60 > "$T_DIR/pull-$dev.out" 2>&1 || t_fail "pull of $dev from the copy: $(cat "$T_DIR/pull-$dev.out")"
  for type in household visit; do
    want=$(t_sql "$B" "SELECT count(*) FROM entity WHERE type='$type' AND grid='$grid'")
    t_eq "$(t_dev "$home" list "$type" | wc -l)" "$want" "$dev pulled the copy's $want ${type}s of $grid"
  done
done
t_eq "$(t_sql "$T_DIR/restored.db" "PRAGMA integrity_check")" ok "the copy in use passes integrity_check"
t_done
