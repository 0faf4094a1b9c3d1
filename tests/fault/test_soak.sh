#!/usr/bin/env bash
# Load held (soak): GS_SOAK_MINUTES=N keeps GS_SOAK_DEVICES (default 200)
# simulated devices (gs-sim, GS_SOAK_JOBS at once) syncing for N minutes and
# samples, every ~30 s: collector RSS (VmRSS), open fds (/proc/PID/fd), and the
# ack latency of a probe batch (connect + publish + ack, mqtt_rr.py). Bounds
# (docs/RELIABILITY.md): RSS growth <= 64 MB (SQLite's page cache filling)
# + GS_SOAK_RSS_MB (16) MB, and in runs of 10 min or more <= GS_SOAK_RSS_MB
# after the sample a third into the run; peak RSS <= GS_SOAK_RSS_MAX_MB (200);
# fds growth <= 16, last probe latency <= 3 x the first + 500 ms;
# every change exactly once and integrity_check ok at the end.
# Skipped (exit 77) unless GS_SOAK_MINUTES is set: not part of CI.
# checked before gs_test.sh installs its EXIT trap, which would turn 77 into a failure
[ -n "${GS_SOAK_MINUTES:-}" ] || { echo "test_soak: skipped (set GS_SOAK_MINUTES=N to run)"; exit 77; }
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/fault/fault_lib.sh"
ND=${GS_SOAK_DEVICES:-200}; JOBS=${GS_SOAK_JOBS:-8}; GRIDS=$(( (ND + 9) / 10 ))
t_stack_up --seed --seed-args "--streets 1 --communities 2 --grids $(( (GRIDS + 1) / 2 )) --households 20"
mapfile -t G < <(t_sql "$GS_DB" "SELECT id FROM org WHERE level='grid' ORDER BY id")
: > "$T_DIR/devices"
for i in $(seq 1 "$ND"); do
  id=$(printf 'sim-%04d' "$i"); g=${G[$(( (i - 1) % ${#G[@]} ))]}
  h=$(t_device "$id" "$g")
  echo "$id,$h,$g" >> "$T_DIR/devices"
done
t_device dev-probe "${G[0]}" >/dev/null
H=$(t_sql "$GS_DB" "SELECT id FROM entity WHERE type='household' AND grid='${G[0]}' LIMIT 1")
CPID=$(f_collector_pid)
probe_seq=0
probe() {  # prints the ack round trip in ms
  probe_seq=$((probe_seq + 1))
  printf '{"v":1,"batch":"p-%d","changes":[{"id":"%s","seq":%d,"type":"household","entity":"%s","hlc":[%d,0],"set":{"members":%d}}]}' \
    "$probe_seq" "$(cat /proc/sys/kernel/random/uuid)" "$probe_seq" "$H" "$(( $(date +%s%N) / 1000000 ))" $((probe_seq % 9 + 1)) > "$T_DIR/probe"
  local t0 t1; t0=$(date +%s%N)
  python3 "$GS_SRC/tests/fault/mqtt_rr.py" --port "$GS_MQTT_PORT" --ca "$GS_CA" --cert "$GS_PKI/dev-probe.crt" \
    --key "$GS_PKI/dev-probe.key" --id dev-probe --pub gs/v1/dev/dev-probe/up --sub gs/v1/dev/dev-probe/ack \
    --file "$T_DIR/probe" --timeout 30 >/dev/null 2>&1 || { echo -1; return; }
  t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 ))
}
sample() { echo "$(date +%s),$(awk '/VmRSS/ {print $2}' /proc/$CPID/status),$(ls /proc/$CPID/fd | wc -l),$(probe)"; }
echo "epoch,rss_kb,fds,probe_ms" > "$T_DIR/soak.csv"
end=$(( $(date +%s) + GS_SOAK_MINUTES * 60 ))
( while [ "$(date +%s)" -lt "$end" ]; do
    gs-sim --workdir "$T_DIR/sim" --devices "$T_DIR/devices" --rounds 1 --edits-per-round 3 --jobs "$JOBS" \
      --timeout 120 --seed "$RANDOM" >>"$T_DIR/sim.log" 2>&1 || echo "gs-sim round failed" >> "$T_DIR/sim.log"
  done ) &
SIM=$!; T_PIDS+=($SIM)
sample >> "$T_DIR/soak.csv"
while [ "$(date +%s)" -lt "$end" ]; do sleep 30; sample >> "$T_DIR/soak.csv"; done
wait "$SIM" || true
sample >> "$T_DIR/soak.csv"
cat "$T_DIR/soak.csv" >&2
read -r rss0 fd0 lat0 < <(sed -n 2p "$T_DIR/soak.csv" | awk -F, '{print $2, $3, $4}')
read -r rss1 fd1 lat1 < <(tail -n 1 "$T_DIR/soak.csv" | awk -F, '{print $2, $3, $4}')
maxlat=$(tail -n +2 "$T_DIR/soak.csv" | awk -F, 'm<$4 {m=$4} END {print m}')
# RSS: SQLite's page cache (64 MB) fills during the first minutes; a leak is
# growth after that. Warm = the sample a third into the run.
nsamples=$(( $(wc -l < "$T_DIR/soak.csv") - 1 ))
rssw=$(sed -n "$(( nsamples / 3 + 2 ))p" "$T_DIR/soak.csv" | cut -d, -f2)
rssmax=$(tail -n +2 "$T_DIR/soak.csv" | awk -F, 'm<$2 {m=$2} END {print m}')
if t_asan_collector; then
  # ASan keeps up to 256 MB of freed memory in quarantine, plus redzones:
  # RSS says nothing about the collector there (measured: 23 -> 414 MB in
  # 4 minutes). The bounds need a build without sanitizers (RELIABILITY.md).
  t_log "ASan build: RSS bounds skipped (${rss0} -> ${rss1} kB, peak ${rssmax} kB); run with a build without sanitizers for them"
else
  t_eq "$(( (rss1 - rss0) / 1024 <= 64 + ${GS_SOAK_RSS_MB:-16} ))" 1 "collector RSS growth $(( (rss1 - rss0) / 1024 )) MB from cold (page cache 64 MB + ${GS_SOAK_RSS_MB:-16})"
  if [ "$GS_SOAK_MINUTES" -ge 10 ]; then # the cache is full a third into a long run
    t_eq "$(( (rss1 - rssw) / 1024 <= ${GS_SOAK_RSS_MB:-16} ))" 1 "collector RSS growth after warm-up $(( (rss1 - rssw) / 1024 )) MB (${rss0} cold, ${rssw} warm -> ${rss1} kB)"
  fi
  t_eq "$(( rssmax / 1024 <= ${GS_SOAK_RSS_MAX_MB:-200} ))" 1 "collector peak RSS $(( rssmax / 1024 )) MB"
fi
t_eq "$(( fd1 - fd0 <= 16 ))" 1 "collector open fds $fd0 -> $fd1"
t_eq "$(( lat1 >= 0 && lat1 <= 3 * lat0 + 500 ))" 1 "probe ack latency $lat0 -> $lat1 ms (max $maxlat)"
kill -0 "$CPID" && t_pass "collector alive after ${GS_SOAK_MINUTES} min" || t_fail "collector died"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM (SELECT id FROM change GROUP BY id HAVING count(*) > 1)")" 0 "no change twice"
t_eq "$(t_sql "$GS_DB" "PRAGMA integrity_check")" ok "store integrity"
failed=$(grep -c "round failed" "$T_DIR/sim.log" || true)
echo "FAULT-SUMMARY soak minutes=$GS_SOAK_MINUTES devices=$ND changes=$(t_sql "$GS_DB" "SELECT count(*) FROM change") rss_kb=$rss0->$rssw->$rss1 fds=$fd0->$fd1 probe_ms=$lat0->$lat1 max=$maxlat sim_rounds_failed=$failed"
t_done
