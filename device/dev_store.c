/* dev_store.c - the device's local SQLite store.
 *
 * WAL + synchronous=FULL: once a transaction returned, it survives power
 * loss. Tables:
 *   entity(type, id, fields, ver, rev, grid)  local copy, fields/ver as JSON
 *   outbox(seq, change_id, body)              changes not yet acknowledged
 *   rejected(seq, change_id, ..., body)       changes the collector refused
 *   meta(k, v)                                next_seq, acked_seq, cursor,
 *                                             hlc_ms, hlc_c, inflight batch
 */
#include <stdio.h>
#include <string.h>

#include "dev_int.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_util.h"

static const char *schema_sql = "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
                                "CREATE TABLE IF NOT EXISTS entity(type TEXT NOT NULL, id TEXT NOT NULL,"
                                " fields TEXT NOT NULL, ver TEXT NOT NULL, rev INTEGER NOT NULL DEFAULT 0,"
                                " grid TEXT, PRIMARY KEY(type, id));"
                                "CREATE INDEX IF NOT EXISTS entity_grid ON entity(type, grid);"
                                "CREATE TABLE IF NOT EXISTS outbox(seq INTEGER PRIMARY KEY,"
                                " change_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL);"
                                "CREATE TABLE IF NOT EXISTS rejected(seq INTEGER PRIMARY KEY, change_id TEXT NOT NULL,"
                                " type TEXT, entity TEXT, error TEXT NOT NULL, detail TEXT, body TEXT NOT NULL,"
                                " at_ms INTEGER NOT NULL);";

static int sql_err(gs_dev *dev, const char *op, int rc) {
  int e = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? GS_EBUSY
          : rc == SQLITE_FULL                        ? GS_EFULL
          : rc == SQLITE_NOMEM                       ? GS_ENOMEM
                                                     : GS_ESTORE;
  return dev__fail(dev, e, "%s on %s/device.db failed: %s (sqlite %d)", op, dev->home,
                   dev->db ? sqlite3_errmsg(dev->db) : sqlite3_errstr(rc), rc);
}

static int exec(gs_dev *dev, const char *sql) {
  int rc = sqlite3_exec(dev->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? GS_OK : sql_err(dev, sql, rc);
}

static int prep(gs_dev *dev, const char *sql, sqlite3_stmt **st) {
  int rc = sqlite3_prepare_v2(dev->db, sql, -1, st, NULL);
  return rc == SQLITE_OK ? GS_OK : sql_err(dev, "prepare", rc);
}

int dev__store_open(gs_dev *dev) {
  char path[PATH_MAX + 16];
  snprintf(path, sizeof(path), "%s/device.db", dev->home);
  int rc = sqlite3_open_v2(path, &dev->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK) {
    int e =
        dev__fail(dev, GS_ESTORE, "open %s failed: %s", path, dev->db ? sqlite3_errmsg(dev->db) : sqlite3_errstr(rc));
    sqlite3_close(dev->db);
    dev->db = NULL;
    return e;
  }
  sqlite3_busy_timeout(dev->db, 5000);
  int err = exec(dev, "PRAGMA journal_mode=WAL");
  if (!err) err = exec(dev, "PRAGMA synchronous=FULL");
  if (!err) err = exec(dev, schema_sql);
  return err;
}

void dev__store_close(gs_dev *dev) {
  if (dev && dev->db) {
    sqlite3_close(dev->db);
    dev->db = NULL;
  }
}

int dev__store_begin(gs_dev *dev) { return exec(dev, "BEGIN IMMEDIATE"); }
int dev__store_commit(gs_dev *dev) { return exec(dev, "COMMIT"); }
void dev__store_rollback(gs_dev *dev) {
  if (dev->db && !sqlite3_get_autocommit(dev->db)) sqlite3_exec(dev->db, "ROLLBACK", NULL, NULL, NULL);
}

int dev__meta_get_text(gs_dev *dev, const char *k, char **v) {
  sqlite3_stmt *st = NULL;
  *v = NULL;
  int err = prep(dev, "SELECT v FROM meta WHERE k=?", &st);
  if (err) return err;
  sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *v = gs_strdup((const char *)sqlite3_column_text(st, 0));
    if (!*v) err = GS_ENOMEM;
  } else if (rc != SQLITE_DONE) {
    err = sql_err(dev, "read meta", rc);
  }
  sqlite3_finalize(st);
  return err;
}

