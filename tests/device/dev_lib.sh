# dev_lib.sh - helpers for the device tests (source after tests/lib/gs_test.sh).
#
# A real mosquitto with a mutual-TLS listener (require_certificate,
# use_identity_as_username) on certificates made here with openssl, and a
# scripted collector stand-in (mosquitto_sub | bash | mosquitto_pub) that
# answers batches and pulls. The stand-in is a fake peer for scripting the
# collector's behaviour; the real collector is tested in test_device_e2e.sh.

# dev_pki DIR NAME...: CA + server cert for 127.0.0.1/localhost + client certs (CN=NAME).
dev_pki() {
  local d=$1; shift
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=gs-test-ca -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$d/san.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/san.ext" -out "$d/server.crt" 2>/dev/null
  local n
  for n in "$@"; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$n" \
      -keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null
    openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
      -days 2 -out "$d/$n.crt" 2>/dev/null
  done
  [ -s "$d/server.crt" ] || t_die "openssl could not make the test PKI"
}

# dev_broker_start PKI PORT: starts mosquitto; sets BROKER_PID.
dev_broker_start() {
  local pki=$1 port=$2
  cat > "$T_DIR/mosquitto.conf" <<CONF
per_listener_settings false
user $(id -un)
persistence false
log_dest file $T_DIR/mosquitto.log
log_type all
listener $port 127.0.0.1
cafile $pki/ca.crt
certfile $pki/server.crt
keyfile $pki/server.key
require_certificate true
use_identity_as_username true
CONF
  mosquitto -c "$T_DIR/mosquitto.conf" > "$T_DIR/mosquitto.out" 2>&1 &
  BROKER_PID=$!
  T_PIDS+=("$BROKER_PID")
  t_wait 10 "mosquitto on port $port" t_port_open "$port" || t_die "mosquitto did not start"
}

dev_broker_stop() {
  kill "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
}

# dev_fake_start PKI PORT MODE: the collector stand-in. MODE is a comma list:
#   normal     ack every batch (acked_seq = highest seq), answer pulls from $T_DIR/page.json
#   drop1      ignore the first batch (no ack): the device must resend it
#   reject1    reject the first change of every batch as forbidden_grid
#   toolarge   answer too_large to batches of more than 2 changes
# Every received batch is appended to $T_DIR/up.log, every pull to pull.log.
dev_fake_start() {
  local pki=$1 port=$2 mode=$3
  : > "$T_DIR/up.log"; : > "$T_DIR/pull.log"
  [ -f "$T_DIR/page.json" ] || echo '[]' > "$T_DIR/page.json"
  local tls=(--cafile "$pki/ca.crt" --cert "$pki/collector.crt" --key "$pki/collector.key" -h 127.0.0.1 -p "$port")
  local subs0
  subs0=$(grep -c "fake-collector 1 gs/v1/dev/+/pull" "$T_DIR/mosquitto.log" || true)
  FAKE_N=$(( ${FAKE_N:-0} + 1 ))
  local fifo="$T_DIR/fake.$FAKE_N.fifo"
  mkfifo "$fifo"
  mosquitto_sub "${tls[@]}" -i fake-collector -q 1 -v -t 'gs/v1/dev/+/up' -t 'gs/v1/dev/+/pull' \
    > "$fifo" 2>> "$T_DIR/fake.log" &
  FAKE_SUB_PID=$!
  T_PIDS+=("$FAKE_SUB_PID")
  (
    n=0
    while read -r topic payload; do
      dev=$(echo "$topic" | cut -d/ -f4)
      case "$topic" in
      */up)
        n=$((n + 1))
        echo "$payload" >> "$T_DIR/up.log"
        if [[ $mode == *drop1* && $n == 1 ]]; then continue; fi
        cnt=$(jq '.changes|length' <<<"$payload")
        if [[ $mode == *toolarge* && $cnt -gt 2 ]]; then
          ack=$(jq -c '{v:1,batch:.batch,error:"too_large",detail:"more than 2 changes"}' <<<"$payload")
        elif [[ $mode == *reject1* ]]; then
          ack=$(jq -c '{v:1,batch:.batch,acked_seq:(.changes|map(.seq)|max),hlc:[(now*1000|floor)+60000,7],
                applied:((.changes|length)-1),duplicates:0,
                rejected:[{id:.changes[0].id,seq:.changes[0].seq,error:"forbidden_grid",detail:"grid not assigned"}],
                conflicts:[]}' <<<"$payload")
        else
          ack=$(jq -c '{v:1,batch:.batch,acked_seq:(.changes|map(.seq)|max),hlc:[(now*1000|floor),3],
                applied:(.changes|length),duplicates:0,rejected:[],conflicts:[]}' <<<"$payload")
        fi
        mosquitto_pub "${tls[@]}" -i fake-pub -q 1 -t "gs/v1/dev/$dev/ack" -m "$ack"
        ;;
      */pull)
        echo "$payload" >> "$T_DIR/pull.log"
        page=$(jq -c --slurpfile e "$T_DIR/page.json" \
          '{v:1,since:.since,next:(if .since < ($e[0]|length) then ($e[0]|length) else .since end),more:false,
            entities:(if .since < ($e[0]|length) then $e[0][.since:] else [] end)}' <<<"$payload")
        mosquitto_pub "${tls[@]}" -i fake-pub -q 1 -t "gs/v1/dev/$dev/down" -m "$page"
        ;;
      esac
    done < "$fifo"
  ) >> "$T_DIR/fake.log" 2>&1 &
  FAKE_PID=$!
  T_PIDS+=("$FAKE_PID")
  # Ready once the broker has seen the stand-in's subscription.
  t_wait 10 "collector stand-in subscribed" dev_log_count_gt "fake-collector 1 gs/v1/dev/+/pull" "$subs0" ||
    t_die "collector stand-in did not subscribe"
}

dev_log_count_gt() { [ "$(grep -c "$1" "$T_DIR/mosquitto.log" || true)" -gt "$2" ]; }

dev_fake_stop() {
  # The reader loop ends at EOF once mosquitto_sub is gone.
  kill "$FAKE_SUB_PID" 2>/dev/null || true
  wait "$FAKE_SUB_PID" 2>/dev/null || true
  wait "$FAKE_PID" 2>/dev/null || true
}

# dev_init HOME ID PKI PORT
dev_init() {
  gs-device --home "$1" init --id "$2" --ca "$3/ca.crt" --cert "$3/$2.crt" --key "$3/$2.key" \
    --host 127.0.0.1 --mqtt-port "$4" > /dev/null
}

# dev_status HOME KEY: one value of `gs-device status`.
dev_status() { gs-device --home "$1" status | awk -v k="$2" '$1 == k { print $2 }'; }
