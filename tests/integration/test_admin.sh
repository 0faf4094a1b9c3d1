#!/usr/bin/env bash
# gs-admin: org import (RFC 4180, BOM, any row order), clear errors with the
# line number and nothing half-imported; device registry; conflicts listing.
. "$GS_SRC/tests/lib/gs_test.sh"
DB="$T_DIR/admin.db"
tree() { t_sql "$DB" "SELECT group_concat(id||'>'||coalesce(parent,'-')||':'||level||':'||name, ' ') FROM (SELECT * FROM org ORDER BY id)"; }

printf '\xEF\xBB\xBFid,parent,level,name\ng-1,cm-1,grid,"第一网格, 东"\ncm-1,s-1,community,阳光社区\ns-1,d-1,street,人民路街道\nd-1,c-1,district,和平区\nc-1,,city,示范市\n' > "$T_DIR/ok.csv"
gs-admin --db "$DB" org import "$T_DIR/ok.csv" > "$T_DIR/out" || t_fail "good import: $(cat "$T_DIR/out")"
t_eq "$(t_sql "$DB" "SELECT count(*) FROM org")" 5 "five units imported (children before parents, BOM, quoted comma)"
t_eq "$(t_sql "$DB" "SELECT name FROM org WHERE id='g-1'")" "第一网格, 东" "quoted name with a comma kept"
BEFORE=$(tree)

bad() { # bad NAME EXPECTED_LINE EXPECTED_WORDS CONTENT
  printf '%b' "$4" > "$T_DIR/$1.csv"
  if gs-admin --db "$DB" org import "$T_DIR/$1.csv" 2> "$T_DIR/$1.err"; then
    t_fail "$1: import accepted"
  else
    grep -q "line $2" "$T_DIR/$1.err" && grep -qi "$3" "$T_DIR/$1.err" && t_pass "$1: $(cat "$T_DIR/$1.err")" ||
      t_fail "$1: message '$(cat "$T_DIR/$1.err")' lacks 'line $2' or '$3'"
  fi
  t_eq "$(tree)" "$BEFORE" "$1: nothing imported"
}
bad header 1 "header" 'id,parent,name\nx,,city\n'
bad level 3 "level" 'id,parent,level,name\ng-2,cm-1,grid,二网格\ng-3,cm-1,village,三网格\n'
bad parent 2 "parent" 'id,parent,level,name\ng-4,cm-9,grid,四网格\n'
bad order 2 "parent must be" 'id,parent,level,name\ng-5,s-1,grid,五网格\n'
bad columns 3 "columns" 'id,parent,level,name\ng-6,cm-1,grid,六网格\ng-7,cm-1,grid\n'
bad badid 2 "not \\[A-Za-z0-9_-\\]" 'id,parent,level,name\ng 8,cm-1,grid,八网格\n'
bad quote 2 "malformed" 'id,parent,level,name\n"g-9,cm-1,grid,九网格\n'
bad cityparent 2 "city has no parent" 'id,parent,level,name\nc-2,c-1,city,另一市\n'
gs-admin --db "$DB" org import "$T_DIR/missing.csv" 2> "$T_DIR/missing.err" && t_fail "missing file accepted" ||
  { grep -q "cannot read" "$T_DIR/missing.err" && t_pass "missing file: $(cat "$T_DIR/missing.err")" || t_fail "missing file message"; }

gs-admin --db "$DB" device add dev-0032 --grids g-1 --worker 王芳 >/dev/null || t_fail "device add"
gs-admin --db "$DB" device add Dev_X --grids g-1 2> "$T_DIR/dev.err" && t_fail "bad device id accepted" ||
  { grep -q "a-z0-9-" "$T_DIR/dev.err" && t_pass "bad device id refused" || t_fail "device id message: $(cat "$T_DIR/dev.err")"; }
gs-admin --db "$DB" device add dev-0033 --grids cm-1 2> "$T_DIR/dev2.err" && t_fail "non-grid accepted" ||
  { grep -q "not an org unit of level grid" "$T_DIR/dev2.err" && t_pass "device on a community refused" || t_fail "grid message"; }
t_eq "$(t_sql "$DB" "SELECT count(*) FROM device WHERE id='dev-0033'")" 0 "refused device not half-registered"
gs-admin --db "$DB" device list | t_has "dev-0032.*王芳.*g-1" && t_pass "device list" || t_fail "device list: $(gs-admin --db "$DB" device list)"
t_eq "$(gs-admin --db "$DB" device list --csv | head -1)" "id,worker,enabled,acked_seq,last_seen_ms,grids" "device list --csv header"
gs-admin --db "$DB" conflicts | t_has "0 conflict(s) to review" && t_pass "no conflicts" || t_fail "conflicts"
rc=0; gs-admin --db "$DB" frobnicate 2> /dev/null || rc=$?
t_eq "$rc" 2 "unknown command exits 2"

# a database newer than this binary is refused with a clear message
sqlite3 "$DB" "PRAGMA user_version=99"
gs-admin --db "$DB" device list 2> "$T_DIR/new.err" && t_fail "newer database opened" ||
  { grep -q "newer than this gridsync" "$T_DIR/new.err" && t_pass "newer database refused" || t_fail "newer db message: $(cat "$T_DIR/new.err")"; }
t_done
