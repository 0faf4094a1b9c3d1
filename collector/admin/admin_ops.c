#include "admin_ops.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_store.h"
#include "gs_util.h"

static const char *const levels[] = {"city", "district", "street", "community", "grid"};

static int level_index(const char *s) {
  for (int i = 0; i < 5; i++)
    if (strcmp(levels[i], s) == 0) return i;
  return -1;
}

/* ------------------------------------------------------------------ */
/* org import                                                           */

typedef struct csv_row {
  char *f[4];
  int nf;
  long line;
} csv_row;

typedef struct csv_state {
  csv_row *rows;
  size_t n, cap;
  char *cur[4];
  int nf;
  int too_many;
  long line;
  int oom;
} csv_state;

static void on_field(void *s, size_t len, void *data) {
  csv_state *st = data;
  if (st->nf < 4) {
    /* CSV_EMPTY_IS_NULL: an empty unquoted field arrives as NULL and stays NULL */
    st->cur[st->nf] = s ? gs_strndup(s, len) : NULL;
    if (s && !st->cur[st->nf]) st->oom = 1;
  } else {
    st->too_many = 1;
  }
  st->nf++;
}

static void on_row(int c, void *data) {
  csv_state *st = data;
  (void)c;
  st->line++;
  if (st->n == st->cap) {
    size_t ncap = st->cap ? st->cap * 2 : 64;
    csv_row *r = gs_realloc(st->rows, ncap * sizeof *r);
    if (!r) {
      st->oom = 1;
      for (int i = 0; i < 4 && i < st->nf; i++) gs_free(st->cur[i]);
      st->nf = 0;
      return;
    }
    st->rows = r;
    st->cap = ncap;
  }
  csv_row *r = &st->rows[st->n++];
  memset(r, 0, sizeof *r);
  for (int i = 0; i < 4; i++) r->f[i] = i < st->nf ? st->cur[i] : NULL;
  r->nf = st->too_many ? 5 : st->nf;
  r->line = st->line;
  st->nf = 0;
  st->too_many = 0;
  memset(st->cur, 0, sizeof st->cur);
}

static void csv_state_free(csv_state *st) {
  for (size_t i = 0; i < st->n; i++)
    for (int j = 0; j < 4; j++) gs_free(st->rows[i].f[j]);
  gs_free(st->rows);
  for (int j = 0; j < 4; j++) gs_free(st->cur[j]);
}

