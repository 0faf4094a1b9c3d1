/* gs_store_status.c - the status tables (see gs_store.h): org_stat,
 * org_period, org_day, hh_period, hh_day, care_household, open_report, and
 * the reads of org, entity and device the status module needs. The org_stat
 * statements are generated from the field table, one literal per column. */
#include "gs_store_int.h"

#include <stdio.h>
#include <string.h>

#include "../status/gs_status_fields.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"

/* ---- org_stat, one statement per column, from the field table ------------ */

#define ADD_SQL_(col)                                                                                                  \
  "INSERT INTO org_stat(org, " col ") VALUES(?1, ?2) ON CONFLICT(org) DO UPDATE SET " col " = " col " + "              \
  "excluded." col,
#define SET_SQL_(col)                                                                                                  \
  "INSERT INTO org_stat(org, " col ") VALUES(?1, ?2) ON CONFLICT(org) DO UPDATE SET " col " = excluded." col,
#define GET_SQL_(col)  "SELECT " col " FROM org_stat WHERE org=?1",
#define LIST_SQL_(col) ", " col

#define COL_C_(name, key, store, sums, head, width, dash, EMIT)               GS_STATUS_IF_##store(EMIT(#name))
#define COL_M_(name, key, SUBS, prefix, store, sums, head, width, dash, EMIT) GS_STATUS_IF_##store(SUBS(EMIT, prefix))
#define ADD_S_(prefix, sub)                                                   ADD_SQL_(GS_STATUS_STR(prefix##sub))
#define SET_S_(prefix, sub)                                                   SET_SQL_(GS_STATUS_STR(prefix##sub))
#define GET_S_(prefix, sub)                                                   GET_SQL_(GS_STATUS_STR(prefix##sub))
#define LIST_S_(prefix, sub)                                                  LIST_SQL_(GS_STATUS_STR(prefix##sub))
#define ADD_C_(n, k, st, su, h, w, d)                                         COL_C_(n, k, st, su, h, w, d, ADD_SQL_)
#define ADD_M_(n, k, S, p, st, su, h, w, d)                                   COL_M_(n, k, S, p, st, su, h, w, d, ADD_S_)
#define SET_C_(n, k, st, su, h, w, d)                                         COL_C_(n, k, st, su, h, w, d, SET_SQL_)
#define SET_M_(n, k, S, p, st, su, h, w, d)                                   COL_M_(n, k, S, p, st, su, h, w, d, SET_S_)
#define GET_C_(n, k, st, su, h, w, d)                                         COL_C_(n, k, st, su, h, w, d, GET_SQL_)
#define GET_M_(n, k, S, p, st, su, h, w, d)                                   COL_M_(n, k, S, p, st, su, h, w, d, GET_S_)
#define LIST_C_(n, k, st, su, h, w, d)                                        COL_C_(n, k, st, su, h, w, d, LIST_SQL_)
#define LIST_M_(n, k, S, p, st, su, h, w, d)                                  COL_M_(n, k, S, p, st, su, h, w, d, LIST_S_)

static const char *const stat_add_sql[GS_STAT_NCOLS] = {GS_STATUS_FIELDS(ADD_C_, ADD_M_)};
static const char *const stat_set_sql[GS_STAT_NCOLS] = {GS_STATUS_FIELDS(SET_C_, SET_M_)};
static const char *const stat_get_sql[GS_STAT_NCOLS] = {GS_STATUS_FIELDS(GET_C_, GET_M_)};
static const char stat_read_sql[] = "SELECT org" GS_STATUS_FIELDS(LIST_C_, LIST_M_) " FROM org_stat WHERE org=?1";

static int bad_col(int col) {
  if (col >= 0 && col < GS_STAT_NCOLS) return 0;
  gs_error("store: org_stat column %d out of range (a bug)", col);
  return 1;
}

