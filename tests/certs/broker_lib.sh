# broker_lib.sh - starts the real mosquitto with the plugin for tests/certs (source
# after tests/lib/gs_test.sh). Everything lives in $T_DIR.
#
#   b_pki_init             PKI in $PKI with CA, broker server cert, gs-collector
#   b_broker_start         renders broker-bridge/mosquitto.conf.in + acl.in, starts
#                          mosquitto on free ports ($MQTT_PORT, $WS_PORT), waits ready
#   b_sub NAME OUT TOPIC.. mosquitto_sub with NAME's certificate in the background ($!)
#   b_pub NAME TOPIC MSG [extra args]   mosquitto_pub with NAME's certificate
PKI="$T_DIR/pki"
RUN="$T_DIR/run"
DASH_USER=dashboard
DASH_PASS=dash-secret
MOSQ=${GS_MOSQUITTO:-/usr/sbin/mosquitto}

b_pki_init() {
  gs-certs --pki "$PKI" init --cn "gs test CA" 2>/dev/null || t_die "gs-certs init failed"
  gs-certs --pki "$PKI" issue-server broker --dns localhost --ip 127.0.0.1,::1 2>/dev/null \
    || t_die "issue-server failed"
  gs-certs --pki "$PKI" issue-service gs-collector 2>/dev/null || t_die "issue-service failed"
}

b_render() {
  local tmpl="$GS_SRC/broker-bridge/mosquitto.conf.in"
  mkdir -p "$RUN/mosquitto" "$RUN/www"
  echo '<html>gs</html>' > "$RUN/www/index.html"
  sed -e "s|@DIR@|$RUN|g" -e "s|@PKI@|$PKI|g" -e "s|@BIND@|127.0.0.1|g" \
      -e "s|@MQTT_PORT@|$MQTT_PORT|g" -e "s|@WS_PORT@|$WS_PORT|g" \
      -e "s|@DASHBOARD_DIR@|$RUN/www|g" -e "s|@PLUGIN@|$GS_BIN/gs_broker_plugin.so|g" \
      -e "s|@DASHBOARD_USER@|$DASH_USER|g" "$tmpl" > "$RUN/mosquitto.conf"
  # mosquitto 2.0 never calls a plugin's basic-auth callback on a listener with
  # use_identity_as_username (handle_connect.c: "Authentication assumed to be
  # cleared"), so client id == CN could not be enforced. The plugin maps the CN
  # to the username itself; see docs/CERTS.md. Drop the line if the template
  # still has it.
  if [ "${B_KEEP_IDENTITY:-0}" != 1 ] && grep -q '^use_identity_as_username true' "$RUN/mosquitto.conf"; then
    t_log "template sets use_identity_as_username; removing it (plugin sets username = CN)"
    sed -i '/^use_identity_as_username true/d' "$RUN/mosquitto.conf"
  fi
  # Running as root, mosquitto would switch to the mosquitto user, which cannot
  # read the 0600 broker key made by this test's user.
  if [ "$(id -u)" = 0 ] && ! grep -q '^user ' "$RUN/mosquitto.conf"; then
    sed -i '1i user root' "$RUN/mosquitto.conf"
  fi
  sed -e "s|@DASHBOARD_USER@|$DASH_USER|g" "$GS_SRC/broker-bridge/acl.in" > "$RUN/acl"
  mosquitto_passwd -b -c "$RUN/passwd" "$DASH_USER" "$DASH_PASS" 2>/dev/null
}

b_broker_start() {
  MQTT_PORT=${MQTT_PORT:-$(t_free_port)}
  WS_PORT=${WS_PORT:-$(t_free_port)}
  while [ "$WS_PORT" = "$MQTT_PORT" ]; do WS_PORT=$(t_free_port); done
  b_render
  "$MOSQ" -c "$RUN/mosquitto.conf" > "$T_DIR/mosquitto.log" 2>&1 &
  BROKER_PID=$!
  T_PIDS+=("$BROKER_PID")
  t_wait 15 "mosquitto listening on $MQTT_PORT" t_port_open "$MQTT_PORT" || t_die "broker did not start"
  t_wait 15 "mosquitto listening on $WS_PORT" t_port_open "$WS_PORT" || t_die "broker did not start"
}

# SIGHUP: mosquitto re-reads its config, certificates and crlfile (2.0.11 logs
# nothing at our log levels; callers poll for the effect they expect).
b_broker_reload() { kill -HUP "$BROKER_PID"; }

# TLS client options of certificate NAME (files NAME.crt/NAME.key in dir, default $PKI).
b_tls() {
  local name=$1 dir=${2:-$PKI}
  echo "-h 127.0.0.1 -p $MQTT_PORT --cafile $PKI/ca.crt --cert $dir/$name.crt --key $dir/$name.key"
}

b_pub() {
  local name=$1 topic=$2 msg=$3; shift 3
  # shellcheck disable=SC2046
  timeout 10 mosquitto_pub $(b_tls "$name") -i "$name" -q 1 -t "$topic" -m "$msg" "$@"
}

# b_sub NAME OUTFILE TOPIC [extra mosquitto_sub args]: background subscriber; pid in $!
b_sub() {
  local name=$1 out=$2 topic=$3; shift 3
  # shellcheck disable=SC2046
  mosquitto_sub $(b_tls "$name") -i "$name" -q 1 -t "$topic" -v "$@" > "$out" 2>"$out.err" &
  T_PIDS+=("$!")
}

# 0 when the broker log shows a subscription of client id $1.
b_subscribed() { grep -q "$1 $2" "$T_DIR/mosquitto.log"; }