int dev__meta_set_text(gs_dev *dev, const char *k, const char *v) {
  sqlite3_stmt *st = NULL;
  int err = prep(dev, v ? "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)" : "DELETE FROM meta WHERE k=?", &st);
  if (err) return err;
  sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
  if (v) sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) err = sql_err(dev, "write meta", rc);
  sqlite3_finalize(st);
  return err;
}

int dev__meta_get_i64(gs_dev *dev, const char *k, int64_t dflt, int64_t *v) {
  char *s = NULL;
  *v = dflt;
  int err = dev__meta_get_text(dev, k, &s);
  if (err) return err;
  if (!s) return GS_ENOTFOUND;
  if (gs_parse_i64(s, INT64_MIN, INT64_MAX, v) != GS_OK)
    err = dev__fail(dev, GS_ESTORE, "meta %s holds a non-integer '%s'", k, s);
  gs_free(s);
  return err;
}

int dev__meta_set_i64(gs_dev *dev, const char *k, int64_t v) {
  char s[32];
  snprintf(s, sizeof(s), "%lld", (long long)v);
  return dev__meta_set_text(dev, k, s);
}

int dev__hlc_load(gs_dev *dev, dev_hlc *h) {
  int64_t ms = 0, c = 0;
  int err = dev__meta_get_i64(dev, "hlc_ms", 0, &ms);
  if (err && err != GS_ENOTFOUND) return err;
  err = dev__meta_get_i64(dev, "hlc_c", 0, &c);
  if (err && err != GS_ENOTFOUND) return err;
  h->ms = ms;
  h->c = (int)c;
  return GS_OK;
}

int dev__hlc_save(gs_dev *dev, dev_hlc h) {
  int err = dev__meta_set_i64(dev, "hlc_ms", h.ms);
  return err ? err : dev__meta_set_i64(dev, "hlc_c", h.c);
}

int dev__entity_load(gs_dev *dev, const char *type, const char *id, cJSON **fields, cJSON **ver, int64_t *rev) {
  sqlite3_stmt *st = NULL;
  *fields = NULL;
  *ver = NULL;
  int err = prep(dev, "SELECT fields, ver, rev FROM entity WHERE type=? AND id=?", &st);
  if (err) return err;
  sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *fields = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
    *ver = cJSON_Parse((const char *)sqlite3_column_text(st, 1));
    if (rev) *rev = sqlite3_column_int64(st, 2);
    if (!cJSON_IsObject(*fields) || !cJSON_IsObject(*ver))
      err = dev__fail(dev, GS_ESTORE, "entity %s/%s: stored JSON is corrupt", type, id);
  } else if (rc == SQLITE_DONE) {
    err = GS_ENOTFOUND;
    if (rev) *rev = 0;
  } else {
    err = sql_err(dev, "read entity", rc);
  }
  sqlite3_finalize(st);
  if (err == GS_ENOTFOUND || err == GS_OK) {
    if (err == GS_ENOTFOUND) {
      cJSON_Delete(*fields);
      cJSON_Delete(*ver);
      *fields = cJSON_CreateObject();
      *ver = cJSON_CreateObject();
    }
    if (!*fields || !*ver) err = GS_ENOMEM;
  }
  if (err && err != GS_ENOTFOUND) {
    cJSON_Delete(*fields);
    cJSON_Delete(*ver);
    *fields = *ver = NULL;
  }
  return err;
}

