/* fuzz_common.c - see fuzz_common.h. */
#include "fuzz_common.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_ops.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_store.h"

static char g_dir[64];
static gs_engine *g_engines[4];
static size_t g_nengines;

/* Removes the temp dir and its files (flat: the fixtures create no subdirs
 * except a PKI dir, handled one level deep). */
static void rm_flat(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  char p[512];
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    if (unlink(p) != 0) {
      rm_flat(p);
      rmdir(p);
    }
  }
  closedir(d);
}

static void cleanup(void) {
  for (size_t i = 0; i < g_nengines; i++) gs_engine_close(g_engines[i]);
  g_nengines = 0;
  if (g_dir[0]) {
    rm_flat(g_dir);
    rmdir(g_dir);
  }
}

const char *fz_dir(void) {
  if (!g_dir[0]) {
    snprintf(g_dir, sizeof g_dir, "/tmp/gs-fuzz.XXXXXX");
    if (!mkdtemp(g_dir)) {
      perror("fuzz: mkdtemp");
      abort();
    }
    atexit(cleanup);
  }
  return g_dir;
}

void fz_path(const char *name, char *out, size_t n) { snprintf(out, n, "%s/%s", fz_dir(), name); }

void fz_write(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
    perror(path);
    abort();
  }
}

static int64_t fixed_clock(void *ctx) {
  (void)ctx;
  return FZ_NOW_MS;
}

static void must(int rc, const char *what, const char *err) {
  if (rc != GS_OK) {
    fprintf(stderr, "fuzz fixture: %s failed: %s %s\n", what, gs_strerror(rc), err ? err : "");
    abort();
  }
}

/* Runs sql on the fixture's own connection to the store file at path: seeding
 * rows is the fixture's business, not the server's (whose SQL is the store's,
 * collector/store). */
static void fixture_sql(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  char *msg = NULL;
  int src = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
  if (src == SQLITE_OK) sqlite3_busy_timeout(db, GS_STORE_BUSY_MS);
  if (src == SQLITE_OK) src = sqlite3_exec(db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=OFF", NULL, NULL, &msg);
  if (src == SQLITE_OK) src = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (src != SQLITE_OK) {
    fprintf(stderr, "fuzz fixture: %s: %s\n", path, msg ? msg : sqlite3_errstr(src));
    abort();
  }
  sqlite3_close(db);
}

/* Entities the pull and merge paths work on: households in g1 and g2, a visit. */
static const char *const seed_batch =
    "{\"v\":1,\"batch\":\"seed-1\",\"changes\":["
    "{\"id\":\"00000000-0000-4000-8000-000000000001\",\"seq\":1,\"type\":\"household\","
    "\"entity\":\"10000000-0000-4000-8000-000000000001\",\"hlc\":[1763870000000,0],"
    "\"set\":{\"grid\":\"g1\",\"address\":\"幸福路1号\",\"members\":3,\"tags\":[\"elderly_alone\"]}},"
    "{\"id\":\"00000000-0000-4000-8000-000000000002\",\"seq\":2,\"type\":\"household\","
    "\"entity\":\"10000000-0000-4000-8000-000000000002\",\"hlc\":[1763870000001,0],"
    "\"set\":{\"grid\":\"g1\",\"address\":\"幸福路2号\",\"members\":1}},"
    "{\"id\":\"00000000-0000-4000-8000-000000000003\",\"seq\":3,\"type\":\"visit\","
    "\"entity\":\"20000000-0000-4000-8000-000000000001\",\"hlc\":[1763870000002,0],"
    "\"set\":{\"grid\":\"g1\",\"household\":\"10000000-0000-4000-8000-000000000001\","
    "\"kind\":\"routine\",\"visited_at\":1763870000000,\"summary\":\"入户走访\"}}]}";

gs_engine *fz_engine(const char *dbname) {
  char db[256], err[512] = "";
  gs_engine *e = NULL;
  if (g_nengines == sizeof g_engines / sizeof g_engines[0]) abort();
  gs_log_set_level(GS_LOG_OFF);
  fz_path(dbname, db, sizeof db);
  gs_engine_config c;
  gs_engine_config_defaults(&c);
  c.db_path = db;
  c.synchronous = 0;
  c.clock = fixed_clock;
  must(gs_engine_open(&e, &c, err, sizeof err), "gs_engine_open", err);
  g_engines[g_nengines++] = e;
  fixture_sql(db, "INSERT INTO org VALUES('c1',NULL,'city','市'),('d1','c1','district','区'),"
                  "('s1','d1','street','街道'),('cm1','s1','community','社区'),"
                  "('g1','cm1','grid','一网格'),('g2','cm1','grid','二网格')");
  must(gs_admin_device_add(e, "dev-a", "g1,g2", NULL, err, sizeof err), "device add dev-a", err);
  must(gs_admin_device_add(e, "dev-b", "g1", NULL, err, sizeof err), "device add dev-b", err);
  must(gs_admin_device_add(e, "dev-off", "g1", NULL, err, sizeof err), "device add dev-off", err);
  must(gs_admin_device_enable(e, "dev-off", 0, err, sizeof err), "device disable", err);
  gs_buf ack = GS_BUF_INIT;
  must(gs_engine_apply(e, "dev-b", seed_batch, strlen(seed_batch), &ack), "seed batch", ack.data);
  if (!strstr(ack.data, "\"applied\":3")) {
    fprintf(stderr, "fuzz fixture: seed batch not applied: %s\n", ack.data);
    abort();
  }
  gs_buf_free(&ack);
  return e;
}

void fz_check(int cond, const char *what, const uint8_t *data, size_t size) {
  if (cond) return;
  fprintf(stderr, "fuzz: invariant violated: %s (input of %zu bytes: %.*s)\n", what, size,
          (int)(size > 300 ? 300 : size), (const char *)data);
  abort();
}