/* Binds text or NULL. */
static void bind_text(sqlite3_stmt *st, int i, const char *v) {
  if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

/* Runs sql with text parameters a, b, c (NULL binds NULL) and integer n as ?4. */
static int run(gs_store *s, const char *sql, const char *a, const char *b, const char *c, int64_t n) {
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  bind_text(st, 1, a);
  bind_text(st, 2, b);
  bind_text(st, 3, c);
  sqlite3_bind_int64(st, 4, n);
  int rc = store__done(s, st);
  sqlite3_reset(st);
  return rc;
}

/* The integer of the first row of sql with text parameters a, b, c; 0 when none. */
static int one_int(gs_store *s, const char *sql, const char *a, const char *b, const char *c, int64_t *v) {
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  bind_text(st, 1, a);
  bind_text(st, 2, b);
  bind_text(st, 3, c);
  int src = sqlite3_step(st);
  *v = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return src == SQLITE_ROW || src == SQLITE_DONE ? GS_OK : store__fail(s, src, "reading the status tables");
}

int gs_store_status_stat_add(gs_store *s, int col, const char *org, int64_t n) {
  if (bad_col(col)) return GS_EINTERNAL;
  sqlite3_stmt *st = store__stmt(s, stat_add_sql[col]);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, n);
  int rc = store__done(s, st);
  sqlite3_reset(st);
  return rc;
}

int gs_store_status_stat_set(gs_store *s, int col, const char *org, int64_t v) {
  if (bad_col(col)) return GS_EINTERNAL;
  sqlite3_stmt *st = store__stmt(s, stat_set_sql[col]);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, v);
  int rc = store__done(s, st);
  sqlite3_reset(st);
  return rc;
}

int gs_store_status_stat_get(gs_store *s, int col, const char *org, int64_t *v) {
  if (bad_col(col)) return GS_EINTERNAL;
  return one_int(s, stat_get_sql[col], org, NULL, NULL, v);
}

int gs_store_status_stat_read(gs_store *s, const char *org, int64_t *v) {
  sqlite3_stmt *st = store__stmt(s, stat_read_sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  for (int i = 0; i < GS_STAT_NCOLS; i++) v[i] = src == SQLITE_ROW ? sqlite3_column_int64(st, i + 1) : 0;
  sqlite3_reset(st);
  return src == SQLITE_ROW || src == SQLITE_DONE ? GS_OK : store__fail(s, src, "reading org_stat");
}

/* ---- org_period, org_day ------------------------------------------------- */

int gs_store_status_period_add(gs_store *s, const char *org, const char *period, int64_t n) {
  return run(s,
             "INSERT INTO org_period(org, period, visited) VALUES(?1, ?2, ?4) ON CONFLICT(org, period) DO UPDATE SET "
             "visited = visited + excluded.visited",
             org, period, NULL, n);
}

int gs_store_status_period_get(gs_store *s, const char *org, const char *period, int64_t *v) {
  return one_int(s, "SELECT visited FROM org_period WHERE org=?1 AND period=?2", org, period, NULL, v);
}

int gs_store_status_day_add(gs_store *s, const char *org, const char *day, int64_t n) {
  return run(s,
             "INSERT INTO org_day(org, day, visits) VALUES(?1, ?2, ?4) ON CONFLICT(org, day) DO UPDATE SET visits = "
             "visits + excluded.visits",
             org, day, NULL, n);
}

int gs_store_status_day_get(gs_store *s, const char *org, const char *day, int64_t *v) {
  return one_int(s, "SELECT visits FROM org_day WHERE org=?1 AND day=?2", org, day, NULL, v);
}

/* ---- hh_period, hh_day --------------------------------------------------- */

static const char hh_period_visits[] = "SELECT visits FROM hh_period WHERE household=?1 AND period=?2 AND grid=?3";

int gs_store_status_hh_period_inc(gs_store *s, const char *hh, const char *period, const char *grid, int64_t *left) {
  int rc = run(s,
               "INSERT INTO hh_period(household, period, grid, visits) VALUES(?1, ?2, ?3, 1) "
               "ON CONFLICT(period, grid, household) DO UPDATE SET visits = visits + 1",
               hh, period, grid, 0);
  return rc ? rc : one_int(s, hh_period_visits, hh, period, grid, left);
}

int gs_store_status_hh_period_dec(gs_store *s, const char *hh, const char *period, const char *grid, int64_t *left) {
  int rc = run(s, "UPDATE hh_period SET visits = visits - 1 WHERE household=?1 AND period=?2 AND grid=?3", hh, period,
               grid, 0);
  if (!rc) rc = one_int(s, hh_period_visits, hh, period, grid, left);
  if (!rc && *left <= 0)
    rc = run(s, "DELETE FROM hh_period WHERE household=?1 AND period=?2 AND grid=?3", hh, period, grid, 0);
  return rc;
}

int gs_store_status_hh_day_inc(gs_store *s, const char *hh, const char *day) {
  return run(s,
             "INSERT INTO hh_day(household, day, visits) VALUES(?1, ?2, 1) "
             "ON CONFLICT(day, household) DO UPDATE SET visits = visits + 1",
             hh, day, NULL, 0);
}

int gs_store_status_hh_day_dec(gs_store *s, const char *hh, const char *day, int *emptied) {
  *emptied = 0;
  int rc = run(s, "UPDATE hh_day SET visits = visits - 1 WHERE household=?1 AND day=?2", hh, day, NULL, 0);
  if (!rc) rc = run(s, "DELETE FROM hh_day WHERE household=?1 AND day=?2 AND visits <= 0", hh, day, NULL, 0);
  if (!rc) *emptied = sqlite3_changes(store__db(s)) > 0;
  return rc;
}

int gs_store_status_hh_day_has(gs_store *s, const char *hh, const char *day, int *yes) {
  int64_t n = 0;
  int rc = one_int(s, "SELECT count(*) FROM hh_day WHERE day=?1 AND household=?2", day, hh, NULL, &n);
  *yes = n > 0;
  return rc;
}

/* ---- care_household ------------------------------------------------------ */

int gs_store_status_care_get(gs_store *s, const char *hh, char grid[65], char last[11], int *found) {
  sqlite3_stmt *st = store__stmt(s, "SELECT grid, last_day FROM care_household WHERE household=?1");
  grid[0] = last[0] = '\0';
  *found = 0;
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, hh, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    const char *g = (const char *)sqlite3_column_text(st, 0), *l = (const char *)sqlite3_column_text(st, 1);
    snprintf(grid, 65, "%s", g ? g : "");
    snprintf(last, 11, "%s", l ? l : "");
    *found = 1;
  }
  sqlite3_reset(st);
  return src == SQLITE_ROW || src == SQLITE_DONE ? GS_OK : store__fail(s, src, "reading care_household");
}

