#include "gs_store.h"

#include <stdio.h>
#include <string.h>

#include "gs_error.h"
#include "gs_log.h"

struct gs_migration {
  int version;
  const char *name;
  const char *sql;
};
extern const struct gs_migration gs_schema_migrations[];
extern const size_t gs_schema_migration_count;

int gs_store_err(int rc) {
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW: return GS_OK;
  case SQLITE_FULL: return GS_EFULL;
  case SQLITE_BUSY:
  case SQLITE_LOCKED: return GS_EBUSY;
  case SQLITE_NOMEM: return GS_ENOMEM;
  case SQLITE_IOERR:
  case SQLITE_CANTOPEN:
  case SQLITE_READONLY: return GS_EIO;
  case SQLITE_CONSTRAINT: return GS_EEXISTS;
  default: return GS_ESTORE;
  }
}

int gs_store_exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    gs_error("sqlite: exec failed: %s (code %d); statement starts: %.60s", msg ? msg : sqlite3_errstr(rc), rc, sql);
    sqlite3_free(msg);
    return gs_store_err(rc);
  }
  return GS_OK;
}

int gs_store_schema_version(void) {
  int v = 0;
  for (size_t i = 0; i < gs_schema_migration_count; i++)
    if (gs_schema_migrations[i].version > v) v = gs_schema_migrations[i].version;
  return v;
}

static int user_version(sqlite3 *db, int *v) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
  if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) *v = sqlite3_column_int(st, 0);
  else rc = sqlite3_errcode(db);
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? GS_OK : gs_store_err(rc);
}

static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen) {
  int cur = 0, rc = user_version(db, &cur);
  if (rc) {
    snprintf(err, errlen, "%s: cannot read schema version: %s", path, sqlite3_errmsg(db));
    return rc;
  }
  int have = gs_store_schema_version();
  if (cur > have) {
    snprintf(err, errlen,
             "%s: database schema version %d is newer than this gridsync (knows up to %d); "
             "upgrade gridsync or use a matching database",
             path, cur, have);
    return GS_ETOO_NEW;
  }
  for (size_t i = 0; i < gs_schema_migration_count; i++) {
    const struct gs_migration *m = &gs_schema_migrations[i];
    if (m->version <= cur) continue;
    char *msg = NULL;
    char tail[64];
    snprintf(tail, sizeof tail, "PRAGMA user_version=%d;", m->version);
    int src = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
    if (src == SQLITE_OK) src = sqlite3_exec(db, m->sql, NULL, NULL, &msg);
    if (src == SQLITE_OK) src = sqlite3_exec(db, tail, NULL, NULL, &msg);
    if (src == SQLITE_OK) src = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
    if (src != SQLITE_OK) {
      snprintf(err, errlen, "%s: migration %s failed: %s", path, m->name, msg ? msg : sqlite3_errstr(src));
      sqlite3_free(msg);
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      return GS_ESCHEMA;
    }
    gs_info("store: %s: applied migration %s", path, m->name);
  }
  return GS_OK;
}

int gs_store_open(const char *path, int synchronous, sqlite3 **out, char *err, size_t errlen) {
  static const char *const sync_names[] = {"OFF", "NORMAL", "FULL", "EXTRA"};
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "%s: cannot open database: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return gs_store_err(rc);
  }
  sqlite3_busy_timeout(db, GS_STORE_BUSY_MS);
  sqlite3_extended_result_codes(db, 1);
  if (synchronous < 0 || synchronous > 3) synchronous = 2;
  char pragmas[256];
  snprintf(pragmas, sizeof pragmas,
           "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON; "
           "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
           sync_names[synchronous]);
  char *msg = NULL;
  rc = sqlite3_exec(db, pragmas, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "%s: cannot set pragmas: %s (is it an SQLite database?)", path,
             msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    sqlite3_close(db);
    return gs_store_err(rc) == GS_ESTORE ? GS_EIO : gs_store_err(rc);
  }
  int mrc = migrate(db, path, err, errlen);
  if (mrc) {
    sqlite3_close(db);
    return mrc;
  }
  *out = db;
  return GS_OK;
}

void gs_store_close(sqlite3 *db) {
  if (db) sqlite3_close_v2(db);
}
