# test_certs_cli.sh - gs-certs without a broker: what it writes agrees with
# openssl, bad inputs fail with one clear line and leave inventory.csv
# byte-identical, the inventory survives concurrent runs, issue-batch speed.
. "$GS_SRC/tests/lib/gs_test.sh"
P="$T_DIR/pki"
INV="$P/inventory.csv"
cd "$T_DIR"

mode() { stat -c %a "$1"; }
# expect_fail WHAT ARGS...: gs-certs must fail with one error line, inventory unchanged.
expect_fail() {
  local what=$1; shift
  cp "$INV" "$T_DIR/inv.before"
  local rc=0
  gs-certs --pki "$P" "$@" > "$T_DIR/out" 2> "$T_DIR/err" || rc=$?
  if [ "$rc" -eq 0 ]; then t_fail "$what: succeeded"; return; fi
  if ! cmp -s "$INV" "$T_DIR/inv.before"; then t_fail "$what: inventory.csv changed"; return; fi
  if [ "$(grep -c 'error:' "$T_DIR/err")" -lt 1 ]; then t_fail "$what: no error line: $(cat "$T_DIR/err")"; return; fi
  if grep -q 'PRIVATE KEY' "$T_DIR/out" "$T_DIR/err"; then t_fail "$what: printed key material"; return; fi
  t_pass "$what -> $(head -n 1 "$T_DIR/err" | cut -c1-150)"
}

# --- init ---
umask 022
gs-certs --pki "$P" init --cn "gs test CA" 2>/dev/null || t_die "init failed"
t_eq "$(mode "$P/ca.key")" 600 "ca.key is 0600"
t_eq "$(mode "$P/ca.crt")" 644 "ca.crt follows the umask"
t_eq "$(head -n 1 "$INV")" "kind,name,serial,not_before,not_after,status,reason,revoked_at" "inventory header"
t_eq "$(openssl crl -in "$P/crl.pem" -CAfile "$P/ca.crt" -noout 2>&1)" "verify OK" "init writes a valid empty CRL"
t_eq "$(openssl x509 -in "$P/ca.crt" -noout -ext basicConstraints,keyUsage 2>/dev/null | tr -s ' \n' ' ')" \
  "X509v3 Basic Constraints: critical CA:TRUE, pathlen:0 X509v3 Key Usage: critical Certificate Sign, CRL Sign " "CA extensions"
expect_fail "second init refused" init

