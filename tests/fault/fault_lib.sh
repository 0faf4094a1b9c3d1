# fault_lib.sh - helpers shared by the fault tests (source after gs_test.sh).
#
# A fleet is N reference devices dev-0001..N, one per seeded grid g-0001..N,
# each a gs-device home under $T_DIR. Workers are background loops that edit
# offline and sync with short request timeouts, ignoring failed syncs (the
# fault is expected to break some): what is checked is the end state.

GS_LONG=${GS_LONG:-0}
F_HOMES=()
F_HH=()
F_GRID=()
F_SHARED=${F_SHARED:-0}  # 1: every device works on grid g-0001 (concurrent edits, conflicts)

# f_rand LO HI: a random integer in [LO, HI].
f_rand() { echo $(( $1 + RANDOM % ($2 - $1 + 1) )); }
# f_sleep_ms LO HI: sleeps a random number of milliseconds in [LO, HI].
f_sleep_ms() { sleep "$(printf '0.%03d' "$(f_rand "$1" "$2")")"; }

# f_fleet N: starts a seeded stack with N grids and N devices, each synced once.
# f_fleet_devices N: the devices only (stack already up; GS_MQTT_PORT may point at a relay).
f_fleet() {
  t_stack_up --seed --seed-args "--streets 1 --communities 1 --grids $1 --households 5"
  f_fleet_devices "$1"
}
f_fleet_devices() {
  local n=$1 i id
  for i in $(seq 1 "$n"); do
    id=$(printf 'dev-%04d' "$i")
    F_GRID[$i]=$(printf 'g-%04d' "$i")
    [ "$F_SHARED" = 1 ] && F_GRID[$i]=g-0001
    F_HOMES[$i]=$(t_device "$id" "${F_GRID[$i]}")
    t_dev "${F_HOMES[$i]}" sync --timeout 30 >/dev/null || t_die "initial sync of $id"
    F_HH[$i]=$(t_dev "${F_HOMES[$i]}" list household | head -1 | cut -f1)
    [ -n "${F_HH[$i]}" ] || t_die "$id pulled no household"
  done
}

# f_edit I K: device I records K edits offline (visits, and a household update).
f_edit() {
  local i=$1 k=$2 j grid=${F_GRID[$1]}
  for j in $(seq 1 "$k"); do
    t_dev "${F_HOMES[$i]}" visit add --grid "$grid" --household "${F_HH[$i]}" duration=$((RANDOM % 120)) >/dev/null
  done
  t_dev "${F_HOMES[$i]}" set household "${F_HH[$i]}" members=$((RANDOM % 9 + 1)) >/dev/null
}

# f_worker I STOPFILE [EDITS]: loop of edit + sync until STOPFILE exists (background).
f_worker() {
  local i=$1 stop=$2 k=${3:-3} r=0
  while [ ! -e "$stop" ]; do
    f_edit "$i" "$k"
    t_dev "${F_HOMES[$i]}" sync --timeout 20 --request-timeout 1 --batch 4 >>"$T_DIR/worker$i.log" 2>&1 || true
    r=$((r + 1))
  done
  echo "$r" > "$T_DIR/worker$i.rounds"
}

# f_status_of HOME KEY: one value of `gs-device status`.
f_status_of() { t_dev "$1" status | sed -n "s/^$2 //p"; }

# f_final_sync: every device syncs until one sync completes (outbox pushed,
# pull done), retrying for up to 90 s each: faults may still be going on.
f_final_sync() {
  local i end
  for i in "${!F_HOMES[@]}"; do
    end=$(( $(date +%s) + 90 * GS_TIMEOUT_MULT ))
    until t_dev "${F_HOMES[$i]}" sync --timeout 30 --request-timeout 3 >>"$T_DIR/final$i.log" 2>&1; do
      [ "$(date +%s)" -lt "$end" ] || { t_fail "device $i: no complete sync in 90 s: $(tail -n 1 "$T_DIR/final$i.log")"; break; }
      sleep 0.2
    done
  done
}

# f_check_store [WHAT]: the exactly-once invariants, device by device, plus
# PRAGMA integrity_check. A device's local seqs 1..next_seq-1 must each be in
# the change table exactly once, its acked_seq must be its last seq on both
# sides, its outbox empty.
f_check_store() {
  local what=${1:-end} i id last dacked sacked n nd maxs outbox
  for i in "${!F_HOMES[@]}"; do
    id=$(printf 'dev-%04d' "$i")
    last=$(( $(f_status_of "${F_HOMES[$i]}" next_seq) - 1 ))
    dacked=$(f_status_of "${F_HOMES[$i]}" acked_seq)
    outbox=$(f_status_of "${F_HOMES[$i]}" outbox)
    n=$(t_sql "$GS_DB" "SELECT count(*) FROM change WHERE device='$id'")
    nd=$(t_sql "$GS_DB" "SELECT count(DISTINCT seq) FROM change WHERE device='$id'")
    maxs=$(t_sql "$GS_DB" "SELECT coalesce(max(seq),0) FROM change WHERE device='$id'")
    sacked=$(t_sql "$GS_DB" "SELECT acked_seq FROM device WHERE id='$id'")
    t_eq "$outbox" 0 "$what: $id outbox empty"
    t_eq "$n/$nd/$maxs" "$last/$last/$last" "$what: $id changes 1..$last each recorded once (count/distinct seq/max seq)"
    t_eq "$dacked/$sacked" "$last/$last" "$what: $id acked_seq equals its last seq (device/server)"
    F_TOTAL=$(( ${F_TOTAL:-0} + last ))
  done
  t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM (SELECT id FROM change GROUP BY id HAVING count(*) > 1)")" 0 \
    "$what: no change id twice"
  t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM change WHERE status <> 0")" 0 "$what: no change rejected"
  t_eq "$(t_sql "$GS_DB" "PRAGMA integrity_check")" ok "$what: PRAGMA integrity_check"
}

# f_collector_pid / f_broker_pid
f_collector_pid() { cat "$GS_DEVSTACK_DIR/collector.pid"; }
f_broker_pid() { cat "$GS_DEVSTACK_DIR/mosquitto.pid"; }

# f_wait_dead PID: waits until PID is gone (it is not our child: poll).
f_wait_dead() { t_wait 10 "pid $1 to exit" bash -c "! kill -0 $1 2>/dev/null"; }

# f_digest: digest of the entity table (abuse tests compare it before/after).
f_digest() { t_sql "$GS_DB" "SELECT * FROM entity ORDER BY type,id" | sha256sum | cut -c1-16; }
