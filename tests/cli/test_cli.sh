#!/usr/bin/env bash
# test_cli - the command lines of the programs behave alike (issue 18):
# --help exits 0, --version prints "<prog> <project version>", an unknown
# option or a stray argument exits 2 naming it and does nothing, and
# "--opt=value" works like "--opt value".
#
# One line per program in the table at the end: adding a program is one line.
. "$GS_SRC/tests/lib/gs_test.sh"
set -f # the command lines below are split on spaces, never globbed
VERSION=$(sed -n 's/^project(gridsync VERSION \([0-9.]*\).*/\1/p' "$GS_SRC/CMakeLists.txt")
[ -n "$VERSION" ] || t_die "no project(VERSION) in $GS_SRC/CMakeLists.txt"

# run NAME PROG ARGS...: runs PROG ARGS with stdout/stderr in $T_DIR/NAME.{out,err}; sets RC
run() {
  local name=$1; shift
  RC=0
  timeout 60 "$@" > "$T_DIR/$name.out" 2> "$T_DIR/$name.err" < /dev/null || RC=$?
}

# cli PROG OK VALID TYPO [OK_STATUS]
#   OK     a command line that uses --opt=value and must exit OK_STATUS (0)
#   VALID  a valid command line; with a stray argument appended it must exit 2
#   TYPO   a command line with the unknown option --bogus; it must exit 2 and
#          leave $NEW (named in it) uncreated
cli() {
  local p=$1 ok=$2 valid=$3 typo=$4 ok_rc=${5:-0} n
  n=$(basename "$p")
  # shellcheck disable=SC2086
  {
    run "$n-help" "$p" --help
    t_eq "$RC" 0 "$n --help exits 0"
    t_has -i usage "$T_DIR/$n-help.out" && t_pass "$n --help prints the usage on stdout" || t_fail "$n --help: no usage on stdout"

    run "$n-version" "$p" --version
    t_eq "$RC/$(cat "$T_DIR/$n-version.out")" "0/$n $VERSION" "$n --version"

    run "$n-unknown" "$p" --no-such-option
    t_eq "$RC" 2 "$n --no-such-option exits 2"
    t_has -e "'--no-such-option'" "$T_DIR/$n-unknown.err" &&
      t_pass "$n names the unknown option: $(head -n 1 "$T_DIR/$n-unknown.err")" ||
      t_fail "$n does not name the unknown option: $(cat "$T_DIR/$n-unknown.err")"

    run "$n-stray" "$p" $valid stray-argument
    t_eq "$RC" 2 "$n $valid stray-argument exits 2"
    t_has "stray-argument" "$T_DIR/$n-stray.err" && t_pass "$n names the stray argument" ||
      t_fail "$n does not name the stray argument: $(cat "$T_DIR/$n-stray.err")"

    run "$n-typo" "$p" $typo
    t_eq "$RC" 2 "$n $typo exits 2"
    [ ! -e "$NEW" ] && t_pass "$n with a typo'd option created nothing" || t_fail "$n $typo created $NEW"
    t_has -e "--help" "$T_DIR/$n-typo.err" && t_pass "$n says where to look (--help)" || t_fail "$n typo: $(cat "$T_DIR/$n-typo.err")"

    run "$n-ok" "$p" $ok
    t_eq "$RC" "$ok_rc" "$n $ok (--opt=value) exits $ok_rc"
    [ "$RC" = "$ok_rc" ] || cat "$T_DIR/$n-ok.err" >&2
  }
}

NEW=$T_DIR/must-not-exist
# fixtures: a PKI with one device certificate, an empty fleet, a fake stack
gs-certs --pki "$T_DIR/pki0" init >/dev/null 2>&1 || t_die "gs-certs init"
gs-certs --pki "$T_DIR/pki0" issue dev-0001 >/dev/null 2>&1 || t_die "gs-certs issue dev-0001"
: > "$T_DIR/empty-fleet.csv"
mkdir -p "$T_DIR/stack" && echo "export GS_DEVSTACK_DIR=$T_DIR/stack" > "$T_DIR/stack/devstack.env"
P0=$T_DIR/pki0

#   PROGRAM     OK (uses --opt=value; exits 0)
#               VALID (+ a stray argument: exits 2)
#               TYPO (--bogus: exits 2, creates nothing at $NEW)   [OK's exit status]
# (gs-sim without a broker: the empty fleet file is refused after parsing, status 1)
cli gs-certs    "--pki=$T_DIR/pki1 init --cn=cli-test --days=30" \
                "--pki $P0 list" \
                "--pki $NEW --bogus init"
cli gs-device   "--home=$T_DIR/dev init --id=dev-0001 --ca=$P0/ca.crt --cert=$P0/dev-0001.crt --key=$P0/dev-0001.key --host=127.0.0.1 --mqtt-port=8883" \
                "--home $T_DIR/dev status" \
                "--home $NEW init --bogus --id dev-0001"
cli gs-sim      "--workdir=$T_DIR/sim --devices=$T_DIR/empty-fleet.csv --rounds=1" \
                "--workdir $T_DIR/sim --devices $T_DIR/empty-fleet.csv --rounds 1" \
                "--workdir $NEW --devices $T_DIR/empty-fleet.csv --rounds 1 --bogus" 1
