#include "tharness.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_ops.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_store.h"

static int64_t test_clock(void *ctx) { return ((th *)ctx)->now; }

/* The harness's own connection (see th_db), kept for the next query on the
 * same file. A th made by hand (test_status's migration test) is never
 * th_closed: its connection goes at the next th_open or th_db on another file. */
static sqlite3 *g_db;
static char g_db_path[PATH_MAX];

static void db_drop(void) {
  sqlite3_close(g_db);
  g_db = NULL;
  g_db_path[0] = '\0';
}

sqlite3 *th_db(th *t) {
  const char *path = gs_store_path(gs_engine_store(t->e));
  if (g_db && strcmp(g_db_path, path) == 0) return g_db;
  db_drop();
  assert_int_equal(sqlite3_open_v2(path, &g_db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(g_db, GS_STORE_BUSY_MS);
  /* foreign keys as the server checks them: rows seeded here must pass them too */
  assert_int_equal(sqlite3_exec(g_db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=OFF", NULL, NULL, NULL), SQLITE_OK);
  snprintf(g_db_path, sizeof g_db_path, "%s", path);
  return g_db;
}

th *th_open(void) { return th_open_sync(0, 0); }

th *th_open_sync(int synchronous, int wal_sync_thread) {
  th *t = calloc(1, sizeof *t);
  assert_non_null(t);
  snprintf(t->dir, sizeof t->dir, "/tmp/gs-unit.XXXXXX");
  assert_non_null(mkdtemp(t->dir));
  snprintf(t->db, sizeof t->db, "%s/gs.db", t->dir);
  t->now = 1763880000000; /* 2025-11-23 */
  gs_log_set_level(GS_LOG_ERROR);
  gs_engine_config c;
  gs_engine_config_defaults(&c);
  c.db_path = t->db;
  c.synchronous = synchronous;
  c.wal_sync_thread = wal_sync_thread;
  c.clock = test_clock;
  c.clock_ctx = t;
  char err[256];
  int rc = gs_engine_open(&t->e, &c, err, sizeof err);
  if (rc) fprintf(stderr, "%s\n", err);
  assert_int_equal(rc, GS_OK);
  db_drop();
  assert_int_equal(sqlite3_exec(th_db(t),
                                "INSERT INTO org VALUES('c1',NULL,'city','市'),('d1','c1','district','区'),"
                                "('s1','d1','street','街道'),('cm1','s1','community','社区'),"
                                "('g1','cm1','grid','一网格'),('g2','cm1','grid','二网格')",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  assert_int_equal(gs_admin_device_add(t->e, "dev-a", "g1,g2", NULL, err, sizeof err), GS_OK);
  assert_int_equal(gs_admin_device_add(t->e, "dev-b", "g1,g2", NULL, err, sizeof err), GS_OK);
  assert_int_equal(gs_admin_device_add(t->e, "dev-c", "g1", NULL, err, sizeof err), GS_OK);
  return t;
}

void th_close(th *t) {
  if (!t) return;
  db_drop();
  gs_engine_close(t->e);
  gs_buf_free(&t->out);
  char p[160];
  const char *sfx[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", t->db, sfx[i]);
    unlink(p);
  }
  rmdir(t->dir);
  free(t);
}

cJSON *th_apply(th *t, const char *device, const char *json) {
  gs_buf_reset(&t->out);
  int rc = gs_engine_apply(t->e, device, json, strlen(json), &t->out);
  assert_int_equal(rc, GS_OK);
  cJSON *ack = cJSON_Parse(t->out.data);
  if (!ack) fprintf(stderr, "bad ack: %s\n", t->out.data);
  assert_non_null(ack);
  return ack;
}

cJSON *th_pull(th *t, const char *device, const char *json) {
  gs_buf_reset(&t->out);
  assert_int_equal(gs_engine_pull(t->e, device, json, strlen(json), &t->out), GS_OK);
  cJSON *p = cJSON_Parse(t->out.data);
  assert_non_null(p);
  return p;
}

int64_t th_int(th *t, const char *sql) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(th_db(t), sql, -1, &st, NULL), SQLITE_OK);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return v;
}

const char *th_text(th *t, const char *sql) {
  static char buf[8192];
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(th_db(t), sql, -1, &st, NULL), SQLITE_OK);
  buf[0] = 0;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(buf, sizeof buf, "%s", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return buf;
}

int64_t th_synchronous(th *t) {
  int level = -1;
  assert_int_equal(gs_store_synchronous(gs_engine_store(t->e), &level), GS_OK);
  return level;
}

const char *th_rej(const cJSON *ack, int i) {
  const cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(ack, "rejected"), i);
  const cJSON *e = cJSON_GetObjectItem(r, "error");
  return cJSON_IsString(e) ? e->valuestring : "(none)";
}