int gs_store_status_care_put(gs_store *s, const char *hh, const char *grid, const char *last) {
  return run(s,
             "INSERT INTO care_household(household, grid, last_day) VALUES(?1, ?2, ?3) "
             "ON CONFLICT(household) DO UPDATE SET grid = excluded.grid, last_day = excluded.last_day",
             hh, grid, last && last[0] ? last : NULL, 0);
}

int gs_store_status_care_move(gs_store *s, const char *hh, const char *grid) {
  return run(s,
             "INSERT INTO care_household(household, grid) VALUES(?1, ?2) "
             "ON CONFLICT(household) DO UPDATE SET grid = excluded.grid",
             hh, grid, NULL, 0);
}

int gs_store_status_care_delete(gs_store *s, const char *hh) {
  return run(s, "DELETE FROM care_household WHERE household=?1", hh, NULL, NULL, 0);
}

int gs_store_status_care_set_last(gs_store *s, const char *hh, const char *last) {
  return run(s, "UPDATE care_household SET last_day=?2 WHERE household=?1", hh, last && last[0] ? last : NULL, NULL, 0);
}

int gs_store_status_care_raise_last(gs_store *s, const char *from) {
  return run(s,
             "UPDATE care_household SET last_day = m.d FROM "
             "(SELECT household, max(day) AS d FROM hh_day WHERE day >= ?1 GROUP BY household) AS m "
             "WHERE m.household = care_household.household AND "
             "(care_household.last_day IS NULL OR care_household.last_day < m.d)",
             from, NULL, NULL, 0);
}

/* ---- open_report --------------------------------------------------------- */

int gs_store_status_report_open(gs_store *s, const char *report, const char *grid, int64_t due_ms) {
  sqlite3_stmt *st = store__stmt(s, "INSERT OR REPLACE INTO open_report(report, grid, due_ms) VALUES(?1, ?2, ?3)");
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, report, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, grid, -1, SQLITE_STATIC);
  if (due_ms) sqlite3_bind_int64(st, 3, due_ms);
  int rc = store__done(s, st);
  sqlite3_reset(st);
  return rc;
}

int gs_store_status_report_close(gs_store *s, const char *report) {
  return run(s, "DELETE FROM open_report WHERE report=?1", report, NULL, NULL, 0);
}

/* ---- per-grid counts ----------------------------------------------------- */

/* Steps st (bound by the caller) calling fn per (grid, n) row. */
static int each_count(gs_store *s, sqlite3_stmt *st, gs_store_count_fn fn, void *ctx) {
  int src = SQLITE_DONE, rc = GS_OK;
  while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW)
    rc = fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
  if (!rc && src != SQLITE_DONE) rc = store__fail(s, src, "counting for the status refresh");
  sqlite3_reset(st);
  return rc;
}