int gs_admin_org_import(sqlite3 *db, const char *path, int *count, char *err, size_t errlen) {
  char *text = NULL;
  size_t len = 0;
  int rc = gs_read_file(path, 64u << 20, &text, &len);
  if (rc) {
    snprintf(err, errlen, "%s: cannot read: %s", path, gs_strerror(rc));
    return rc;
  }
  csv_state st;
  memset(&st, 0, sizeof st);
  struct csv_parser p;
  sqlite3_stmt *ins = NULL, *get = NULL;
  int in_txn = 0;
  rc = GS_EINVAL;
  if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0) {
    rc = GS_ENOMEM;
    goto out_nofree;
  }
  /* A UTF-8 BOM from spreadsheet exports is fine. */
  size_t off = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
  if (csv_parse(&p, text + off, len - off, on_field, on_row, &st) != len - off ||
      csv_fini(&p, on_field, on_row, &st) != 0) {
    snprintf(err, errlen, "%s: line %ld: malformed CSV (%s); fix the quoting and import again", path, st.line + 1,
             csv_strerror(csv_error(&p)));
    goto out;
  }
  if (st.oom) {
    rc = GS_ENOMEM;
    goto out;
  }
  if (!gs_valid_utf8(text, len)) {
    snprintf(err, errlen, "%s: not valid UTF-8; save the file as UTF-8 and import again", path);
    goto out;
  }
  if (st.n == 0 || st.rows[0].nf != 4 || !st.rows[0].f[0] || strcmp(st.rows[0].f[0], "id") || !st.rows[0].f[1] ||
      strcmp(st.rows[0].f[1], "parent") || !st.rows[0].f[2] || strcmp(st.rows[0].f[2], "level") || !st.rows[0].f[3] ||
      strcmp(st.rows[0].f[3], "name")) {
    snprintf(err, errlen, "%s: line 1: the header must be exactly id,parent,level,name", path);
    goto out;
  }
  if (gs_store_exec(db, "BEGIN IMMEDIATE")) {
    rc = GS_EBUSY;
    snprintf(err, errlen, "%s: database busy; try again", path);
    goto out;
  }
  in_txn = 1;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO org(id,parent,level,name) VALUES(?1,?2,?3,?4) ON CONFLICT(id) DO UPDATE SET "
                         "parent=excluded.parent, level=excluded.level, name=excluded.name",
                         -1, &ins, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT level FROM org WHERE id=?1", -1, &get, NULL) != SQLITE_OK) {
    rc = GS_ESTORE;
    snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
    goto out;
  }
  /* Two passes: insert all, then check every parent link, so rows may come in any order. */
  sqlite3_exec(db, "PRAGMA defer_foreign_keys=ON", NULL, NULL, NULL);
  for (size_t i = 1; i < st.n; i++) {
    csv_row *r = &st.rows[i];
    if (r->nf == 1 && !r->f[0]) continue; /* blank line */
    if (r->nf != 4) {
      snprintf(err, errlen, "%s: line %ld: expected 4 columns (id,parent,level,name), found %d", path, r->line, r->nf);
      goto out;
    }
    if (!gs_valid_org_id(r->f[0])) {
      snprintf(err, errlen, "%s: line %ld: id '%.64s' is not [A-Za-z0-9_-]{1,64}", path, r->line,
               r->f[0] ? r->f[0] : "");
      goto out;
    }
    int lv = r->f[2] ? level_index(r->f[2]) : -1;
    if (lv < 0) {
      snprintf(err, errlen, "%s: line %ld: level '%.32s' must be city, district, street, community or grid", path,
               r->line, r->f[2] ? r->f[2] : "");
      goto out;
    }
    if ((lv == 0) != (r->f[1] == NULL)) {
      snprintf(err, errlen, "%s: line %ld: %s", path, r->line,
               lv == 0 ? "a city has no parent" : "every unit below city needs a parent");
      goto out;
    }
    if (r->f[1] && !gs_valid_org_id(r->f[1])) {
      snprintf(err, errlen, "%s: line %ld: parent '%.64s' is not a valid id", path, r->line, r->f[1]);
      goto out;
    }
    if (!r->f[3] || strlen(r->f[3]) > 200) {
      snprintf(err, errlen, "%s: line %ld: name is missing or longer than 200 bytes", path, r->line);
      goto out;
    }
    sqlite3_reset(ins);
    sqlite3_bind_text(ins, 1, r->f[0], -1, SQLITE_STATIC);
    if (r->f[1]) sqlite3_bind_text(ins, 2, r->f[1], -1, SQLITE_STATIC);
    else sqlite3_bind_null(ins, 2);
    sqlite3_bind_text(ins, 3, r->f[2], -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 4, r->f[3], -1, SQLITE_STATIC);
    if (sqlite3_step(ins) != SQLITE_DONE) {
      rc = gs_store_err(sqlite3_errcode(db));
      snprintf(err, errlen, "%s: line %ld: %s", path, r->line, sqlite3_errmsg(db));
      goto out;
    }
  }
  for (size_t i = 1; i < st.n; i++) {
    csv_row *r = &st.rows[i];
    if (!r->f[1]) continue;
    sqlite3_reset(get);
    sqlite3_bind_text(get, 1, r->f[1], -1, SQLITE_STATIC);
    if (sqlite3_step(get) != SQLITE_ROW) {
      snprintf(err, errlen, "%s: line %ld: parent '%s' of '%s' is neither in the file nor in the database", path,
               r->line, r->f[1], r->f[0]);
      goto out;
    }
    int plv = level_index((const char *)sqlite3_column_text(get, 0));
    if (plv != level_index(r->f[2]) - 1) {
      snprintf(err, errlen, "%s: line %ld: parent '%s' is a %s; a %s's parent must be a %s", path, r->line, r->f[1],
               levels[plv < 0 ? 0 : plv], r->f[2], levels[level_index(r->f[2]) - 1]);
      goto out;
    }
  }
  sqlite3_finalize(ins);
  sqlite3_finalize(get);
  ins = get = NULL;
  if (gs_store_exec(db, "COMMIT")) {
    rc = GS_ESTORE;
    snprintf(err, errlen, "%s: commit failed: %s", path, sqlite3_errmsg(db));
    goto out;
  }
  in_txn = 0;
  if (count) *count = (int)(st.n - 1);
  rc = GS_OK;
