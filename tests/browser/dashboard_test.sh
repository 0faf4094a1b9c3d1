#!/usr/bin/env bash
# Browser test of the dashboard page, end to end: headless Chromium (playwright-core)
# opens the page from mosquitto, sees the city's numbers, drills down to a grid, a device
# syncs more visits and the page follows without reload; screenshots are artifacts; the
# dashboard account cannot publish.
#
# GS_BROWSER_STACK picks where the status documents come from:
#   real (default, and what ctest runs): `gs-devstack up --seed` = mosquitto + the REAL
#        collector + a seeded city (示范市 c-demo, 4 grids, 40 households); a reference
#        device (gs-device, dev-0001 on g-0001) syncs, adds visits and reports, syncs; the
#        collector publishes the retained status. Later the device adds more visits and
#        syncs again while the page is open.
#   fake: `gs-devstack up --no-collector`; the harness publishes a made-up tree
#        (status_tree.py) with the gs-collector certificate, then an update of one grid.
#   own:  the made-up tree on a broker set up without gs-devstack: broker-bridge/
#        mosquitto.conf.in and acl.in rendered into a temp dir, a PKI made by openssl.
# Either way dashboard_browser.cjs compares the page with the retained documents it reads
# at the broker as a bridge-* service (bridge-test), never with constants.
#
# Env: GS_BIN, GS_SRC, GS_BUILD (ctest). GS_KEEP=1 keeps the temp dir.
#      GS_CHROMIUM overrides the browser; GS_BROWSER_PLUGIN=off ignores a built broker
#      plugin (own stack only); GS_UPDATE_DOCS=1 also copies the screenshot to
#      docs/dashboard.png; GS_BROWSER_SIM_ROUNDS=N (real stack only, default 0) first lets
#      gs-sim run N rounds with dev-0002..dev-0004 so the screenshot shows a busier city
#      (for refreshing docs/dashboard.png; not part of the ctest run).
# shellcheck source=../lib/gs_test.sh
. "$GS_SRC/tests/lib/gs_test.sh"
: "${GS_BUILD:?GS_BUILD not set}"
T_NAME=browser # closing line: "browser: N passed, N failed"
# The whole test stays under 2 minutes (times GS_TIMEOUT_MULT): the browser script gets
# what is left of that budget after the stack and the device are up.
T_BUDGET_END=$(( $(date +%s) + 115 * GS_TIMEOUT_MULT ))

HERE="$GS_SRC/tests/browser"
CHROMIUM=${GS_CHROMIUM:-/usr/bin/chromium}
MOSQ=${GS_MOSQUITTO:-/usr/sbin/mosquitto}
DASH_DIR="$GS_BUILD/dashboard"
NODE_MODULES="$GS_BUILD/tests/browser/npm/node_modules"
ART="$GS_BUILD/artifacts"

for tool in node openssl mosquitto_pub mosquitto_sub mosquitto_passwd python3; do
  command -v "$tool" >/dev/null || t_die "$tool not found (Debian: nodejs, openssl, mosquitto-clients, mosquitto, python3)"
done
[ -x "$MOSQ" ] || t_die "$MOSQ not found (Debian: mosquitto)"
[ -x "$CHROMIUM" ] || t_die "$CHROMIUM not found (Debian: chromium)"

# The page and the test's node packages are build outputs (targets dashboard and
# browser-test-deps, both ALL). Build them only when missing, e.g. after
# `cmake --build --target dashboard` alone.
if [ ! -f "$DASH_DIR/vendor/mqtt.min.js" ] || [ ! -f "$NODE_MODULES/.gs-npm-ci.stamp" ]; then
  cmake --build "$GS_BUILD" --target dashboard browser-test-deps >"$T_DIR/build.log" 2>&1 ||
    t_die "building the dashboard / browser-test-deps failed: $(tail -n 20 "$T_DIR/build.log")"
