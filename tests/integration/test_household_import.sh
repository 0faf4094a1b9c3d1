#!/usr/bin/env bash
# gs-admin household import/export (docs/IMPORT.md) against the real stack:
# 2 grids x 400 households through the engine as "server"; a new phone pulls
# exactly its grid's 400; a re-import with 10 rows changed updates 10 and
# creates none; a phone's edit of a field the file did not change survives
# it; --dry-run lists the 3 bad lines of a file and changes nothing; a GBK
# file is refused with the iconv line; export, re-import: nothing changes.
. "$GS_SRC/tests/lib/gs_test.sh"
[ -x "$GS_BIN/gs-devstack" ] && [ -x "$GS_BIN/gs-collector" ] || t_die "gs-devstack/gs-collector not built"

# The import runs with the collector stopped (docs/IMPORT.md, "While the collector runs").
t_stack_up --no-collector
collector_start() { "$GS_BIN/gs-devstack" restart-collector --dir "$T_DIR/stack" >/dev/null || t_die "collector start"; }
collector_stop() {
  local pid
  pid=$(cat "$T_DIR/stack/collector.pid")
  kill -TERM "$pid" 2>/dev/null || true
  t_wait 15 "collector to stop" bash -c "! kill -0 $pid" || t_die "collector did not stop"
}
# state: what an import may change (entities, the change log, its own table)
state() { t_sql "$GS_DB" "SELECT (SELECT count(*)||':'||coalesce(max(rev),0)||':'||coalesce(sum(length(fields)),0) FROM entity)||'/'||(SELECT count(*) FROM change)||'/'||(SELECT count(*)||':'||coalesce(sum(length(fields)),0) FROM import_household)"; }
entity_of() { t_sql "$GS_DB" "SELECT entity FROM import_household WHERE ext_id='$1'"; }
srv() { t_sql "$GS_DB" "SELECT fields FROM entity WHERE type='household' AND id='$1'" | jq -r ".$2"; }

printf 'id,parent,level,name\nc-i,,city,导入市\nd-i,c-i,district,导入区\ns-i,d-i,street,导入街道\ncm-i,s-i,community,导入社区\ng-i1,cm-i,grid,一网格\ng-i2,cm-i,grid,二网格\n' > "$T_DIR/org.csv"
gs-admin --db "$GS_DB" org import "$T_DIR/org.csv" >/dev/null || t_die "org import"

# 800 households, UTF-8 with a BOM, a quoted address with a comma, a tag list
python3 - "$T_DIR/hh.csv" <<'PY'
import sys
rows = ["ext_id,grid,address,head_name,members,phone,tags"]
names = "王伟 李芳 张娜 刘秀英 陈敏 杨静 黄丽 赵强".split()
for g in (1, 2):
    for n in range(1, 401):
        tags = "elderly_alone;disabled" if n % 9 == 0 else ""
        rows.append(f'H{g}-{n:04d},g-i{g},"幸福路{g}号, {n}室",{names[n % 8]},{1 + n % 5},138{g}{n:07d},{tags}')
open(sys.argv[1], "w", encoding="utf-8-sig").write("\n".join(rows) + "\n")
PY

out=$(gs-admin --db "$GS_DB" household import "$T_DIR/hh.csv" --dry-run) || t_fail "dry-run of a good file: $out"
t_eq "$out" "--dry-run: 800 households would be imported: 800 created, 0 updated, 0 unchanged; nothing written" "dry-run counts"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM entity")" 0 "dry-run wrote nothing"
out=$(gs-admin --db "$GS_DB" household import "$T_DIR/hh.csv") || t_fail "import: $out"
t_eq "$out" "imported 800 households: 800 created, 0 updated, 0 unchanged" "first import creates 800"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM entity WHERE type='household' AND grid='g-i1'")" 400 "400 in g-i1"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM change WHERE device='server' AND status=0")" 800 "written as the principal server"
t_eq "$(t_sql "$GS_DB" "SELECT enabled FROM device WHERE id='server'")" 0 "server principal disabled after the import"
t_eq "$(t_sql "$GS_DB" "SELECT count(DISTINCT rev) FROM entity")" 800 "every household has its own rev"
H5=$(entity_of H1-0005)
t_eq "$(srv "$H5" address)" "幸福路1号, 5室" "quoted address kept"
t_eq "$(srv "$H5" members)" 1 "members as a number"
t_eq "$(t_sql "$GS_DB" "SELECT fields FROM entity WHERE id='$(entity_of H1-0009)'" | jq -c .tags)" '["elderly_alone","disabled"]' "tag list"
gs-admin --db "$GS_DB" status g-i1 | t_has . && t_pass "status readable after the import" || t_fail "status g-i1"