out:
  csv_free(&p);
out_nofree:
  sqlite3_finalize(ins);
  sqlite3_finalize(get);
  if (in_txn) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  csv_state_free(&st);
  gs_free(text);
  return rc;
}

/* [bridge] org export: the same tree at every level (docs/DEPLOYMENT.md). */

static void csv_field(FILE *out, const char *v) {
  if (!v) return; /* NULL -> empty field, as the importer reads it */
  if (!strpbrk(v, ",\"\r\n")) {
    fputs(v, out);
    return;
  }
  fputc('"', out);
  for (const char *p = v; *p; p++) {
    if (*p == '"') fputc('"', out);
    fputc(*p, out);
  }
  fputc('"', out);
}

int gs_admin_org_export(sqlite3 *db, FILE *out, const char *root, int *count, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  int rc = GS_ESTORE, n = 0;
  if (sqlite3_prepare_v2(db,
                         "WITH RECURSIVE t(id, depth) AS (SELECT id, 0 FROM org WHERE (?1 IS NULL AND parent IS NULL) "
                         "OR id=?1 UNION ALL SELECT o.id, t.depth + 1 FROM org o JOIN t ON o.parent=t.id) "
                         "SELECT o.id, o.parent, o.level, o.name FROM t JOIN org o ON o.id=t.id ORDER BY t.depth, o.id",
                         -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "org export: %s", sqlite3_errmsg(db));
    goto out;
  }
  if (root) sqlite3_bind_text(st, 1, root, -1, SQLITE_STATIC);
  fputs("id,parent,level,name\n", out);
  int src;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < 4; i++) {
      if (i) fputc(',', out);
      csv_field(out, (const char *)sqlite3_column_text(st, i));
    }
    fputc('\n', out);
    n++;
  }
  if (src != SQLITE_DONE) {
    snprintf(err, errlen, "org export: %s", sqlite3_errmsg(db));
    goto out;
  }
  if (root && n == 0) {
    rc = GS_ENOTFOUND;
    snprintf(err, errlen, "org export: org unit '%.64s' does not exist; see gs-admin org export without --root", root);
    goto out;
  }
  if (fflush(out) != 0 || ferror(out)) {
    rc = GS_EIO;
    snprintf(err, errlen, "org export: write failed");
    goto out;
  }
  if (count) *count = n;
  rc = GS_OK;
out:
  sqlite3_finalize(st);
  return rc;
}

/* ------------------------------------------------------------------ */
/* devices                                                              */

int gs_admin_device_add(sqlite3 *db, const char *device, const char *grids, const char *worker, char *err,
                        size_t errlen) {
  if (!gs_valid_device_id(device)) {
    snprintf(err, errlen, "device id '%.64s' must be [a-z0-9-]{3,64} (the CN of its certificate)", device);
    return GS_EINVAL;
  }
  if (worker && (strlen(worker) > 64 || !gs_valid_utf8(worker, strlen(worker)))) {
    snprintf(err, errlen, "--worker must be UTF-8 of at most 64 bytes");
    return GS_EINVAL;
  }
  char *list = gs_strdup(grids ? grids : "");
  if (!list) return GS_ENOMEM;
  sqlite3_stmt *st = NULL;
  int rc = gs_store_exec(db, "BEGIN IMMEDIATE");
  if (rc) {
    snprintf(err, errlen, "database busy; try again");
    gs_free(list);
    return rc;
  }
  rc = GS_EINVAL;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO device(id,worker,created_ms) VALUES(?1,?2,?3) ON CONFLICT(id) DO UPDATE SET "
                         "worker=coalesce(excluded.worker, worker)",
                         -1, &st, NULL) != SQLITE_OK)
    goto store_err;
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  if (worker) sqlite3_bind_text(st, 2, worker, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, gs_now_ms());
  if (sqlite3_step(st) != SQLITE_DONE) goto store_err;
  sqlite3_finalize(st);
  st = NULL;
  if (grids) {
    if (sqlite3_prepare_v2(db, "DELETE FROM device_grid WHERE device=?1", -1, &st, NULL) != SQLITE_OK) goto store_err;
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) goto store_err;
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT OR IGNORE INTO device_grid(device, grid) SELECT ?1, id FROM org "
                           "WHERE id=?2 AND level='grid'",
                           -1, &st, NULL) != SQLITE_OK)
      goto store_err;
    for (char *g = list, *next; g && *g; g = next) {
      next = strchr(g, ',');
      if (next) *next++ = '\0';
      if (!*g) continue;
      sqlite3_reset(st);
      sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, g, -1, SQLITE_STATIC);
      if (sqlite3_step(st) != SQLITE_DONE) goto store_err;
      if (sqlite3_changes(db) == 0) {
        snprintf(err, errlen, "grid '%.64s' is not an org unit of level grid; import the org tree first", g);
        goto fail;
      }
    }
  }
  sqlite3_finalize(st);
  st = NULL;
  if ((rc = gs_store_exec(db, "COMMIT"))) goto store_err;
  gs_free(list);
  return GS_OK;