cli gs-devstack "env --dir=$T_DIR/stack" \
                "env --dir $T_DIR/stack" \
                "up --dir $NEW --bogus"

# (gs-admin's OK line makes the store the lines below use; gs-rollup without a
# broker: the missing CA file is refused after parsing, status 1)
cli gs-admin    "--db=$T_DIR/a.db seed --households=20" \
                "--db $T_DIR/a.db device list" \
                "--db $NEW --bogus seed"
RL="--host 127.0.0.1 --port 1 --cafile $T_DIR/no-such-ca.crt --certfile $P0/dev-0001.crt --keyfile $P0/dev-0001.key"
cli gs-rollup   "--db=$T_DIR/a.db --host=127.0.0.1 --port=1 --cafile=$T_DIR/no-such-ca.crt --certfile=$P0/dev-0001.crt --keyfile=$P0/dev-0001.key" \
                "--db $T_DIR/a.db $RL" \
                "--db $NEW --bogus $RL" 1

# (gs-collector --check on a configuration whose store does not exist yet:
# valid for a first start, and --check creates nothing)
printf '[store]\ndb = %s\n\n[status]\ntimezone = UTC\n' "$T_DIR/coll.db" > "$T_DIR/coll.conf"
printf '[store]\ndb = %s\n' "$NEW" > "$T_DIR/coll-new.conf"
cli gs-collector "--config=$T_DIR/coll.conf --check" \
                 "-c $T_DIR/coll.conf --check" \
                 "-c $T_DIR/coll-new.conf --bogus"

# what the OK lines did
t_eq "$(openssl x509 -in "$T_DIR/pki1/ca.crt" -noout -subject 2>/dev/null)" "subject=CN = cli-test" "gs-certs --cn=cli-test reached the CA"
gs-device --home "$T_DIR/dev" status 2>/dev/null | t_has "^device dev-0001$" && t_pass "gs-device --id=dev-0001 reached the device" ||
  t_fail "gs-device init with --opt=value: $(gs-device --home "$T_DIR/dev" status 2>&1)"
t_has "empty-fleet.csv lists no devices" "$T_DIR/gs-sim-ok.err" && t_pass "gs-sim --devices=FILE reached the fleet file" ||
  t_fail "gs-sim --devices=FILE: $(cat "$T_DIR/gs-sim-ok.err")"
t_eq "$(cat "$T_DIR/gs-devstack-ok.out")" "export GS_DEVSTACK_DIR=$T_DIR/stack" "gs-devstack env --dir=DIR read DIR"
t_has "160 households" "$T_DIR/gs-admin-ok.out" && t_pass "gs-admin seed --households=20 seeded 20 per grid" ||
  t_fail "gs-admin seed --households=20: $(cat "$T_DIR/gs-admin-ok.out" "$T_DIR/gs-admin-ok.err")"
t_has "cafile=$T_DIR/no-such-ca.crt" "$T_DIR/gs-rollup-ok.err" && t_pass "gs-rollup --cafile=FILE reached the TLS setup" ||
  t_fail "gs-rollup --cafile=FILE: $(cat "$T_DIR/gs-rollup-ok.err")"

# the store holds residents' personal data: a new one is 0600 whatever the umask
t_eq "$(stat -c %a "$T_DIR/a.db")" 600 "gs-admin seed made the store 0600"
(umask 0 && gs-admin --db "$T_DIR/umask0.db" seed --households 1 > /dev/null 2>&1) || t_fail "gs-admin seed under umask 0"
t_eq "$(stat -c %a "$T_DIR/umask0.db")" 600 "gs-admin seed under umask 0 made the store 0600"

# a command's bad option is refused before the store is opened: nothing created
run seed-typo gs-admin --db "$NEW" seed --househols 5
t_eq "$RC" 2 "gs-admin seed --househols exits 2"
[ ! -e "$NEW" ] && t_pass "gs-admin seed with a typo'd option created no store" || t_fail "gs-admin seed --househols created $NEW"
run backup-none gs-admin --db "$T_DIR/a.db" backup
t_eq "$RC" 2 "gs-admin backup without FILE exits 2"

# a misspelt option of a command must not fall back to its default (all households)
run export-typo gs-admin --db "$T_DIR/a.db" export households --orgg g-0001
t_eq "$RC" 2 "gs-admin export households --orgg exits 2"
[ ! -s "$T_DIR/export-typo.out" ] && t_pass "gs-admin export with a typo'd option printed nothing on stdout" ||
  t_fail "gs-admin export --orgg printed: $(head -c 200 "$T_DIR/export-typo.out")"
t_has -e "'--orgg'" "$T_DIR/export-typo.err" && t_pass "gs-admin export names --orgg" ||
  t_fail "gs-admin export --orgg: $(cat "$T_DIR/export-typo.err")"
run export-json gs-admin --db "$T_DIR/a.db" export households --format=json --org=g-0001
t_eq "$RC/$(head -c 1 "$T_DIR/export-json.out")" "0/[" "gs-admin export --format=json gives JSON"
jq -e 'length == 20 and all(.[]; .fields.grid == "g-0001")' "$T_DIR/export-json.out" > /dev/null &&
  t_pass "gs-admin export --org=g-0001 gives g-0001's 20 households" || t_fail "export --org=g-0001: $(head -c 300 "$T_DIR/export-json.out")"
t_done
