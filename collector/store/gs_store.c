#include "gs_store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"

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

/* The store holds residents' names, addresses and phone numbers: a new store
 * file is made 0600 here, before SQLite opens it, and SQLite gives its -wal
 * and -shm files the main file's mode (and owner). O_CREAT|O_EXCL with mode
 * 0600 is atomic and leaves the process umask alone (changing the umask
 * around the open would race with files other threads create); fchmod makes
 * it exactly 0600 whatever the umask. An empty file is an empty database to
 * SQLite. An existing store keeps its mode (the operator may have chosen
 * it); a warning names one that others can read. Names SQLite treats
 * specially (":memory:", "", URIs) are left to SQLite. */
static int create_private(const char *path, char *err, size_t errlen) {
  struct stat st;
  if (!path[0] || path[0] == ':' || strncmp(path, "file:", 5) == 0) return GS_OK;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) {
    int rc = fchmod(fd, 0600);
    int e = errno;
    close(fd);
    if (rc != 0) {
      snprintf(err, errlen, "%s: cannot make the new store private: fchmod: %s", path, strerror(e));
      unlink(path);
      return GS_EIO;
    }
    return GS_OK;
  }
  if (errno != EEXIST) {
    snprintf(err, errlen, "%s: cannot create the store: %s; check the directory exists and is writable", path,
             strerror(errno));
    return GS_EIO;
  }
  if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0077))
    gs_warn("store: %s is mode %04o; it holds residents' personal data: chmod 600 it (and its -wal, -shm)", path,
            (unsigned)(st.st_mode & 07777));
  return GS_OK;
}

int gs_store_open_db(const char *path, int synchronous, sqlite3 **out, char *err, size_t errlen) {
  static const char *const sync_names[] = {"OFF", "NORMAL", "FULL", "EXTRA"};
  sqlite3 *db = NULL;
  int crc = create_private(path, err, errlen);
  if (crc) return crc;
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

void gs_store_close_db(sqlite3 *db) {
  if (db) sqlite3_close_v2(db);
}

/* ---- the store object ---------------------------------------------------- */

int gs_store_open(gs_store **out, const char *path, int synchronous, char *err, size_t errlen) {
  gs_store *s = gs_calloc(1, sizeof *s);
  if (!s) return GS_ENOMEM;
  int rc = gs_store_open_db(path, synchronous, &s->db, err, errlen);
  if (rc) {
    gs_free(s);
    return rc;
  }
  snprintf(s->path, sizeof s->path, "%s", path);
  *out = s;
  return GS_OK;
}

void gs_store_close(gs_store *s) {
  if (!s) return;
  for (size_t i = 0; i < STORE_STMT_SLOTS; i++) sqlite3_finalize(s->stmt[i].st);
  gs_store_close_db(s->db);
  gs_free(s);
}

const char *gs_store_path(const gs_store *s) { return s->path; }

sqlite3 *store__db(gs_store *s) { return s->db; }
sqlite3 *gs_store_raw(gs_store *s) { return s->db; }

/* Open addressing on the SQL text's address: every statement is a string
 * literal or a static const array, so its address names it for the life of
 * the process. */
sqlite3_stmt *store__stmt(gs_store *s, const char *sql) {
  size_t h = ((uintptr_t)sql >> 3) * 2654435761u;
  for (size_t n = 0; n < STORE_STMT_SLOTS; n++) {
    struct store_stmt *slot = &s->stmt[(h + n) % STORE_STMT_SLOTS];
    if (slot->sql == sql) {
      sqlite3_reset(slot->st);
      sqlite3_clear_bindings(slot->st);
      return slot->st;
    }
    if (!slot->sql) {
      int src = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &slot->st, NULL);
      if (src != SQLITE_OK) {
        gs_error("store: %s: cannot prepare statement (%s, code %d): %.80s", s->path, sqlite3_errmsg(s->db), src, sql);
        sqlite3_finalize(slot->st);
        slot->st = NULL;
        return NULL;
      }
      slot->sql = sql;
      return slot->st;
    }
  }
  gs_error("store: more than %d distinct statements; raise STORE_STMT_SLOTS in gs_store_int.h", STORE_STMT_SLOTS);
  return NULL;
}

int store__done(gs_store *s, sqlite3_stmt *st) {
  int src = sqlite3_step(st);
  if (src == SQLITE_DONE || src == SQLITE_ROW) return GS_OK;
  gs_error("store: %s: %s (code %d) in: %.80s", s->path, sqlite3_errmsg(s->db), src, sqlite3_sql(st));
  return gs_store_err(src);
}

int store__fail(gs_store *s, int src, const char *what) {
  gs_error("store: %s: %s: %s (code %d)", s->path, what, sqlite3_errmsg(s->db), src);
  return gs_store_err(src);
}

int gs_store_begin(gs_store *s) { return gs_store_exec(s->db, "BEGIN IMMEDIATE"); }
void gs_store_end_reads(gs_store *s) {
  for (size_t i = 0; i < STORE_STMT_SLOTS; i++)
    if (s->stmt[i].st) sqlite3_reset(s->stmt[i].st);
}

int gs_store_commit(gs_store *s) {
  gs_store_end_reads(s);
  return gs_store_exec(s->db, "COMMIT");
}

void gs_store_rollback(gs_store *s) {
  gs_store_end_reads(s);
  if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int gs_store_meta_get(gs_store *s, const char *key, int64_t *v) {
  static const char sql[] = "SELECT value FROM meta WHERE key=?1";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    *v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st); /* a statement left on a row keeps a read transaction open */
    return GS_OK;
  }
  if (src == SQLITE_DONE) {
    *v = 0;
    return GS_OK;
  }
  return store__fail(s, src, "reading meta");
}

int gs_store_open_readonly(gs_store **out, const char *path, char *err, size_t errlen) {
  gs_store *s = gs_calloc(1, sizeof *s);
  if (!s) return GS_ENOMEM;
  int src = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
  if (src != SQLITE_OK) {
    snprintf(err, errlen, "open %s: %s; make it with gs-admin --db %s org import TREE.csv", path,
             s->db ? sqlite3_errmsg(s->db) : "out of memory", path);
    gs_store_close(s);
    return GS_EIO;
  }
  sqlite3_busy_timeout(s->db, GS_STORE_BUSY_MS);
  snprintf(s->path, sizeof s->path, "%s", path);
  *out = s;
  return GS_OK;
}

const char *gs_store_errmsg(gs_store *s) { return sqlite3_errmsg(store__db(s)); }

int gs_store_synchronous(gs_store *s, int *level) {
  static const char sql[] = "PRAGMA synchronous";
  sqlite3_stmt *st = store__stmt(s, sql);
  if (!st) return GS_ESTORE;
  int src = sqlite3_step(st);
  if (src != SQLITE_ROW) return store__fail(s, src, "reading PRAGMA synchronous");
  *level = sqlite3_column_int(st, 0);
  sqlite3_reset(st);
  return GS_OK;
}