int gs_store_status_count_overdue(gs_store *s, int64_t now_ms, gs_store_count_fn fn, void *ctx) {
  sqlite3_stmt *st =
      store__stmt(s, "SELECT grid, count(*) FROM open_report WHERE due_ms IS NOT NULL AND due_ms < ?1 GROUP BY grid");
  if (!st) return GS_ESTORE;
  sqlite3_bind_int64(st, 1, now_ms);
  return each_count(s, st, fn, ctx);
}

int gs_store_status_count_care_due(gs_store *s, const char *cutoff, gs_store_count_fn fn, void *ctx) {
  sqlite3_stmt *st = store__stmt(s, "SELECT grid, count(*) FROM care_household WHERE last_day IS NULL OR last_day < ?1 "
                                    "GROUP BY grid");
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_STATIC);
  return each_count(s, st, fn, ctx);
}

int gs_store_status_count_devices(gs_store *s, int64_t since_ms, gs_store_count_fn fn, void *ctx) {
  sqlite3_stmt *st = store__stmt(s, "SELECT g.grid, count(*) FROM device d JOIN device_grid g ON g.device = d.id "
                                    "WHERE d.last_seen_ms >= ?1 AND d.enabled GROUP BY g.grid");
  if (!st) return GS_ESTORE;
  sqlite3_bind_int64(st, 1, since_ms);
  return each_count(s, st, fn, ctx);
}

/* ---- whole-table reads and the recount ----------------------------------- */

int gs_store_status_orgs(gs_store *s, gs_store_status_org_fn fn, void *ctx) {
  sqlite3_stmt *st = store__stmt(s, "SELECT id, parent, level, name FROM org ORDER BY id");
  if (!st) return GS_ESTORE;
  int src = SQLITE_DONE, rc = GS_OK;
  while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW)
    rc = fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
            (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3));
  if (!rc && src != SQLITE_DONE) rc = store__fail(s, src, "reading the org tree");
  sqlite3_reset(st);
  return rc;
}

int gs_store_status_entities(gs_store *s, gs_store_entity_fn fn, void *ctx) {
  sqlite3_stmt *st = store__stmt(s, "SELECT type, id, fields FROM entity");
  if (!st) return GS_ESTORE;
  int src = SQLITE_DONE, rc = GS_OK;
  while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW)
    rc = fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
            (const char *)sqlite3_column_text(st, 2));
  if (!rc && src != SQLITE_DONE) rc = store__fail(s, src, "reading the entities for a recount");
  sqlite3_reset(st);
  return rc;
}

int gs_store_status_export(gs_store *s, const char *type, const char *org, gs_store_export_fn fn, void *ctx) {
  sqlite3_stmt *st = store__stmt(
      s, org ? "WITH RECURSIVE sub(id) AS (SELECT ?2 UNION ALL SELECT o.id FROM org o JOIN sub ON o.parent = sub.id) "
               "SELECT e.id, e.rev, e.fields, e.ver FROM entity e WHERE e.type = ?1 AND e.grid IN (SELECT id FROM sub) "
               "ORDER BY e.rev"
             : "SELECT e.id, e.rev, e.fields, e.ver FROM entity e WHERE e.type = ?1 ORDER BY e.rev");
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
  if (org) sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
  int src = SQLITE_DONE, rc = GS_OK;
  while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW)
    rc = fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
            (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3));
  if (!rc && src != SQLITE_DONE) rc = store__fail(s, src, "reading entities for an export");
  sqlite3_reset(st);
  return rc;
}

int gs_store_status_clear(gs_store *s) {
  static const char *const sql[] = {"DELETE FROM org_stat",   "DELETE FROM org_period", "DELETE FROM org_day",
                                    "DELETE FROM hh_period",  "DELETE FROM hh_day",     "DELETE FROM care_household",
                                    "DELETE FROM open_report"};
  int rc = GS_OK;
  for (size_t i = 0; !rc && i < sizeof sql / sizeof sql[0]; i++) rc = run(s, sql[i], NULL, NULL, NULL, 0);
  return rc;
}

/* ---- opening and transactions -------------------------------------------- */

int gs_store_status_begin_wait(gs_store *s, int wait_ms) {
  sqlite3_busy_timeout(store__db(s), wait_ms);
  int rc = gs_store_begin(s);
  sqlite3_busy_timeout(store__db(s), GS_STORE_BUSY_MS);
  return rc;
}
