/* gs_store_admin.c - the org tree, the device registry and the conflict log
 * as gs-admin reads and writes them; see gs_store.h. The CLI's parsing,
 * messages and output formats stay in collector/admin/admin_ops.c. */
#include "gs_store_int.h"

#include <stdio.h>

#include "gs_error.h"

/* ---- org tree ------------------------------------------------------------ */

int gs_store_admin_org_begin(gs_store *s) {
  int rc = gs_store_begin(s);
  if (rc) return rc;
  /* only for this transaction: SQLite clears it at COMMIT and ROLLBACK */
  sqlite3_exec(store__db(s), "PRAGMA defer_foreign_keys=ON", NULL, NULL, NULL);
  return GS_OK;
}

static int org_write(gs_store *s, const char *sql, const char *id, const char *parent, const char *level,
                     const char *name) {
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  if (parent) sqlite3_bind_text(st, 2, parent, -1, SQLITE_STATIC); /* unbound is NULL: a city */
  sqlite3_bind_text(st, 3, level, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
  return store__done(s, st);
}

int gs_store_admin_org_put(gs_store *s, const char *id, const char *parent, const char *level, const char *name) {
  static const char sql[] = "INSERT INTO org(id,parent,level,name) VALUES(?1,?2,?3,?4) ON CONFLICT(id) DO UPDATE SET "
                            "parent=excluded.parent, level=excluded.level, name=excluded.name";
  return org_write(s, sql, id, parent, level, name);
}

int gs_store_admin_org_replace(gs_store *s, const char *id, const char *parent, const char *level, const char *name) {
  static const char sql[] = "INSERT OR REPLACE INTO org(id,parent,level,name) VALUES(?1,?2,?3,?4)";
  return org_write(s, sql, id, parent, level, name);
}

int gs_store_admin_org_level(gs_store *s, const char *id, char *level, size_t n) {
  static const char sql[] = "SELECT level FROM org WHERE id=?1";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src == SQLITE_DONE) return GS_ENOTFOUND;
  if (src != SQLITE_ROW) return store__fail(s, src, "reading an org unit's level");
  const unsigned char *v = sqlite3_column_text(st, 0);
  snprintf(level, n, "%s", v ? (const char *)v : "");
  sqlite3_reset(st); /* no read transaction left open after the answer */
  return GS_OK;
}

static const char *text(sqlite3_stmt *st, int col) { return (const char *)sqlite3_column_text(st, col); }

/* Ends a listing: the callback's stop value, or GS_OK at the last row, or the
 * translated error. A stopped statement is reset so it holds no read
 * transaction open. */
static int each_end(gs_store *s, sqlite3_stmt *st, int src, int stop, const char *what) {
  if (stop) {
    sqlite3_reset(st);
    return stop;
  }
  return src == SQLITE_DONE ? GS_OK : store__fail(s, src, what);
}

int gs_store_admin_org_each(gs_store *s, const char *root, gs_store_org_fn fn, void *ctx) {
  static const char sql[] =
      "WITH RECURSIVE t(id, depth) AS (SELECT id, 0 FROM org WHERE (?1 IS NULL AND parent IS NULL) "
      "OR id=?1 UNION ALL SELECT o.id, t.depth + 1 FROM org o JOIN t ON o.parent=t.id) "
      "SELECT o.id, o.parent, o.level, o.name FROM t JOIN org o ON o.id=t.id ORDER BY t.depth, o.id";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  if (root) sqlite3_bind_text(st, 1, root, -1, SQLITE_STATIC);
  int src = SQLITE_DONE, stop = 0;
  while (!stop && (src = sqlite3_step(st)) == SQLITE_ROW) {
    gs_store_org_row r = {text(st, 0), text(st, 1), text(st, 2), text(st, 3)};
    stop = fn(ctx, &r);
  }
  return each_end(s, st, src, stop, "reading the org tree");
}

/* ---- device registry ----------------------------------------------------- */

/* store__done() for a write that must touch a row: GS_ENOTFOUND when none. */
static int done_changed(gs_store *s, sqlite3_stmt *st) {
  int rc = store__done(s, st);
  if (!rc && sqlite3_changes(store__db(s)) == 0) rc = GS_ENOTFOUND;
  return rc;
}

int gs_store_admin_device_put(gs_store *s, const char *device, const char *worker, int64_t created_ms) {
  static const char sql[] = "INSERT INTO device(id,worker,created_ms) VALUES(?1,?2,?3) ON CONFLICT(id) DO UPDATE SET "
                            "worker=coalesce(excluded.worker, worker)";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  if (worker) sqlite3_bind_text(st, 2, worker, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, created_ms);
  return store__done(s, st);
}

int gs_store_admin_device_grids_clear(gs_store *s, const char *device) {
  static const char sql[] = "DELETE FROM device_grid WHERE device=?1";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  return store__done(s, st);
}

int gs_store_admin_device_grid_add(gs_store *s, const char *device, const char *grid) {
  static const char sql[] = "INSERT OR IGNORE INTO device_grid(device, grid) SELECT ?1, id FROM org "
                            "WHERE id=?2 AND level='grid'";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, grid, -1, SQLITE_STATIC);
  return done_changed(s, st);
}

int gs_store_admin_device_set_enabled(gs_store *s, const char *device, int enabled) {
  static const char sql[] = "UPDATE device SET enabled=?2 WHERE id=?1";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, enabled);
  return done_changed(s, st);
}

int gs_store_admin_device_each(gs_store *s, gs_store_device_fn fn, void *ctx) {
  static const char sql[] = "SELECT d.id, coalesce(d.worker,''), d.enabled, d.acked_seq, coalesce(d.last_seen_ms,0), "
                            "coalesce((SELECT group_concat(grid, ';') FROM (SELECT grid FROM device_grid g "
                            "WHERE g.device=d.id ORDER BY grid)),'') FROM device d ORDER BY d.id";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  int src = SQLITE_DONE, stop = 0;
  while (!stop && (src = sqlite3_step(st)) == SQLITE_ROW) {
    gs_store_device_row r = {
        text(st, 0), text(st, 1), sqlite3_column_int(st, 2), sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
        text(st, 5)};
    stop = fn(ctx, &r);
  }
  return each_end(s, st, src, stop, "reading the device registry");
}

/* ---- conflict log -------------------------------------------------------- */

int gs_store_admin_conflict_each(gs_store *s, int all, gs_store_conflict_fn fn, void *ctx) {
  static const char sql_all[] = "SELECT type, entity, field, a_device, a_value, b_device, b_value, winner, a_change, "
                                "b_change FROM conflict ORDER BY logged_ms, a_change";
  static const char sql_open[] = "SELECT type, entity, field, a_device, a_value, b_device, b_value, winner, a_change, "
                                 "b_change FROM conflict WHERE reviewed=0 ORDER BY logged_ms, a_change";
  sqlite3_stmt *st = store__stmt(s, all ? sql_all : sql_open);
  if (!st) return GS_ESTORE;
  int src = SQLITE_DONE, stop = 0;
  while (!stop && (src = sqlite3_step(st)) == SQLITE_ROW) {
    gs_store_conflict_row r;
    r.type = text(st, 0);
    r.entity = text(st, 1);
    r.field = text(st, 2);
    r.a_device = text(st, 3);
    r.a_value = text(st, 4);
    r.b_device = text(st, 5);
    r.b_value = text(st, 6);
    r.winner = text(st, 7);
    r.a_change = text(st, 8);
    r.b_change = text(st, 9);
    stop = fn(ctx, &r);
  }
  return each_end(s, st, src, stop, "reading the conflict log");
}