int dev__entity_save(gs_dev *dev, const char *type, const char *id, const cJSON *fields, const cJSON *ver,
                     int64_t rev) {
  sqlite3_stmt *st = NULL;
  char *f = cJSON_PrintUnformatted(fields);
  char *v = cJSON_PrintUnformatted(ver);
  int err = (f && v) ? GS_OK : GS_ENOMEM;
  if (!err)
    err = prep(dev,
               "INSERT INTO entity(type, id, fields, ver, rev, grid)"
               " VALUES(?1, ?2, ?3, ?4, max(?5, 0), ?6)"
               " ON CONFLICT(type, id) DO UPDATE SET fields=?3, ver=?4,"
               " rev=CASE WHEN ?5 < 0 THEN rev ELSE ?5 END, grid=?6",
               &st);
  if (!err) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(fields, "grid");
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, f, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, v, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, rev);
    if (cJSON_IsString(g)) sqlite3_bind_text(st, 6, g->valuestring, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) err = sql_err(dev, "write entity", rc);
  }
  sqlite3_finalize(st);
  cJSON_free(f);
  cJSON_free(v);
  return err;
}

int dev__outbox_add(gs_dev *dev, int64_t seq, const char *change_id, const char *body) {
  sqlite3_stmt *st = NULL;
  int err = prep(dev, "INSERT INTO outbox(seq, change_id, body) VALUES(?, ?, ?)", &st);
  if (err) return err;
  sqlite3_bind_int64(st, 1, seq);
  sqlite3_bind_text(st, 2, change_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, body, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) err = sql_err(dev, "append outbox", rc);
  sqlite3_finalize(st);
  return err;
}

int64_t dev__outbox_count(gs_dev *dev) {
  sqlite3_stmt *st = NULL;
  int64_t n = -1;
  if (prep(dev, "SELECT count(*) FROM outbox", &st)) return -1;
  if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

int dev__outbox_trim(gs_dev *dev, int64_t upto) {
  sqlite3_stmt *st = NULL;
  int err = prep(dev, "DELETE FROM outbox WHERE seq <= ?", &st);
  if (err) return err;
  sqlite3_bind_int64(st, 1, upto);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) err = sql_err(dev, "trim outbox", rc);
  sqlite3_finalize(st);
  return err;
}

static int reject_where(gs_dev *dev, const char *where, const char *id, int64_t a, int64_t b, const char *error,
                        const char *detail) {
  char sql[512];
  sqlite3_stmt *st = NULL;
  snprintf(sql, sizeof(sql),
           "INSERT OR REPLACE INTO rejected(seq, change_id, type, entity, error, detail, body,"
           " at_ms) SELECT seq, change_id, json_extract(body, '$.type'),"
           " json_extract(body, '$.entity'), ?3, ?4, body, ?5 FROM outbox WHERE %s",
           where);
  /* First undo the rejected edits in the local copy (see dev__revert). */
  char sel[256];
  snprintf(sel, sizeof(sel), "SELECT body FROM outbox WHERE %s", where);
  int err = prep(dev, sel, &st);
  if (err) return err;
  if (id) sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  else {
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
  }
  int rc, reverted = 0;
  while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    int n = 0;
    err = dev__revert(dev, (const char *)sqlite3_column_text(st, 0), &n);
    reverted += n;
  }
  sqlite3_finalize(st);
  st = NULL;
  /* Pull everything again so the server's values replace the reverted ones. */
  if (!err && reverted) err = dev__meta_set_i64(dev, "cursor", 0);
  if (err) return err;
  if ((err = prep(dev, sql, &st))) return err;
  if (id) sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  else {
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
  }
  sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, detail ? detail : "", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, gs_now_ms());
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  st = NULL;
  if (rc != SQLITE_DONE) return sql_err(dev, "record rejected change", rc);
  snprintf(sql, sizeof(sql), "DELETE FROM outbox WHERE %s", where);
  if ((err = prep(dev, sql, &st))) return err;
  if (id) sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  else {
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
  }
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? GS_OK : sql_err(dev, "drop rejected change", rc);
}

int dev__outbox_reject(gs_dev *dev, const char *change_id, const char *error, const char *detail) {
  return reject_where(dev, "change_id = ?1", change_id, 0, 0, error, detail);
}

int dev__outbox_reject_range(gs_dev *dev, int64_t first, int64_t last, const char *error, const char *detail) {
  return reject_where(dev, "seq BETWEEN ?1 AND ?2", NULL, first, last, error, detail);
}