fi
{ [ -f "$DASH_DIR/index.html" ] && [ -f "$DASH_DIR/vendor/mqtt.min.js" ]; } || t_die "dashboard not built in $DASH_DIR"
[ -d "$NODE_MODULES/playwright-core" ] || t_die "playwright-core not installed in $NODE_MODULES"
fonts=$(fc-list 2>/dev/null || true)
if ! grep -qiE 'cjk|wenquanyi|wqy' <<<"$fonts"; then
  t_log "warning: no CJK font installed (Debian: fonts-noto-cjk); Chinese names will render as boxes in the screenshot"
fi

# ---- the stack
# Every mode exports: MQTT_PORT WS_PORT PKI COLL_CRT COLL_KEY DASH_USER DASH_PASS
# READER_CRT READER_KEY (bridge-test, reads status) ORGS CITY CHAIN MORE MORE_VISITS
# BEFORE_DENY (maybe empty) for the browser script.

# retained status JSON of ORG, read at the broker as bridge-test
status_of() {
  timeout 10 mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" --cafile "$PKI/ca.crt" --cert "$READER_CRT" \
    --key "$READER_KEY" -i bridge-test -t "gs/v1/status/$1" -C 1 -W 5 2>/dev/null
}
# status_field ORG FIELD: one number of ORG's retained status
status_field() { status_of "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }
status_is() { [ "$(status_field "$1" "$2")" = "$3" ]; }
# all_retained: every org unit of $ORGS has a retained status
all_retained() {
  local n; n=$(tr ',' '\n' <<<"$ORGS" | grep -c .)
  [ "$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" --cafile "$PKI/ca.crt" --cert "$READER_CRT" \
    --key "$READER_KEY" -i bridge-test -t 'gs/v1/status/#' --retained-only -C "$n" -W 3 2>/dev/null | grep -c .)" = "$n" ]
}

devstack_env() {
  MQTT_PORT=$GS_MQTT_PORT WS_PORT=$GS_WS_PORT PKI=$GS_PKI
  COLL_CRT=$PKI/gs-collector.crt COLL_KEY=$PKI/gs-collector.key
  DASH_USER=$GS_DASHBOARD_USER DASH_PASS=$GS_DASHBOARD_PASSWORD
  gs-certs --pki "$PKI" issue-service bridge-test >/dev/null 2>&1 || t_die "gs-certs issue-service bridge-test failed"
  READER_CRT=$PKI/bridge-test.crt READER_KEY=$PKI/bridge-test.key
}

# The real thing: the collector, a seeded city, a reference device.
real_stack() {
  local b
  for b in gs-devstack gs-certs gs-collector gs-admin gs-device; do
    [ -x "$GS_BIN/$b" ] || t_die "$GS_BIN/$b not built (the default browser test runs the real collector; GS_BROWSER_STACK=own needs none of them)"
  done
  # the demo city is in China: the collector's as_of and "today" in its time zone
  if [ -f /usr/share/zoneinfo/Asia/Shanghai ]; then export TZ=Asia/Shanghai; fi
  t_stack_up --seed --seed-args "--streets 1 --communities 2 --grids 2 --households 10"
  devstack_env
  t_log "stack: gs-devstack up --seed in $T_DIR/stack (collector log: $T_DIR/stack/collector.log)"
  gs-admin --db "$GS_DB" org export > "$T_DIR/orgs.csv" || t_die "gs-admin org export failed"
  ORGS=$(tail -n +2 "$T_DIR/orgs.csv" | cut -d, -f1 | paste -sd, -)
  CITY=$(awk -F, '$3 == "city" { print $1 }' "$T_DIR/orgs.csv")
  GRID=g-0001 DEV=dev-0001
  # the drill-down path: the grid's ancestors below the city
  CHAIN=$GRID
  local o=$GRID
  while o=$(awk -F, -v o="$o" '$1 == o { print $2 }' "$T_DIR/orgs.csv") && [ -n "$o" ] && [ "$o" != "$CITY" ]; do
    CHAIN=$o,$CHAIN
  done
  t_eq "$CITY/$(tr ',' '\n' <<<"$ORGS" | grep -c .)" "c-demo/9" "seeded city: c-demo with 9 org units"
  t_wait 20 "retained status of every org unit" all_retained && t_pass "collector published the status of every org unit (retained)"

  if [ "${GS_BROWSER_SIM_ROUNDS:-0}" -gt 0 ]; then
    # a busier city for the docs screenshot: the other grids' workers, simulated
    local n dev
    : > "$T_DIR/sim-devices"
    for n in 2 3 4; do
      dev=dev-000$n
      echo "$dev,$(t_device "$dev" "g-000$n"),g-000$n" >> "$T_DIR/sim-devices"
    done
    timeout 120 gs-sim --workdir "$T_DIR/sim" --devices "$T_DIR/sim-devices" --rounds "$GS_BROWSER_SIM_ROUNDS" \
      --edits-per-round 8 --jobs 2 --timeout 60 --seed 11 > "$T_DIR/sim.log" 2>&1 || t_fail "gs-sim: $(tail -n 5 "$T_DIR/sim.log")"
    t_log "gs-sim: $(tail -n 1 "$T_DIR/sim.log")"
    # acked = stored; the status goes out just after: wait until the retained city has it
    local today; today=$(t_sql "$GS_DB" "SELECT COALESCE((SELECT visits FROM org_day WHERE org='$CITY' AND day='$(date +%F)'), 0)")
    t_wait 20 "retained $CITY counts the simulated visits ($today)" status_is "$CITY" visits_today "$today" ||
      t_die "status did not settle after gs-sim"
  fi

  # The reference device: pull its grid, visit households, report, sync.
  DEV_HOME=$(t_device "$DEV" "$GRID")
  t_dev "$DEV_HOME" sync --timeout 20 >/dev/null || t_die "$DEV: first sync failed"
  mapfile -t HH < <(t_dev "$DEV_HOME" list household --grid "$GRID" | cut -f1)
  [ "${#HH[@]}" -ge 5 ] || t_die "$DEV pulled ${#HH[@]} households of $GRID, want at least 5"
  t_pass "$DEV synced and pulled the ${#HH[@]} households of $GRID"
  local city0 grid0
  city0=$(status_field "$CITY" visits_today) grid0=$(status_field "$GRID" visits_today)
  t_dev "$DEV_HOME" visit add --grid "$GRID" --household "${HH[0]}" >/dev/null
  t_dev "$DEV_HOME" visit add --grid "$GRID" --household "${HH[0]}" kind=follow_up >/dev/null
  t_dev "$DEV_HOME" visit add --grid "$GRID" --household "${HH[1]}" >/dev/null
  t_dev "$DEV_HOME" report add --grid "$GRID" --category safety_hazard --title "电动车楼道充电" --urgency high >/dev/null
  t_dev "$DEV_HOME" report add --grid "$GRID" --category dispute --title "邻里噪音纠纷" --urgency normal >/dev/null
  t_dev "$DEV_HOME" sync --timeout 20 >/dev/null || t_die "$DEV: sync of 3 visits and 2 reports failed"
  t_wait 20 "retained $GRID counts the 3 visits" status_is "$GRID" visits_today $((grid0 + 3)) &&
    t_pass "retained $GRID counts $DEV's 3 visits"
  t_wait 20 "retained $CITY counts the 3 visits" status_is "$CITY" visits_today $((city0 + 3)) &&
    t_pass "retained $CITY sums them"
  t_wait 20 "$DEV counted active" status_is "$GRID" devices_active_24h 1 && t_pass "retained $GRID counts $DEV active"

  # Called by the browser script with the page open on the grid: 4 more visits (3 new
  # households, 1 again), then a sync.
  MORE="$T_DIR/more-visits.sh" MORE_VISITS=4
  {
    echo '#!/usr/bin/env bash'
    echo 'set -euo pipefail'
    # shellcheck disable=SC2016 # $PATH expands when the hook runs
    printf 'export PATH=%q:"$PATH"\n' "$GS_BIN"
    local h
    for h in "${HH[2]}" "${HH[3]}" "${HH[4]}" "${HH[0]}"; do
      printf 'gs-device --home %q visit add --grid %q --household %q >/dev/null\n' "$DEV_HOME" "$GRID" "$h"
    done
    printf 'gs-device --home %q sync --timeout 20 >/dev/null\n' "$DEV_HOME"
  } > "$MORE"
  # Called before the "cannot publish" part: its observer takes the gs-collector identity.
  BEFORE_DENY="$T_DIR/stop-collector.sh"
  cat > "$BEFORE_DENY" <<EOF
#!/usr/bin/env bash
pid=\$(cat "$GS_DEVSTACK_DIR/collector.pid") || exit 1
kill -TERM "\$pid" 2>/dev/null || exit 0
for _ in \$(seq 200); do kill -0 "\$pid" 2>/dev/null || exit 0; sleep 0.05; done
echo "collector \$pid did not stop in 10 s" >&2; exit 1
EOF
  chmod +x "$MORE" "$BEFORE_DENY"
}

# The made-up tree on gs-devstack without the collector.
fake_stack() {
  t_stack_up --no-collector
  devstack_env
  t_log "stack: gs-devstack up --no-collector in $T_DIR/stack (made-up status tree)"
}

# The made-up tree on a broker set up here: a PKI made with openssl (what gs-certs makes),
# mosquitto from the templates.
own_stack() {
  # ---- PKI (what gs-certs would make; openssl here so this test does not depend on it)
  PKI="$T_DIR/pki"
  mkdir -p "$PKI"
  (
    cd "$PKI"
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    key ca.key
    openssl req -x509 -new -key ca.key -out ca.crt -days 2 -subj "/CN=gridsync test CA" \
      -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    issue() { # name CN extensions
      key "$1.key"
      openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
      printf '%s\n' "$3" > "$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    }
    issue broker 127.0.0.1 "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
    issue collector gs-collector "extendedKeyUsage=clientAuth"
    issue bridge-test bridge-test "extendedKeyUsage=clientAuth"
    # An empty CRL: `openssl ca -gencrl` needs a minimal CA config and database.
    : > index.txt
    echo 01 > crlnumber
    cat > ca.cnf <<EOF
[ca]
default_ca = test_ca
[test_ca]
database = $PKI/index.txt
crlnumber = $PKI/crlnumber
default_md = sha256
default_crl_days = 2
EOF
    openssl ca -gencrl -config ca.cnf -keyfile ca.key -cert ca.crt -out crl.pem 2>/dev/null
  ) || t_die "making the test PKI failed"
  { [ -s "$PKI/crl.pem" ] && [ -s "$PKI/collector.crt" ]; } || t_die "test PKI incomplete"

  # ---- broker config from the project's templates
  MQTT_PORT=$(t_free_port)
  WS_PORT=$(t_free_port)
  while [ "$WS_PORT" = "$MQTT_PORT" ]; do WS_PORT=$(t_free_port); done
  DASH_USER=dashboard
  DASH_PASS="dash-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  RUN="$T_DIR/run"
  mkdir -p "$RUN/mosquitto"
  PLUGIN=""
  if [ "${GS_BROWSER_PLUGIN:-auto}" != off ]; then
    PLUGIN=$(find "$GS_BIN" "$GS_BUILD/broker-bridge" -name gs_broker_plugin.so 2>/dev/null | head -n 1 || true)
  fi
  render() {
    sed -e "s|@DIR@|$RUN|g" -e "s|@PKI@|$PKI|g" -e "s|@BIND@|127.0.0.1|g" \
        -e "s|@MQTT_PORT@|$MQTT_PORT|g" -e "s|@WS_PORT@|$WS_PORT|g" \
        -e "s|@DASHBOARD_DIR@|$DASH_DIR|g" -e "s|@PLUGIN@|$PLUGIN|g" \
        -e "s|@DASHBOARD_USER@|$DASH_USER|g" "$1"
  }
  if [ -n "$PLUGIN" ]; then
    render "$GS_SRC/broker-bridge/mosquitto.conf.in" > "$RUN/mosquitto.conf"
    t_log "broker plugin: $PLUGIN"
  else
    render "$GS_SRC/broker-bridge/mosquitto.conf.in" | sed -e '/^plugin /d' -e '/^plugin_opt_/d' > "$RUN/mosquitto.conf"
    # Without the plugin nothing maps a certificate CN to the username, which the acl
    # (user gs-collector) needs: let mosquitto do it on the TLS listener.
    if ! grep -q '^use_identity_as_username' "$RUN/mosquitto.conf"; then
      sed -i '/^require_certificate true/a use_identity_as_username true' "$RUN/mosquitto.conf"
    fi
    t_log "broker plugin not built (or GS_BROWSER_PLUGIN=off): running without it"
  fi
  # Started as root, mosquitto would drop to user mosquitto, which cannot read the 0700 temp dir.
  if [ "$(id -u)" = 0 ]; then echo "user root" >> "$RUN/mosquitto.conf"; fi
  render "$GS_SRC/broker-bridge/acl.in" > "$RUN/acl"
  mosquitto_passwd -b -c "$RUN/passwd" "$DASH_USER" "$DASH_PASS" 2>/dev/null || t_die "mosquitto_passwd failed"
  chmod 0600 "$RUN/passwd" "$RUN/acl"

  "$MOSQ" -c "$RUN/mosquitto.conf" > "$T_DIR/mosquitto.log" 2>&1 &
  T_PIDS+=("$!")
  t_wait 10 "mosquitto TLS port $MQTT_PORT" t_port_open "$MQTT_PORT" || t_die "mosquitto did not start"
  t_wait 10 "mosquitto websockets port $WS_PORT" t_port_open "$WS_PORT" || t_die "mosquitto websockets listener did not start"
  COLL_CRT=$PKI/collector.crt COLL_KEY=$PKI/collector.key
  READER_CRT=$PKI/bridge-test.crt READER_KEY=$PKI/bridge-test.key
}


# ---- the made-up tree (fake and own): published as the collector would (mutual TLS, -r -q 1)
fake_tree() {
  cat > "$T_DIR/publish.sh" <<EOF
#!/usr/bin/env bash
# publish.sh FILE.jsonl: every line is a status document; published retained, QoS 1,
# to gs/v1/status/{org} over mutual TLS with the gs-collector certificate.
set -euo pipefail
while IFS= read -r doc; do
  [ -n "\$doc" ] || continue
  org=\$(printf '%s' "\$doc" | sed -E 's/.*"org": *"([A-Za-z0-9_-]+)".*/\\1/')
  timeout 10 mosquitto_pub -h 127.0.0.1 -p $MQTT_PORT --cafile $PKI/ca.crt --cert $COLL_CRT \\
    --key $COLL_KEY -i gs-collector -q 1 -r -t "gs/v1/status/\$org" -m "\$doc"
done < "\$1"
EOF
  chmod +x "$T_DIR/publish.sh"
  python3 "$HERE/status_tree.py" "$T_DIR"
  "$T_DIR/publish.sh" "$T_DIR/initial.jsonl" 2>"$T_DIR/publish.log" || t_die "publishing the initial status failed: $(cat "$T_DIR/publish.log")"
  t_pass "harness published $(wc -l < "$T_DIR/initial.jsonl") made-up retained status documents over TLS"
  ORGS=$(python3 -c 'import json,sys; print(",".join(json.loads(l)["org"] for l in open(sys.argv[1]) if l.strip()))' "$T_DIR/initial.jsonl")
  CITY=ct-01 CHAIN=d-01,s-0101,c-12,g-0307 MORE_VISITS=6 BEFORE_DENY=
  MORE="$T_DIR/more-visits.sh"
  printf '#!/usr/bin/env bash\nexec %q %q\n' "$T_DIR/publish.sh" "$T_DIR/update.jsonl" > "$MORE"
  chmod +x "$MORE"
  t_wait 10 "retained status of every org unit" all_retained && t_pass "broker retains every made-up document"
}

STACK=${GS_BROWSER_STACK:-real}
case "$STACK" in
  real) real_stack ;;
  fake) fake_stack; fake_tree ;;
  own) own_stack; fake_tree ;;
  *) t_die "GS_BROWSER_STACK must be real, fake or own" ;;