store_err:
  rc = GS_ESTORE;
  snprintf(err, errlen, "device %s: %s", device, sqlite3_errmsg(db));
fail:
  sqlite3_finalize(st);
  sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  gs_free(list);
  return rc;
}

int gs_admin_device_enable(sqlite3 *db, const char *device, int enabled, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  int rc = GS_ESTORE;
  if (sqlite3_prepare_v2(db, "UPDATE device SET enabled=?2 WHERE id=?1", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, enabled);
    if (sqlite3_step(st) == SQLITE_DONE) rc = sqlite3_changes(db) ? GS_OK : GS_ENOTFOUND;
  }
  if (rc == GS_ENOTFOUND) snprintf(err, errlen, "device %.64s is not registered", device);
  else if (rc) snprintf(err, errlen, "device %.64s: %s", device, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return rc;
}

int gs_admin_device_list(sqlite3 *db, FILE *out, int csv) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db,
                         "SELECT d.id, coalesce(d.worker,''), d.enabled, d.acked_seq, coalesce(d.last_seen_ms,0), "
                         "coalesce((SELECT group_concat(grid, ';') FROM (SELECT grid FROM device_grid g "
                         "WHERE g.device=d.id ORDER BY grid)),'') FROM device d ORDER BY d.id",
                         -1, &st, NULL) != SQLITE_OK)
    return GS_ESTORE;
  if (csv) fprintf(out, "id,worker,enabled,acked_seq,last_seen_ms,grids\n");
  else
    fprintf(out, "%-24s %-12s %-7s %10s %-20s %s\n", "DEVICE", "WORKER", "ENABLED", "ACKED_SEQ", "LAST_SEEN", "GRIDS");
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0), *w = (const char *)sqlite3_column_text(st, 1);
    const char *g = (const char *)sqlite3_column_text(st, 5);
    long long seen = sqlite3_column_int64(st, 4);
    if (csv) {
      fprintf(out, "%s,\"%s\",%d,%lld,%lld,%s\n", id, w, sqlite3_column_int(st, 2), sqlite3_column_int64(st, 3), seen,
              g);
    } else {
      char ts[32] = "never";
      if (seen) {
        time_t t = (time_t)(seen / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
      }
      fprintf(out, "%-24s %-12s %-7s %10lld %-20s %s\n", id, w, sqlite3_column_int(st, 2) ? "yes" : "no",
              sqlite3_column_int64(st, 3), ts, g);
    }
  }
  sqlite3_finalize(st);
  return GS_OK;
}

int gs_admin_conflicts(sqlite3 *db, FILE *out, int all) {
  sqlite3_stmt *st = NULL;
  const char *sql = all ? "SELECT type, entity, field, a_device, a_value, b_device, b_value, winner, a_change, "
                          "b_change FROM conflict ORDER BY logged_ms, a_change"
                        : "SELECT type, entity, field, a_device, a_value, b_device, b_value, winner, a_change, "
                          "b_change FROM conflict WHERE reviewed=0 ORDER BY logged_ms, a_change";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return GS_ESTORE;
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *a = (const char *)sqlite3_column_text(st, 8), *w = (const char *)sqlite3_column_text(st, 7);
    fprintf(out, "%s %s field %s:\n  %-20s %s%s\n  %-20s %s%s\n", sqlite3_column_text(st, 0),
            sqlite3_column_text(st, 1), sqlite3_column_text(st, 2), sqlite3_column_text(st, 3),
            sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "null",
            strcmp(a, w) == 0 ? "   <- kept" : "", sqlite3_column_text(st, 5),
            sqlite3_column_text(st, 6) ? (const char *)sqlite3_column_text(st, 6) : "null",
            strcmp(a, w) != 0 ? "   <- kept" : "");
    n++;
  }
  fprintf(out, "%d conflict(s)%s\n", n, all ? "" : " to review");
  sqlite3_finalize(st);
  return GS_OK;
}