# --- a newly provisioned phone pulls exactly its grid's 400 --------------------------
collector_start
PH=$(t_device ph-imp-1 g-i1)
out=$(t_dev "$PH" sync --timeout 30) || t_fail "phone sync: $out"
t_eq "$out" "pushed 0, applied 0, duplicates 0, rejected 0, conflicts 0, pulled 400 entities" "phone pulls 400"
t_eq "$(t_dev "$PH" list household --grid g-i1 | wc -l)" 400 "400 households of g-i1 on the phone"
t_eq "$(t_dev "$PH" list household --grid g-i2 | wc -l)" 0 "none of g-i2"

# --- the phone edits a field the file will not change --------------------------------
t_dev "$PH" set household "$H5" members=9 >/dev/null || t_fail "phone set"
# and one the file will change: the office's new value wins, with no conflict logged
H7=$(entity_of H1-0007)
t_dev "$PH" set household "$H7" head_name='"手机改名"' >/dev/null || t_fail "phone set head_name"
out=$(t_dev "$PH" sync --timeout 30) || t_fail "phone push: $out"
t_eq "$(cut -d, -f1-2 <<<"$out")" "pushed 2, applied 2" "phone's edits applied"
t_eq "$(srv "$H5" members)" 9 "server has the phone's members"

# --- re-import with 10 rows changed --------------------------------------------------
collector_stop
python3 - "$T_DIR/hh.csv" "$T_DIR/hh2.csv" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8-sig").read().splitlines()
for i in range(1, 11):  # H1-0001..H1-0010 (H1-0005 too): a new head_name, members untouched
    f = lines[i].split(",")
    f[4] = "新户主" + str(i)
    lines[i] = ",".join(f)
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(lines) + "\n")
PY
out=$(gs-admin --db "$GS_DB" household import "$T_DIR/hh2.csv") || t_fail "re-import: $out"
t_eq "$out" "imported 800 households: 0 created, 10 updated, 790 unchanged" "re-import: 10 updated, 0 created"
t_eq "$(srv "$H5" head_name)" "新户主5" "changed field rewritten"
t_eq "$(srv "$H5" members)" 9 "the phone's edit of an unchanged field survives the re-import"
t_eq "$(srv "$H7" head_name)" "新户主7" "a field changed in the file overwrites the phone's edit"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM conflict")" 0 "no conflict logged (the import sends the server's version as base)"
t_eq "$(t_sql "$GS_DB" "SELECT count(*) FROM entity")" 800 "no household duplicated"
out=$(gs-admin --db "$GS_DB" household import "$T_DIR/hh2.csv") || t_fail "same file again: $out"
t_eq "$out" "imported 800 households: 0 created, 0 updated, 800 unchanged" "the same file twice: idempotent"
collector_start
t_dev "$PH" sync --timeout 30 >/dev/null || t_fail "phone pulls the update"
t_eq "$(t_dev "$PH" show household "$H5" | jq -c '[.fields.head_name,.fields.members]')" '["新户主5",9]' \
  "phone gets the new head_name and keeps its members"

# --- --dry-run on a file with 3 bad lines: the 3 line numbers, nothing changed ---------
python3 - "$T_DIR/hh2.csv" "$T_DIR/bad.csv" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
lines[4] = lines[4].replace(",g-i1,", ",g-nope,")           # line 5: unknown grid
f = lines[99].split(","); f[5] = "many"; lines[99] = ",".join(f)  # line 100: members not an integer
f = lines[249].split(","); f[7] = "rich"; lines[249] = ",".join(f)  # line 250: tag not in the list
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(lines) + "\n")
PY
BEFORE=$(state)
rc=0
gs-admin --db "$GS_DB" household import "$T_DIR/bad.csv" --dry-run > "$T_DIR/dry.out" 2> "$T_DIR/dry.err" || rc=$?
t_eq "$rc" 1 "dry-run of a bad file exits 1"
t_eq "$(grep -o 'line [0-9]*: field [a-z_]*' "$T_DIR/dry.err" | tr '\n' ' ')" \
  "line 5: field grid line 100: field members line 250: field tags " "the 3 bad lines with their fields"