esac
grep -q '^protocol websockets' "${GS_DEVSTACK_DIR:-$T_DIR/run}/mosquitto.conf" || t_die "broker config has no websockets listener"
t_pass "mosquitto up ($STACK stack; TLS $MQTT_PORT, websockets $WS_PORT)"

# The page is served by mosquitto itself.
page_served() { curl -fsS "http://127.0.0.1:$WS_PORT/" 2>/dev/null | t_has 'data-testid="breadcrumb"'; }
if command -v curl >/dev/null; then
  t_wait 10 "page served from http_dir" page_served && t_pass "mosquitto serves the page from http_dir"
fi

# ---- the browser part
mkdir -p "$ART"
export GS_DASH_URL="http://127.0.0.1:$WS_PORT/"
export GS_DASH_USER="$DASH_USER" GS_DASH_PASS="$DASH_PASS"
export GS_MQTT_PORT="$MQTT_PORT" GS_WS_PORT="$WS_PORT" GS_PKI="$PKI" GS_COLLECTOR_CRT="$COLL_CRT" GS_COLLECTOR_KEY="$COLL_KEY"
export GS_READER_CRT="$READER_CRT" GS_READER_KEY="$READER_KEY" GS_READER_ID=bridge-test
export GS_ORGS="$ORGS" GS_CITY="$CITY" GS_CHAIN="$CHAIN" GS_MORE="$MORE" GS_MORE_VISITS="$MORE_VISITS" GS_BEFORE_DENY="$BEFORE_DENY"
export GS_CHROMIUM="$CHROMIUM" GS_PROFILE="$T_DIR/chromium-profile" GS_ARTIFACTS="$ART"
export NODE_PATH="$NODE_MODULES"
t_log "browser: $CITY > ${CHAIN//,/ > }; $MORE_VISITS more visits by $MORE"
rm -f "$ART"/dashboard*.png
left=$(( T_BUDGET_END - $(date +%s) ))
[ "$left" -ge 30 ] || t_die "only ${left}s of the test's 2-minute budget left for the browser (setup too slow)"
node_rc=0
timeout "$left" node "$HERE/dashboard_browser.cjs" > "$T_DIR/node.out" 2> "$T_DIR/node.log" || node_rc=$?
cat "$T_DIR/node.log" >&2
while read -r verdict what; do
  case "$verdict" in
    PASS) t_pass "$what" ;;
    FAIL) t_fail "$what" ;;
  esac
done < "$T_DIR/node.out"
[ "$node_rc" -eq 0 ] || t_fail "browser script exited with $node_rc"

if [ -f "$ART/dashboard.png" ]; then
  t_pass "screenshot saved: $ART/dashboard.png"
  if [ "$T_FAILS" -eq 0 ] && { [ "${GS_UPDATE_DOCS:-0}" = 1 ] || [ ! -f "$GS_SRC/docs/dashboard.png" ]; }; then
    mkdir -p "$GS_SRC/docs" && cp "$ART/dashboard.png" "$GS_SRC/docs/dashboard.png" && t_log "copied to docs/dashboard.png"
  fi
else
  t_fail "no screenshot at $ART/dashboard.png"
fi

t_done
