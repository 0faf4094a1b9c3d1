/* gs_store_import.c - import_household, the memory of gs-admin household
 * import (docs/IMPORT.md; schema/migrations/0004_import.sql); see gs_store.h.
 * Parsing, validation and the engine's batches stay in
 * collector/admin/admin_import.c. */
#include "gs_store_int.h"

#include "gs_error.h"

/* Copies a text column into b (replacing it); a NULL column reads "". */
static int column_text(sqlite3_stmt *st, int col, gs_buf *b) {
  const char *p = (const char *)sqlite3_column_text(st, col);
  gs_buf_reset(b);
  return gs_buf_append(b, p ? p : "", p ? (size_t)sqlite3_column_bytes(st, col) : 0);
}

int gs_store_import_read_begin(gs_store *s) {
  sqlite3_stmt *st = store__stmt(s, "BEGIN DEFERRED");
  if (!st) return GS_ESTORE;
  return store__done(s, st);
}

int gs_store_import_get(gs_store *s, const char *ext_id, gs_store_import_row *r) {
  static const char sql[] = "SELECT i.entity, i.grid, i.fields, e.fields, e.ver FROM import_household i "
                            "LEFT JOIN entity e ON e.type='household' AND e.id=i.entity WHERE i.ext_id=?1";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, ext_id, -1, SQLITE_STATIC);
  int src = sqlite3_step(st), rc;
  if (src == SQLITE_ROW) {
    r->has_entity = sqlite3_column_type(st, 3) != SQLITE_NULL;
    rc = column_text(st, 0, &r->entity);
    if (!rc) rc = column_text(st, 1, &r->grid);
    if (!rc) rc = column_text(st, 2, &r->fields);
    if (!rc) rc = column_text(st, 3, &r->cur);
    if (!rc) rc = column_text(st, 4, &r->ver);
  } else if (src == SQLITE_DONE) {
    rc = GS_ENOTFOUND;
  } else {
    rc = store__fail(s, src, "reading an imported household");
  }
  sqlite3_reset(st); /* no read left open (gs_store_end_reads) */
  return rc;
}

int gs_store_import_put(gs_store *s, const char *ext_id, const char *entity, const char *grid, const char *fields) {
  static const char sql[] = "INSERT OR REPLACE INTO import_household(ext_id, entity, grid, fields) VALUES(?1,?2,?3,?4)";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, ext_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, entity, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, grid, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, fields, -1, SQLITE_STATIC);
  return store__done(s, st);
}

int gs_store_import_each(gs_store *s, const char *org, gs_store_import_fn fn, void *ctx) {
  static const char sql_all[] = "SELECT i.ext_id, i.entity, e.fields FROM import_household i "
                                "JOIN entity e ON e.type='household' AND e.id=i.entity ORDER BY i.ext_id";
  static const char sql_org[] =
      "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL SELECT o.id FROM org o JOIN sub ON o.parent = sub.id) "
      "SELECT i.ext_id, i.entity, e.fields FROM import_household i "
      "JOIN entity e ON e.type='household' AND e.id=i.entity WHERE e.grid IN (SELECT id FROM sub) ORDER BY i.ext_id";
  sqlite3_stmt *st = store__stmt(s, org ? sql_org : sql_all);
  if (!st) return GS_ESTORE;
  if (org) sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
  int src = SQLITE_DONE, rc = GS_OK;
  while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW)
    rc = fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
            (const char *)sqlite3_column_text(st, 2));
  if (!rc && src != SQLITE_DONE) rc = store__fail(s, src, "reading imported households");
  sqlite3_reset(st);
  return rc;
}