t_eq "$(cat "$T_DIR/dry.out")" "--dry-run: 3 of 800 lines rejected; nothing written" "dry-run summary"
t_eq "$(state)" "$BEFORE" "dry-run changed nothing"
collector_stop
rc=0
gs-admin --db "$GS_DB" household import "$T_DIR/bad.csv" > /dev/null 2> "$T_DIR/bad.err" || rc=$?
t_eq "$rc" 1 "a file with bad lines is refused"
t_has -F "3 of 800 lines rejected (listed above); nothing imported" < "$T_DIR/bad.err" && t_pass "refusal says nothing imported" ||
  t_fail "refusal message: $(cat "$T_DIR/bad.err")"
t_eq "$(state)" "$BEFORE" "nothing half-imported"

# --- a GBK file is refused with the way to convert it -------------------------------
iconv -f UTF-8 -t GB18030 "$T_DIR/hh2.csv" > "$T_DIR/gbk.csv"
rc=0
gs-admin --db "$GS_DB" household import "$T_DIR/gbk.csv" 2> "$T_DIR/gbk.err" || rc=$?
t_eq "$rc" 1 "GBK file refused"
t_has -F "line 2: not valid UTF-8" < "$T_DIR/gbk.err" && t_has -F "iconv -f GB18030 -t UTF-8" < "$T_DIR/gbk.err" &&
  t_pass "GBK message: $(cat "$T_DIR/gbk.err")" || t_fail "GBK message: $(cat "$T_DIR/gbk.err")"
t_eq "$(state)" "$BEFORE" "GBK file changed nothing"
# converted as the message says, it imports as the UTF-8 file did
iconv -f GB18030 -t UTF-8 "$T_DIR/gbk.csv" > "$T_DIR/conv.csv"
out=$(gs-admin --db "$GS_DB" household import "$T_DIR/conv.csv") || t_fail "converted file: $out"
t_eq "$out" "imported 800 households: 0 created, 0 updated, 800 unchanged" "converted file imports unchanged"

# --- export round-trips ---------------------------------------------------------------
out=$(gs-admin --db "$GS_DB" household export "$T_DIR/export.csv") || t_fail "export: $out"
t_eq "$out" "exported 800 households to $T_DIR/export.csv" "export count"
t_eq "$(head -1 "$T_DIR/export.csv")" "ext_id,grid,address,building,unit,head_name,phone,members,tags,note" "export header"
t_eq "$(gs-admin --db "$GS_DB" household export --org g-i2 | tail -n +2 | wc -l)" 400 "export --org g-i2"
out=$(gs-admin --db "$GS_DB" household import "$T_DIR/export.csv") || t_fail "re-import of the export: $out"
t_eq "$out" "imported 800 households: 0 created, 0 updated, 800 unchanged" "export, re-import: 0 created, 0 updated"
t_eq "$(srv "$H5" members)" 9 "phone's edit still there"

# --- the file moves a household to another grid ------------------------------------
sed 's/^H2-0001,g-i2,/H2-0001,g-i1,/' "$T_DIR/export.csv" > "$T_DIR/move.csv"
out=$(gs-admin --db "$GS_DB" household import "$T_DIR/move.csv") || t_fail "move: $out"
t_eq "$out" "imported 800 households: 0 created, 1 updated, 799 unchanged" "a move is one update"
t_eq "$(t_sql "$GS_DB" "SELECT grid FROM entity WHERE id='$(entity_of H2-0001)'")" g-i1 "household moved to g-i1"

# --- header errors name the column ----------------------------------------------------
printf 'ext_id,grid,address,colour\nX1,g-i1,a,red\n' > "$T_DIR/hdr.csv"
gs-admin --db "$GS_DB" household import "$T_DIR/hdr.csv" 2> "$T_DIR/hdr.err" && t_fail "unknown column accepted" ||
  { t_has -F "line 1: column 'colour' is not a household field" < "$T_DIR/hdr.err" && t_pass "unknown column named" ||
    t_fail "header message: $(cat "$T_DIR/hdr.err")"; }
printf 'grid,address\ng-i1,a\n' > "$T_DIR/noext.csv"
gs-admin --db "$GS_DB" household import "$T_DIR/noext.csv" 2> "$T_DIR/noext.err" && t_fail "no ext_id accepted" ||
  { t_has "no ext_id column" < "$T_DIR/noext.err" && t_pass "ext_id required" || t_fail "ext_id message: $(cat "$T_DIR/noext.err")"; }
t_done