/* ------------------------------------------------------------------ */
/* demo seed                                                            */

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                       "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗"};
static const char *const given[] = {"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊",   "军",
                                    "洋", "勇", "艳", "杰",   "娟", "涛", "明", "超", "秀兰", "霞"};
static const char *const street_names[] = {"人民路", "解放路", "和平街", "建设路", "中山路",
                                           "朝阳街", "幸福路", "光明街", "文化路", "新华街"};
static const char *const community_names[] = {"阳光", "翠苑", "锦绣", "和谐", "春晖", "金桥", "绿洲", "明珠"};

static int exec_fmt(sqlite3 *db, sqlite3_stmt *ins, const char *id, const char *parent, const char *level,
                    const char *name) {
  sqlite3_reset(ins);
  sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
  if (parent) sqlite3_bind_text(ins, 2, parent, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(ins, 2);
  sqlite3_bind_text(ins, 3, level, -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 4, name, -1, SQLITE_TRANSIENT);
  return sqlite3_step(ins) == SQLITE_DONE ? GS_OK : gs_store_err(sqlite3_errcode(db));
}

int gs_admin_seed(gs_engine *e, int streets, int communities, int grids, int households, char *err, size_t errlen) {
  return gs_admin_seed_district(e, 1, streets, communities, grids, households, err, errlen);
}

/* [bridge] District N of the demo city. District 1 keeps the historical ids
 * (d-01, s-01, cm-0101, g-0001, dev-0001); district N >= 2 puts N in every id
 * (d-02, s-2-01, cm-2-0101, g-2-0001, dev-2-0001), so the districts of one
 * city can be seeded into separate stores and imported side by side. */
static const char *const district_names[] = {"和平区", "河西区", "南开区", "河东区", "红桥区",
                                             "河北区", "东丽区", "西青区", "津南区"};

static void seed_id(char *out, size_t n, int district, const char *prefix, int num, int width) {
  if (district == 1) snprintf(out, n, "%s-%0*d", prefix, width, num);
  else snprintf(out, n, "%s-%d-%0*d", prefix, district, width, num);
}

int gs_admin_seed_district(gs_engine *e, int district, int streets, int communities, int grids, int households,
                           char *err, size_t errlen) {
  sqlite3 *db = gs_engine_db(e);
  char did[16];
  snprintf(did, sizeof did, "d-%02d", district);
  sqlite3_stmt *ins = NULL;
  int rc = gs_store_exec(db, "BEGIN IMMEDIATE");
  if (rc) return rc;
  if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO org(id,parent,level,name) VALUES(?1,?2,?3,?4)", -1, &ins, NULL) !=
      SQLITE_OK) {
    rc = GS_ESTORE;
    goto fail;
  }
  if ((rc = exec_fmt(db, ins, "c-demo", NULL, "city", "示范市"))) goto fail;
  if ((rc = exec_fmt(db, ins, did, "c-demo", "district", district_names[(district - 1) % 9]))) goto fail;
  int gno = 0;
  for (int s = 1; s <= streets; s++) {
    char sid[32], sname[96];
    seed_id(sid, sizeof sid, district, "s", s, 2);
    snprintf(sname, sizeof sname, "%s街道", street_names[(s - 1) % 10]);
    if ((rc = exec_fmt(db, ins, sid, did, "street", sname))) goto fail;
    for (int c = 1; c <= communities; c++) {
      char cid[32], cname[96];
      seed_id(cid, sizeof cid, district, "cm", s * 100 + c, 4);
      snprintf(cname, sizeof cname, "%s社区", community_names[(s * 3 + c) % 8]);
      if ((rc = exec_fmt(db, ins, cid, sid, "community", cname))) goto fail;
      for (int g = 1; g <= grids; g++) {
        char gid[32], gname[160];
        seed_id(gid, sizeof gid, district, "g", ++gno, 4);
        snprintf(gname, sizeof gname, "%s第%d网格", cname, g);
        if ((rc = exec_fmt(db, ins, gid, cid, "grid", gname))) goto fail;
      }
    }
  }
  sqlite3_finalize(ins);
  ins = NULL;
  if ((rc = gs_store_exec(db, "COMMIT"))) goto fail;
  /* devices: one per grid, plus the seeding account used below */
  for (int g = 1; g <= gno; g++) {
    char dev[32], gid[32], worker[64];
    seed_id(dev, sizeof dev, district, "dev", g, 4);
    seed_id(gid, sizeof gid, district, "g", g, 4);
    snprintf(worker, sizeof worker, "%s%s", surnames[g % 20], given[(g * 7) % 20]);
    if ((rc = gs_admin_device_add(db, dev, gid, worker, err, errlen))) return rc;
  }
  gs_buf grids_csv = GS_BUF_INIT;
  for (int g = 1; g <= gno; g++) {
    char gid[32];
    seed_id(gid, sizeof gid, district, "g", g, 4);
    gs_buf_printf(&grids_csv, "%s%s", g > 1 ? "," : "", gid);
  }
  rc = gs_admin_device_add(db, "admin-seed", grids_csv.data, "seed", err, errlen);
  gs_buf_free(&grids_csv);
  if (rc) return rc;
  if ((rc = gs_admin_device_enable(db, "admin-seed", 1, err, errlen))) return rc;
  /* households through the engine, so versions, revs and status are real */
  int64_t seq = 0;
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(db, "SELECT acked_seq FROM device WHERE id='admin-seed'", -1, &q, NULL) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW)
    seq = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  int64_t now = gs_now_ms();
  for (int g = 1; g <= gno && !rc; g++) {
    char gid[32];
    seed_id(gid, sizeof gid, district, "g", g, 4);
    gs_buf b = GS_BUF_INIT;
    gs_buf_printf(&b, "{\"v\":1,\"batch\":\"seed-%04d\",\"changes\":[", g);
    for (int h = 0; h < households; h++) {
      char id[37], name[64], addr[160];
      gs_uuid4(id);
      int k = g * 1000 + h;
      snprintf(name, sizeof name, "%s%s", surnames[(k * 13) % 20], given[(k * 7 + h) % 20]);
      snprintf(addr, sizeof addr, "%s%d号%d栋%d单元%d室", street_names[g % 10], 10 + g, 1 + h / 40, 1 + (h / 10) % 4,
               101 + (h % 10) + 100 * ((h / 2) % 6));
      const char *tags = (k % 9 == 0)    ? "[\"elderly_alone\"]"
                         : (k % 13 == 0) ? "[\"disabled\",\"low_income\"]"
                         : (k % 17 == 0) ? "[\"left_behind_child\"]"
                                         : "[]";
      gs_buf_printf(&b,
                    "%s{\"id\":\"%s-s\",\"seq\":%lld,\"type\":\"household\",\"entity\":\"%s\",\"hlc\":[%lld,%d],"
                    "\"set\":{\"grid\":\"%s\",\"address\":",
                    h ? "," : "", id, (long long)++seq, id, (long long)now, 0, gid);
      gs_buf_json_str(&b, addr);
      gs_buf_puts(&b, ",\"head_name\":");
      gs_buf_json_str(&b, name);
      gs_buf_printf(&b, ",\"members\":%d,\"phone\":\"138%08d\",\"tags\":%s}}", 1 + k % 5, k * 7919 % 100000000, tags);
    }
    gs_buf_puts(&b, "]}");
    gs_buf ack = GS_BUF_INIT;
    rc = gs_engine_apply(e, "admin-seed", b.data, b.len, &ack);
    if (!rc && !strstr(ack.data, "\"rejected\":[]")) {
      snprintf(err, errlen, "seed: grid %s: unexpected rejections: %.200s", gid, ack.data);
      rc = GS_EINTERNAL;
    }
    gs_buf_free(&ack);
    gs_buf_free(&b);
  }
  if (!rc) rc = gs_admin_device_enable(db, "admin-seed", 0, err, errlen);
  return rc;
fail:
  snprintf(err, errlen, "seed: %s", sqlite3_errmsg(db));
  sqlite3_finalize(ins);
  sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  return rc ? rc : GS_ESTORE;
}
