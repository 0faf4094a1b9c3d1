/* tharness.h - shared fixtures for the engine unit tests: a real SQLite file
 * in a fresh temp dir, an org tree, registered devices, a test clock. */
#ifndef GS_THARNESS_H
#define GS_THARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "gs_engine.h"

typedef struct th {
  char dir[64];
  char db[96];
  gs_engine *e;
  int64_t now;
  gs_buf out;
} th;

/* Opens a fresh store with org c1>d1>s1>cm1>{g1,g2} and devices dev-a (g1,g2),
 * dev-b (g1,g2), dev-c (g1 only). synchronous OFF (tests, not durability). */
th *th_open(void);
/* th_open with a store at this PRAGMA synchronous, and the WAL sync thread */
th *th_open_sync(int synchronous, int wal_sync_thread);
void th_close(th *t);
/* Applies a batch from device; returns the parsed ack (caller cJSON_Delete). */
cJSON *th_apply(th *t, const char *device, const char *json);
cJSON *th_pull(th *t, const char *device, const char *json);
/* The test's own SQLite connection on t's store file, to seed and inspect
 * rows with SQL (the server's SQL is the store's, collector/store). Owned by
 * the harness, closed by th_close; it sees what the engine has committed. */
sqlite3 *th_db(th *t);
/* Single-row single-column query as int / text (static buffer), on th_db(t). */
int64_t th_int(th *t, const char *sql);
const char *th_text(th *t, const char *sql);
/* PRAGMA synchronous of the engine's store connection (th_db cannot see
 * another connection's settings). */
int64_t th_synchronous(th *t);
/* The error code of rejected[i] in an ack. */
const char *th_rej(const cJSON *ack, int i);

#endif
