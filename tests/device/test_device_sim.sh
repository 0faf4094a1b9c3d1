# test_device_sim.sh - gs-sim drives a small fleet (homes and bundles) over real
# mosquitto against the collector stand-in; every change must be acked, and a
# fleet that cannot reach the broker must fail with a non-zero exit.
. "$GS_SRC/tests/lib/gs_test.sh"
. "$GS_SRC/tests/device/dev_lib.sh"

PKI=$T_DIR/pki
dev_pki "$PKI" sim-01 sim-02 sim-03 sim-04 collector
PORT=$(t_free_port)
dev_broker_start "$PKI" "$PORT"
dev_fake_start "$PKI" "$PORT" normal

# Two devices as initialised homes, two as bundles.
dev_init "$T_DIR/h1" sim-01 "$PKI" "$PORT"
dev_init "$T_DIR/h2" sim-02 "$PKI" "$PORT"
for d in sim-03 sim-04; do
  mkdir -p "$T_DIR/bundle-$d"
  cp "$PKI/ca.crt" "$T_DIR/bundle-$d/ca.crt"
  cp "$PKI/$d.crt" "$T_DIR/bundle-$d/device.crt"
  cp "$PKI/$d.key" "$T_DIR/bundle-$d/device.key"
  printf '[device]\nid=%s\n[mqtt]\nhost=127.0.0.1\nport=%s\n' "$d" "$PORT" > "$T_DIR/bundle-$d/device.conf"
done
cat > "$T_DIR/devices.csv" <<CSV
# device_id,home_or_bundle_dir,grids
sim-01,$T_DIR/h1,g-0001
sim-02,$T_DIR/h2,g-0001;g-0002
sim-03,$T_DIR/bundle-sim-03,g-0002
sim-04,$T_DIR/bundle-sim-04,g-0003
CSV

out=$(gs-sim --workdir "$T_DIR/work" --devices "$T_DIR/devices.csv" --rounds 3 \
  --edits-per-round 10 --seed 7 --jobs 4 --timeout 60 --progress 2>"$T_DIR/sim.err") ||
  t_fail "gs-sim exited non-zero: $out $(cat "$T_DIR/sim.err")"
t_log "$out"
grep -q "^round 3/3 workers 4 changes" "$T_DIR/sim.err" && t_pass "progress lines" || t_fail "progress: $(cat "$T_DIR/sim.err")"
# 4 devices x 3 rounds x 10 edits + 5 households per grid per device in round 1 (5 grids total).
changes=$(sed -n 's/.* changes \([0-9]*\) acked \([0-9]*\) .*/\1/p' <<<"$out")
acked=$(sed -n 's/.* changes \([0-9]*\) acked \([0-9]*\) .*/\2/p' <<<"$out")
t_eq "$changes" 145 "changes made (120 edits + 25 households)"
t_eq "$acked" "$changes" "every change acked"
t_eq "$(cat "$T_DIR"/up.log | jq '.changes|length' | jq -s add)" 145 "stand-in received every change once"
t_eq "$(dev_status "$T_DIR/work/sim-03" outbox)" 0 "bundle device home created and drained"
t_eq "$(dev_status "$T_DIR/h2" acked_seq)" "$(( $(dev_status "$T_DIR/h2" next_seq) - 1 ))" "home device acked up to its last seq"
kinds=$(cat "$T_DIR"/up.log | jq -r '.changes[] | select(.type=="visit") | .set.kind' | sort -u | paste -sd,)
t_eq "$kinds" "care,follow_up,routine" "visit kinds vary"
cat "$T_DIR"/up.log | jq -r '.changes[] | select(.type=="report") | .set.title' | t_has . && t_pass "reports filed" || t_fail "no report"

# A bad devices file is refused before anything runs.
printf 'sim-01,%s,g-0001\nsim-01,%s,g-0002\n' "$T_DIR/h1" "$T_DIR/h1" > "$T_DIR/dup.csv"
if gs-sim --workdir "$T_DIR/work" --devices "$T_DIR/dup.csv" --rounds 1 2> "$T_DIR/dup.err"; then
  t_fail "duplicate device accepted"
else
  grep -q "listed twice" "$T_DIR/dup.err" && t_pass "duplicate device refused" || t_fail "dup: $(cat "$T_DIR/dup.err")"
fi

# Broker gone: every worker fails, gs-sim exits non-zero within its bounds.
dev_fake_stop
dev_broker_stop
if gs-sim --workdir "$T_DIR/work" --devices "$T_DIR/devices.csv" --rounds 1 --edits-per-round 2 \
  --timeout 4 > "$T_DIR/sim2.out" 2> "$T_DIR/sim2.err"; then
  t_fail "gs-sim succeeded without a broker"
else
  t_pass "gs-sim exits non-zero when workers cannot sync"
fi
grep -q "failed 4" "$T_DIR/sim2.out" && t_pass "4 failed workers reported" || t_fail "totals: $(cat "$T_DIR/sim2.out")"
t_done