# --- issue with a generated key; openssl agrees with list ---
gs-certs --pki "$P" issue dev-001 2>/dev/null || t_fail "issue dev-001"
t_eq "$(mode "$P/dev-001.key")" 600 "device key is 0600"
t_eq "$(openssl verify -CAfile "$P/ca.crt" "$P/dev-001.crt" 2>&1)" "$P/dev-001.crt: OK" "openssl verify of dev-001"
text=$(openssl x509 -in "$P/dev-001.crt" -noout -text)
row=$(gs-certs --pki "$P" list | awk '$2 == "dev-001"')
serial=$(echo "$row" | awk '{print $3}')
t_eq "$(openssl x509 -in "$P/dev-001.crt" -noout -serial)" "serial=$serial" "list serial == openssl serial"
t_eq "$(openssl x509 -in "$P/dev-001.crt" -noout -subject)" "subject=CN = dev-001" "subject CN"
nb=$(date -u -d "$(openssl x509 -in "$P/dev-001.crt" -noout -startdate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
na=$(date -u -d "$(openssl x509 -in "$P/dev-001.crt" -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
t_eq "$(echo "$row" | awk '{print $4" "$5" "$1" "$6}')" "$nb $na device valid" "list validity == openssl validity"
echo "$text" | grep -A1 'Key Usage: critical' | t_has 'Digital Signature' && t_pass "keyUsage digitalSignature (critical)" || t_fail "keyUsage"
echo "$text" | grep -A1 'Extended Key Usage' | t_has 'TLS Web Client Authentication' && t_pass "EKU clientAuth" || t_fail "EKU"
echo "$text" | grep -A1 'Basic Constraints' | t_has 'CA:FALSE' && t_pass "CA:FALSE" || t_fail "basicConstraints"
[ ${#serial} -eq 32 ] && [ "${serial:0:1}" \> "3" ] && t_pass "serial is 128-bit, positive" || t_fail "serial $serial"
[ "$(awk -F, '$2=="dev-001"' "$INV" | wc -l)" = 1 ] && t_pass "one inventory row" || t_fail "inventory rows for dev-001"

# umask is respected for non-key files
(umask 077; gs-certs --pki "$P" issue dev-umask 2>/dev/null)
t_eq "$(mode "$P/dev-umask.crt")/$(mode "$P/dev-umask.key")" "600/600" "umask 077 applies to the certificate"

# --- services and servers ---
gs-certs --pki "$P" issue-service gs-collector 2>/dev/null || t_fail "issue-service"
t_eq "$(awk -F, '$2=="gs-collector"{print $1}' "$INV")" service "gs-collector is kind=service"
gs-certs --pki "$P" issue-server broker --dns localhost --ip 127.0.0.1,::1 2>/dev/null || t_fail "issue-server"
san=$(openssl x509 -in "$P/broker.crt" -noout -ext subjectAltName 2>/dev/null | tail -n 1 | tr -d ' ')
t_eq "$san" "DNS:localhost,IPAddress:127.0.0.1,IPAddress:0:0:0:0:0:0:0:1" "server SAN"
openssl x509 -in "$P/broker.crt" -noout -text | t_has 'TLS Web Server Authentication' && t_pass "server EKU serverAuth" || t_fail "server EKU"
expect_fail "bad --ip" issue-server coap --ip 300.1.1.1

# --- from a CSR: the key stays on the phone ---
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T_DIR/phone.key" \
  -subj "/CN=dev-csr" -out "$T_DIR/phone.csr" 2>/dev/null
gs-certs --pki "$P" issue dev-csr --csr "$T_DIR/phone.csr" 2>/dev/null || t_fail "issue from CSR"
[ ! -e "$P/dev-csr.key" ] && t_pass "no key file for a CSR issue" || t_fail "key file written for CSR"
t_eq "$(openssl x509 -in "$P/dev-csr.crt" -noout -pubkey | sha256sum)" "$(openssl pkey -in "$T_DIR/phone.key" -pubout | sha256sum)" "certificate carries the CSR's key"
openssl req -new -key "$T_DIR/phone.key" -subj "/O=grid" -out "$T_DIR/nocn.csr" 2>/dev/null
gs-certs --pki "$P" issue dev-nocn --csr "$T_DIR/nocn.csr" 2>/dev/null && t_pass "CSR without CN accepted" || t_fail "CSR without CN"
t_eq "$(openssl x509 -in "$P/dev-nocn.crt" -noout -subject)" "subject=CN = dev-nocn" "CN comes from the device id"

# --- bad inputs: one error line, inventory byte-identical ---
expect_fail "CSR with another CN" issue dev-other --csr "$T_DIR/phone.csr"
openssl req -in "$T_DIR/phone.csr" -outform DER -out "$T_DIR/phone.der" 2>/dev/null
python3 - "$T_DIR/phone.der" "$T_DIR/bad.der" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-3] ^= 0x01   # inside the ECDSA signature value: still parses, no longer verifies
open(sys.argv[2], "wb").write(b)
PY
expect_fail "CSR with a bad signature" issue dev-csr2 --csr "$T_DIR/bad.der"
echo "not a csr" > "$T_DIR/junk.csr"
expect_fail "CSR that is not a CSR" issue dev-csr3 --csr "$T_DIR/junk.csr"
expect_fail "duplicate device" issue dev-001
expect_fail "invalid device id (upper case)" issue Dev_001
expect_fail "invalid device id (too short)" issue ab
expect_fail "reserved service name as device" issue bridge-x
expect_fail "renew unknown" renew dev-nope
expect_fail "revoke unknown" revoke dev-nope
expect_fail "bad revoke reason" revoke dev-001 --reason because
printf 'dev-b1\nBAD ID\ndev-b1\n' > "$T_DIR/bad-batch.txt"
expect_fail "batch with bad and duplicate lines" issue-batch "$T_DIR/bad-batch.txt"
[ ! -e "$P/dev-b1.crt" ] && t_pass "bad batch issued nothing" || t_fail "bad batch issued dev-b1"
cp "$P/ca.key" "$T_DIR/ca.key.good"
echo garbage > "$P/ca.key"
expect_fail "unreadable CA key" issue dev-002
cp "$T_DIR/ca.key.good" "$P/ca.key"
cp "$INV" "$T_DIR/inv.good"
echo "device,dev-x,ZZZZ,2026-01-01T00:00:00Z,2027-01-01T00:00:00Z,valid,," >> "$INV"
expect_fail "corrupted inventory (bad serial)" issue dev-002
printf 'kind,name\n' > "$INV"
expect_fail "corrupted inventory (bad header)" issue dev-002
head -c 100 "$T_DIR/inv.good" > "$INV"
expect_fail "corrupted inventory (truncated)" list
cp "$T_DIR/inv.good" "$INV"
expect_fail "missing PKI dir" --pki "$T_DIR/nope" list

# --- expiry, renew, revoke, CRL ---
gs-certs --pki "$P" issue dev-old --not-before 20200101000000 --not-after 20200102000000 2>/dev/null || t_fail "issue expired"
t_eq "$(gs-certs --pki "$P" list --status expired | awk 'NR>1{print $2}')" dev-old "list --status expired"
gs-certs --pki "$P" issue dev-old 2>"$T_DIR/err" && grep -q "this replaces its expired certificate" "$T_DIR/err" && t_pass "expired name re-issued as a replacement" || t_fail "re-issue expired"
gs-certs --pki "$P" issue dev-soon --days 5 2>/dev/null
t_eq "$(gs-certs --pki "$P" list --expiring-days 10 | awk 'NR>1{print $2}')" dev-soon "list --expiring-days"
old_serial=$(openssl x509 -in "$P/dev-001.crt" -noout -serial | cut -d= -f2)
old_pub=$(openssl x509 -in "$P/dev-001.crt" -noout -pubkey | sha256sum)
gs-certs --pki "$P" renew dev-001 --days 30 2>/dev/null || t_fail "renew"
new_serial=$(openssl x509 -in "$P/dev-001.crt" -noout -serial | cut -d= -f2)
[ "$new_serial" != "$old_serial" ] && t_pass "renew gives a new serial" || t_fail "renew serial"
t_eq "$(openssl x509 -in "$P/dev-001.crt" -noout -pubkey | sha256sum)" "$old_pub" "renew keeps the key"
t_eq "$(awk -F, -v s="$old_serial" '$3==s{print $6}' "$INV")" superseded "old row superseded"
gs-certs --pki "$P" revoke dev-001 --reason keyCompromise 2>/dev/null || t_fail "revoke"
t_eq "$(awk -F, '$2=="dev-001"{print $6","$7}' "$INV" | sort -u)" "revoked,keyCompromise" "revoke covers the renewed and the superseded certificate"
gs-certs --pki "$P" crl --days 7 2>/dev/null || t_fail "crl"
t_eq "$(openssl crl -in "$P/crl.pem" -CAfile "$P/ca.crt" -noout 2>&1)" "verify OK" "CRL verifies"
crl_text=$(openssl crl -in "$P/crl.pem" -noout -text)
echo "$crl_text" | t_has "$old_serial" && echo "$crl_text" | t_has "$new_serial" && t_pass "CRL lists both serials" || t_fail "CRL serials"
echo "$crl_text" | t_has 'Key Compromise' && t_pass "CRL reason code" || t_fail "CRL reason"
rc=0; openssl verify -crl_check -CRLfile "$P/crl.pem" -CAfile "$P/ca.crt" "$P/dev-001.crt" >/dev/null 2>&1 || rc=$?
t_eq "$rc" 2 "openssl verify -crl_check rejects the revoked certificate"
t_eq "$(openssl verify -crl_check -CRLfile "$P/crl.pem" -CAfile "$P/ca.crt" "$P/dev-csr.crt" 2>&1)" "$P/dev-csr.crt: OK" "others pass the CRL check"
t_eq "$(gs-certs --pki "$P" list --status revoked | awk 'NR>1{print $2}' | sort -u)" dev-001 "list --status revoked"

# --- bundle and QR ---
gs-certs --pki "$P" bundle dev-csr --host grid.example --mqtt-port 8883 --coap-port 5684 --out "$T_DIR/b1" 2>/dev/null || t_fail "bundle (CSR device)"
[ -f "$T_DIR/b1/device.crt" ] && [ -f "$T_DIR/b1/ca.crt" ] && [ ! -e "$T_DIR/b1/device.key" ] && t_pass "CSR bundle has no key" || t_fail "CSR bundle files"
gs-certs --pki "$P" bundle dev-umask --host grid.example --out "$T_DIR/b2" 2>/dev/null || t_fail "bundle"
t_eq "$(mode "$T_DIR/b2/device.key")" 600 "bundle key 0600"
t_eq "$(sed -n '/\[device\]/,/^$/p;/\[mqtt\]/,/^$/p' "$T_DIR/b2/device.conf" | tr '\n' ' ')" "[device] id=dev-umask  [mqtt] host=grid.example port=8883  " "device.conf INI"
openssl verify -CAfile "$T_DIR/b2/ca.crt" "$T_DIR/b2/device.crt" >/dev/null 2>&1 && t_pass "bundle cert verifies with bundle CA" || t_fail "bundle verify"
gs-certs --pki "$P" bundle dev-umask --file "$T_DIR/one.txt" 2>/dev/null || t_fail "bundle --file"
t_eq "$(mode "$T_DIR/one.txt")/$(grep -c 'BEGIN' "$T_DIR/one.txt")" "600/3" "single-file bundle (0600, cert+key+CA)"
expect_fail "bundle of a revoked device" bundle dev-001 --out "$T_DIR/b3"
qr=$(gs-certs --pki "$P" qr dev-umask --host grid.example --mqtt-port 8883 --coap-port 5684)
fp=$(openssl x509 -in "$P/ca.crt" -outform DER | sha256sum | cut -d' ' -f1)
t_eq "$(echo "$qr" | tail -n 1)" "gridsync://provision?id=dev-umask&host=grid.example&mqtt=8883&coap=5684&fp=$fp" "QR URI with CA fingerprint"
[ "$(echo "$qr" | wc -l)" -gt 20 ] && ! echo "$qr" | t_has 'PRIVATE' && t_pass "QR printed, no key material" || t_fail "QR output"

# --- issue-batch: speed, atomicity, concurrency ---
{ echo "id,grid,name"; for i in $(seq -w 1 500); do echo "dev-b$i,g-0001,worker $i"; done; } > "$T_DIR/batch.csv"
before=$(($(wc -l < "$INV")))
t0=$(date +%s%N)
gs-certs --pki "$P" issue-batch "$T_DIR/batch.csv" 2>"$T_DIR/batch.err" || t_fail "issue-batch"
t1=$(date +%s%N)
rate=$(( 500 * 1000000000 / (t1 - t0) ))
echo "issue-batch: 500 certificates in $(( (t1 - t0) / 1000000 )) ms = $rate certs/s" >&2
t_eq "$(( $(wc -l < "$INV") - before ))" 500 "500 inventory rows added"
t_eq "$(ls "$P"/dev-b*.crt | wc -l)/$(stat -c %a "$P"/dev-b*.key | sort -u)" "500/600" "500 certificates, keys 0600"
grep -q 'issued 500/500' "$T_DIR/batch.err" && t_pass "plain progress lines when stderr is not a tty" || t_fail "progress"
openssl verify -CAfile "$P/ca.crt" "$P/dev-b001.crt" "$P/dev-b250.crt" "$P/dev-b500.crt" >/dev/null 2>&1 && t_pass "batch certificates verify" || t_fail "batch verify"
t_eq "$(cut -d, -f3 "$INV" | sort | uniq -d | wc -l)" 0 "serials unique"
# Speed is measured in bench/ (ratio against a ceiling), never asserted in a
# test: the rate is only logged here.
t_log "issue-batch: $rate certs/s (target 300 on an idle machine; see docs/BENCHMARKS.md)"
expect_fail "batch re-run refused without --skip-existing" issue-batch "$T_DIR/batch.csv"
gs-certs --pki "$P" issue-batch "$T_DIR/batch.csv" --skip-existing 2>"$T_DIR/err" && grep -q '0 issued, 500 skipped' "$T_DIR/err" \
  && t_pass "--skip-existing resumes" || t_fail "--skip-existing: $(cat "$T_DIR/err")"
# Two runs at once: the lock serialises them, nothing is lost.
seq -f "dev-x%03g" 1 150 > "$T_DIR/x.txt"
seq -f "dev-y%03g" 1 150 > "$T_DIR/y.txt"
before=$(($(wc -l < "$INV")))
gs-certs --pki "$P" issue-batch "$T_DIR/x.txt" 2>/dev/null & p1=$!
gs-certs --pki "$P" issue-batch "$T_DIR/y.txt" 2>/dev/null & p2=$!
for _ in 1 2 3; do gs-certs --pki "$P" issue "dev-z$_" 2>/dev/null || t_fail "concurrent single issue"; done
wait "$p1" || t_fail "concurrent batch 1"
wait "$p2" || t_fail "concurrent batch 2"
t_eq "$(( $(wc -l < "$INV") - before ))" 303 "concurrent runs: all 303 rows recorded"
gs-certs --pki "$P" list >/dev/null 2>&1 && t_pass "inventory parses after concurrent runs" || t_fail "inventory corrupted"

t_done
