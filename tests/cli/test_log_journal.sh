#!/usr/bin/env bash
# test_log_journal - under systemd (JOURNAL_STREAM names stderr's device and
# inode) every log line starts with its sd-daemon priority and carries no
# timestamp; otherwise (unset, or naming another stream) the plain format.
. "$GS_SRC/tests/lib/gs_test.sh"
LL=$GS_BIN/log_levels
[ -x "$LL" ] || t_die "no $LL"

# devino FILE: the "DEVICE:INODE" systemd would put in JOURNAL_STREAM
devino() { stat -c '%d:%i' "$1"; }

: > "$T_DIR/journal.err"
JOURNAL_STREAM=$(devino "$T_DIR/journal.err") "$LL" 2>> "$T_DIR/journal.err" || t_fail "log_levels exited $?"
printf '<7>DEBUG a debug line\n<6>INFO an info line\n<4>WARN a warning line\n<3>ERROR an error line with a second line\n' > "$T_DIR/want"
diff -u "$T_DIR/want" "$T_DIR/journal.err" > "$T_DIR/diff" && t_pass "on the journal: <7> <6> <4> <3>, no timestamp, one line each" ||
  t_fail "journal format: $(cat "$T_DIR/diff")"

# plain format: "2026-11-23T18:00:00.123Z prog[pid] LEVEL message", no "<N>"
plain() { # plain NAME: checks $T_DIR/NAME.err
  local f=$T_DIR/$1.err
  [ "$(grep -c '^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9:.]*Z log_levels\[[0-9]*\] \(DEBUG\|INFO\|WARN\|ERROR\) ' "$f")" = 4 ] &&
    t_pass "$1: four timestamped lines" || t_fail "$1: $(cat "$f")"
  t_has '<[0-9]>' "$f" && t_fail "$1: a priority prefix: $(cat "$f")" || t_pass "$1: no priority prefix"
}
(unset JOURNAL_STREAM; "$LL" 2> "$T_DIR/unset.err") || t_fail "log_levels exited $?"
plain unset
# inherited from a service but stderr redirected elsewhere: not the journal
: > "$T_DIR/other"
JOURNAL_STREAM=$(devino "$T_DIR/other") "$LL" 2> "$T_DIR/other.err" || t_fail "log_levels exited $?"
plain other
JOURNAL_STREAM=garbage "$LL" 2> "$T_DIR/garbage.err" || t_fail "log_levels exited $?"
plain garbage

# a real program: gs-rollup's start error on the journal is one <3> line
: > "$T_DIR/rollup.err"
RC=0
JOURNAL_STREAM=$(devino "$T_DIR/rollup.err") gs-rollup --db "$T_DIR/none.db" --host 127.0.0.1 --port 1 \
  --cafile "$T_DIR/x" --certfile "$T_DIR/x" --keyfile "$T_DIR/x" 2>> "$T_DIR/rollup.err" < /dev/null || RC=$?
t_eq "$RC" 1 "gs-rollup start error exits 1"
t_eq "$(grep -c . "$T_DIR/rollup.err")/$(grep -c '^<3>ERROR start: ' "$T_DIR/rollup.err")" "1/1" \
  "gs-rollup's start error is a <3> line: $(head -n 1 "$T_DIR/rollup.err")"
t_done
