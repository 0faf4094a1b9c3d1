/* gs-bench-engine - SQLite ceiling, engine throughput, initial grid sync and
 * batch cost against a large store, without a network (bench/run).
 *
 *   gs-bench-engine --mode ceiling|apply|pull --db FILE [options]
 *     --grids G          grids in the org tree (100)
 *     --devices D        devices, device i writes grid i % G (50)
 *     --batches R        batches per device (10)
 *     --changes N        changes per batch (100)
 *     --group K          batches per transaction, like the collector's group_max (16)
 *     --sync 0|1|2       synchronous OFF/NORMAL/FULL (2, the product default)
 *     --ids 7|4          change and new entity ids: UUIDv7 like the reference
 *                        device (7), or random v4 (bench_gen.h)
 *     --prefill-households H --prefill-visits V
 *                        rows written by direct SQL in the engine's layout before
 *                        measuring (a province-sized store, scaled)
 *     --pull-households H --pull-reports P   (pull mode) the grid a new phone syncs
 *     --repeat N         (pull mode) initial syncs timed (5)
 *
 * Prints one JSON object on stdout. Payloads are generated before the clock
 * starts; the ceiling inserts the very rows (same sizes, same keys) that the
 * engine would write for them, with the store's pragmas and schema.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bench_gen.h"
#include "gs_engine.h"
#include "gs_store_raw.h"
#include "gs_error.h"
#include "gs_json.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "gs_status.h"
#include "gs_store.h"
#include "gs_util.h"

typedef struct opts {
  const char *mode, *db;
  int grids, devices, batches, changes, group, sync, repeat;
  long prefill_hh, prefill_visits;
  int pull_hh, pull_reports;
} opts;

static void die(const char *what) {
  fprintf(stderr, "gs-bench-engine: %s\n", what);
  exit(1);
}

/* ------------------------------------------------------------------ */
/* workload                                                             */

typedef struct workload {
  bench_dev *devs;
  gs_batch_in *in; /* in apply order: round-robin over devices */
  char **payload;
  size_t n;
  long changes;
} workload;

static void workload_make(workload *w, const opts *o, const char *prefix, int64_t now) {
  memset(w, 0, sizeof *w);
  w->devs = gs_calloc((size_t)o->devices, sizeof *w->devs);
  w->n = (size_t)o->devices * (size_t)o->batches;
  w->in = gs_calloc(w->n, sizeof *w->in);
  w->payload = gs_calloc(w->n, sizeof *w->payload);
  for (int d = 0; d < o->devices; d++) {
    char id[64], grid[16];
    snprintf(id, sizeof id, "%s-%05d", prefix, d + 1);
    bench_grid_id(d % o->grids, grid);
    bench_dev_init(&w->devs[d], id, grid, (uint64_t)d + 7, now - 60000);
  }
  size_t k = 0;
  for (int r = 0; r < o->batches; r++)
    for (int d = 0; d < o->devices; d++, k++) {
      gs_buf b = GS_BUF_INIT;
      bench_gen_batch(&w->devs[d], o->changes, &b);
      w->in[k].device = w->devs[d].id;
      w->in[k].len = b.len;
      w->payload[k] = gs_buf_steal(&b);
      w->in[k].payload = w->payload[k];
      w->changes += o->changes;
    }
}

static void workload_free(workload *w, int ndev) {
  for (size_t i = 0; i < w->n; i++) gs_free(w->payload[i]);
  for (int d = 0; d < ndev; d++) bench_dev_free(&w->devs[d]);
  gs_free(w->payload);
  gs_free(w->in);
  gs_free(w->devs);
}

/* ------------------------------------------------------------------ */
/* rows as the engine writes them (for the ceiling and the prefill)     */

typedef struct rows {
  char *type, *cid, *entity, *grid, *fields, *ver, *hist, *body;
  int64_t seq, hlc_ms, hlc_c;
} rows;

static void rows_free(rows *r) {
  gs_free(r->type);
  gs_free(r->cid);
  gs_free(r->entity);
  gs_free(r->grid);
  gs_free(r->fields);
  gs_free(r->ver);
  gs_free(r->hist);
  gs_free(r->body);
}

static char *canon(const cJSON *v) {
  gs_buf b = GS_BUF_INIT;
  gs_json_canon(v, &b);
  return gs_buf_steal(&b);
}

/* Builds the entity and change rows of one change (its set as the entity's
 * whole state, one hist entry per field: the shape of a newly created entity). */
static void rows_of(const cJSON *ch, const char *device, rows *r) {
  memset(r, 0, sizeof *r);
  const cJSON *set = cJSON_GetObjectItemCaseSensitive(ch, "set");
  const cJSON *hlc = cJSON_GetObjectItemCaseSensitive(ch, "hlc");
  r->type = gs_strdup(cJSON_GetObjectItemCaseSensitive(ch, "type")->valuestring);
  r->cid = gs_strdup(cJSON_GetObjectItemCaseSensitive(ch, "id")->valuestring);
  r->entity = gs_strdup(cJSON_GetObjectItemCaseSensitive(ch, "entity")->valuestring);
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(set, "grid");
  r->grid = gs_strdup(cJSON_IsString(g) ? g->valuestring : "g-000001");
  r->seq = (int64_t)cJSON_GetObjectItemCaseSensitive(ch, "seq")->valuedouble;
  r->hlc_ms = (int64_t)cJSON_GetArrayItem(hlc, 0)->valuedouble;
  r->hlc_c = (int64_t)cJSON_GetArrayItem(hlc, 1)->valuedouble;
  cJSON *ver = cJSON_CreateObject(), *hist = cJSON_CreateObject();
  const cJSON *f;
  cJSON_ArrayForEach(f, set) {
    cJSON *v = cJSON_CreateArray();
    cJSON_AddItemToArray(v, cJSON_CreateNumber((double)r->hlc_ms));
    cJSON_AddItemToArray(v, cJSON_CreateNumber((double)r->hlc_c));
    cJSON_AddItemToArray(v, cJSON_CreateString(device));
    cJSON_AddItemToObject(ver, f->string, v);
    cJSON *h = cJSON_CreateArray(), *e = cJSON_CreateArray();
    cJSON_AddItemToArray(e, cJSON_CreateNumber((double)r->hlc_ms));
    cJSON_AddItemToArray(e, cJSON_CreateNumber((double)r->hlc_c));
    cJSON_AddItemToArray(e, cJSON_CreateString(device));
    cJSON_AddItemToArray(e, cJSON_CreateNumber(0));
    cJSON_AddItemToArray(e, cJSON_CreateNumber(0));
    cJSON_AddItemToArray(e, cJSON_CreateNull());
    cJSON_AddItemToArray(e, cJSON_CreateString(r->cid));
    cJSON_AddItemToArray(e, cJSON_CreateString("0123456789abcdef"));
    cJSON_AddItemToArray(h, e);
    cJSON_AddItemToObject(hist, f->string, h);
  }
  r->fields = canon(set);
  r->ver = canon(ver);
  r->hist = canon(hist);
  r->body = canon(ch);
  cJSON_Delete(ver);
  cJSON_Delete(hist);
}

typedef struct raw_ins {
  sqlite3_stmt *ent, *chg, *hhp, *hhd;
  int64_t rev;
  uint64_t rng;
} raw_ins;

static void raw_prepare(sqlite3 *db, raw_ins *ri) {
  memset(ri, 0, sizeof *ri);
  ri->rng = 12345;
  if (sqlite3_prepare_v2(db,
                         "INSERT OR REPLACE INTO entity(type,id,grid,rev,fields,ver,hist) VALUES(?1,?2,?3,?4,?5,?6,?7)",
                         -1, &ri->ent, NULL) ||
      sqlite3_prepare_v2(db,
                         "INSERT INTO change(id,device,seq,type,entity,hlc_ms,hlc_c,clamped,digest,status,detail,"
                         "received_ms,body) VALUES(?1,?2,?3,?4,?5,?6,?7,0,?8,0,NULL,?9,?10)",
                         -1, &ri->chg, NULL) ||
      sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO hh_period(household,period,grid,visits) VALUES(?1,?2,?3,1)", -1,
                         &ri->hhp, NULL) ||
      sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO hh_day(household,day,visits) VALUES(?1,?2,1)", -1, &ri->hhd, NULL))
    die(sqlite3_errmsg(db));
}

static void raw_finalize(raw_ins *ri) {
  sqlite3_finalize(ri->ent);
  sqlite3_finalize(ri->chg);
  sqlite3_finalize(ri->hhp);
  sqlite3_finalize(ri->hhd);
}

static void raw_insert(sqlite3 *db, raw_ins *ri, const rows *r, const char *device) {
  unsigned char digest[32];
  for (int i = 0; i < 4; i++) {
    uint64_t x = bench_rand(&ri->rng);
    memcpy(digest + 8 * i, &x, 8);
  }
  sqlite3_stmt *s = ri->ent;
  sqlite3_reset(s);
  sqlite3_bind_text(s, 1, r->type, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, r->entity, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, r->grid, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 4, ++ri->rev);
  sqlite3_bind_text(s, 5, r->fields, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 6, r->ver, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 7, r->hist, -1, SQLITE_STATIC);
  if (sqlite3_step(s) != SQLITE_DONE) die(sqlite3_errmsg(db));
  s = ri->chg;
  sqlite3_reset(s);
  sqlite3_bind_text(s, 1, r->cid, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, device, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, r->seq);
  sqlite3_bind_text(s, 4, r->type, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 5, r->entity, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 6, r->hlc_ms);
  sqlite3_bind_int64(s, 7, r->hlc_c);
  sqlite3_bind_blob(s, 8, digest, 32, SQLITE_STATIC);
  sqlite3_bind_int64(s, 9, r->hlc_ms);
  sqlite3_bind_text(s, 10, r->body, -1, SQLITE_STATIC);
  if (sqlite3_step(s) != SQLITE_DONE) die(sqlite3_errmsg(db));
}

/* ------------------------------------------------------------------ */
/* setup                                                                */

static gs_engine *open_engine(const opts *o, gs_status **st) {
  gs_engine_config cfg;
  gs_engine_config_defaults(&cfg);
  cfg.db_path = o->db;
  cfg.synchronous = o->sync;
  char err[512];
  gs_engine *e = NULL;
  if (gs_engine_open(&e, &cfg, err, sizeof err)) die(err);
  if (st) {
    gs_status_config sc = {"Asia/Shanghai", 30};
    if (gs_status_open(st, e, &sc, err, sizeof err)) die(err);
  }
  return e;
}

static void setup_tree(gs_engine *e, const opts *o, const workload *w) {
  sqlite3 *db = gs_store_raw(gs_engine_store(e));
  if (bench_org_tree(db, o->grids)) die(sqlite3_errmsg(db));
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  for (int d = 0; w && d < o->devices; d++)
    if (bench_device_add(db, w->devs[d].id, w->devs[d].grid)) die(sqlite3_errmsg(db));
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

/* A province-like store, scaled: households and a year of visits, written
 * directly in the engine's layout (entity, change, hh_period, hh_day). */
static double prefill(const opts *o) {
  if (o->prefill_hh <= 0) return 0;
  int64_t t0 = bench_ns();
  gs_engine *e = open_engine(o, NULL);
  sqlite3 *db = gs_store_raw(gs_engine_store(e));
  sqlite3_exec(db, "PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576;", NULL, NULL, NULL);
  if (bench_org_tree(db, o->grids)) die(sqlite3_errmsg(db));
  raw_ins ri;
  raw_prepare(db, &ri);
  int64_t now = gs_now_ms() - 366LL * 86400000;
  int ndev = o->grids;
  bench_dev *devs = gs_calloc((size_t)ndev, sizeof *devs);
  for (int d = 0; d < ndev; d++) {
    char id[32], grid[16];
    snprintf(id, sizeof id, "pre-%05d", d + 1);
    bench_grid_id(d, grid);
    bench_dev_init(&devs[d], id, grid, (uint64_t)d + 99991, now);
  }
  long hh = 0, visits = 0, n = 0;
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  while (hh < o->prefill_hh || visits < o->prefill_visits) {
    bench_dev *d = &devs[n++ % (size_t)ndev];
    d->hlc_ms += 60000; /* spread over the year */
    gs_buf b = GS_BUF_INIT;
    bench_gen_batch(d, 20, &b);
    cJSON *doc = cJSON_ParseWithLength(b.data, b.len);
    const cJSON *ch;
    cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(doc, "changes")) {
      rows r;
      rows_of(ch, d->id, &r);
      int is_hh = strcmp(r.type, "household") == 0, is_visit = strcmp(r.type, "visit") == 0;
      if ((is_hh && hh >= o->prefill_hh) || (is_visit && visits >= o->prefill_visits)) {
        rows_free(&r);
        continue;
      }
      raw_insert(db, &ri, &r, d->id);
      if (is_hh) hh++;
      if (is_visit) {
        visits++;
        char period[8], day[11];
        const cJSON *set = cJSON_GetObjectItemCaseSensitive(ch, "set");
        int64_t at = (int64_t)cJSON_GetObjectItemCaseSensitive(set, "visited_at")->valuedouble;
        const char *h = cJSON_GetObjectItemCaseSensitive(set, "household")->valuestring;
        gs_status_period(at, period);
        gs_status_day(at, day);
        sqlite3_reset(ri.hhp);
        sqlite3_bind_text(ri.hhp, 1, h, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ri.hhp, 2, period, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ri.hhp, 3, r.grid, -1, SQLITE_TRANSIENT);
        sqlite3_step(ri.hhp);
        sqlite3_reset(ri.hhd);
        sqlite3_bind_text(ri.hhd, 1, h, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ri.hhd, 2, day, -1, SQLITE_TRANSIENT);
        sqlite3_step(ri.hhd);
      }
      rows_free(&r);
    }
    cJSON_Delete(doc);
    gs_buf_free(&b);
    if (n % 2000 == 0) {
      sqlite3_exec(db, "COMMIT; BEGIN", NULL, NULL, NULL);
      /* households referenced by visits come from a device's own ring: cap it */
      for (int k = 0; k < ndev; k++)
        if (devs[k].nhh > 2000) devs[k].nhh = 2000;
    }
  }
  char sql[128];
  snprintf(sql, sizeof sql, "UPDATE meta SET value=%lld WHERE key='rev'", (long long)ri.rev);
  sqlite3_exec(db, sql, NULL, NULL, NULL);
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  raw_finalize(&ri);
  for (int d = 0; d < ndev; d++) bench_dev_free(&devs[d]);
  gs_free(devs);
  sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  gs_engine_close(e);
  /* recount the aggregates from the rows, as an administrator would */
  gs_status *st = NULL;
  e = open_engine(o, &st);
  if (gs_status_recount(st, gs_now_ms())) die("recount failed");
  gs_status_close(st);
  gs_engine_close(e);
  return (double)(bench_ns() - t0) / 1e9;
}

/* ------------------------------------------------------------------ */
/* modes                                                                */

static long file_size(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int mode_apply(const opts *o) {
  double pre_s = prefill(o);
  gs_status *st = NULL;
  gs_engine *e = open_engine(o, &st);
  workload w;
  workload_make(&w, o, "bench", gs_now_ms());
  setup_tree(e, o, &w);
  size_t ngroups = (w.n + (size_t)o->group - 1) / (size_t)o->group;
  double *gms = gs_calloc(ngroups, sizeof *gms);
  gs_buf *acks = gs_calloc((size_t)o->group, sizeof *acks);
  long applied = 0, other = 0;
  int64_t t0 = bench_ns();
  for (size_t g = 0; g < ngroups; g++) {
    size_t i = g * (size_t)o->group, n = w.n - i < (size_t)o->group ? w.n - i : (size_t)o->group;
    for (size_t k = 0; k < n; k++) gs_buf_reset(&acks[k]);
    int64_t a = bench_ns();
    int rc = gs_engine_apply_group(e, &w.in[i], n, acks);
    gms[g] = (double)(bench_ns() - a) / 1e6;
    if (rc) die(gs_strerror(rc));
    for (size_t k = 0; k < n; k++) {
      const char *p = strstr(acks[k].data, "\"applied\":");
      if (!p || strstr(acks[k].data, "\"error\"")) die(acks[k].data);
      applied += strtol(p + 10, NULL, 10);
      if (strstr(acks[k].data, "\"rejected\":[]") == NULL) other++;
    }
  }
  double secs = (double)(bench_ns() - t0) / 1e9;
  double med = bench_quantile(gms, ngroups, 0.5), p95 = bench_quantile(gms, ngroups, 0.95);
  sqlite3_stmt *q = NULL;
  long entities = 0;
  sqlite3_prepare_v2(gs_store_raw(gs_engine_store(e)), "SELECT count(*) FROM entity", -1, &q, NULL);
  if (sqlite3_step(q) == SQLITE_ROW) entities = (long)sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  printf(
      "{\"mode\":\"apply\",\"ids\":%d,\"changes\":%ld,\"applied\":%ld,\"batches_with_rejections\":%ld,\"seconds\":%.3f,"
      "\"changes_per_s\":%.0f,\"group\":%d,\"changes_per_batch\":%d,\"group_ms_p50\":%.3f,\"group_ms_p95\":%.3f,"
      "\"batch_ms_p50\":%.3f,\"sync\":%d,\"prefill_s\":%.1f,\"entities_after\":%ld,\"db_bytes\":%ld}\n",
      bench_id_version, w.changes, applied, other, secs, (double)w.changes / secs, o->group, o->changes, med, p95,
      med / o->group, o->sync, pre_s, entities, file_size(o->db));
  for (int k = 0; k < o->group; k++) gs_buf_free(&acks[k]);
  gs_free(acks);
  gs_free(gms);
  workload_free(&w, o->devices);
  gs_status_close(st);
  gs_engine_close(e);
  return applied == w.changes ? 0 : 1;
}

static int mode_ceiling(const opts *o) {
  /* with --prefill-*: the same rows into a province-sized store (7: does the
   * raw insert cost grow with the store, as the engine's does?) */
  double pre_s = prefill(o);
  gs_engine *e = open_engine(o, NULL); /* schema and pragmas only */
  sqlite3 *db = gs_store_raw(gs_engine_store(e));
  workload w;
  workload_make(&w, o, "bench", gs_now_ms());
  setup_tree(e, o, &w);
  /* the rows the engine would write, built before the clock starts */
  size_t nrows = (size_t)w.changes, k = 0;
  rows *rs = gs_calloc(nrows, sizeof *rs);
  const char **devs = gs_calloc(nrows, sizeof *devs);
  size_t *batch_end = gs_calloc(w.n, sizeof *batch_end);
  for (size_t i = 0; i < w.n; i++) {
    cJSON *doc = cJSON_ParseWithLength(w.in[i].payload, w.in[i].len);
    const cJSON *ch;
    cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(doc, "changes")) {
      rows_of(ch, w.in[i].device, &rs[k]);
      devs[k++] = w.in[i].device;
    }
    batch_end[i] = k;
    cJSON_Delete(doc);
  }
  raw_ins ri;
  raw_prepare(db, &ri);
  size_t ngroups = (w.n + (size_t)o->group - 1) / (size_t)o->group, g = 0;
  double *gms = gs_calloc(ngroups, sizeof *gms);
  int64_t t0 = bench_ns();
  size_t r = 0;
  for (size_t i = 0; i < w.n; i += (size_t)o->group, g++) {
    size_t last = i + (size_t)o->group < w.n ? i + (size_t)o->group : w.n;
    int64_t a = bench_ns();
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) die(sqlite3_errmsg(db));
    for (; r < batch_end[last - 1]; r++) raw_insert(db, &ri, &rs[r], devs[r]);
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) die(sqlite3_errmsg(db));
    gms[g] = (double)(bench_ns() - a) / 1e6;
  }
  double secs = (double)(bench_ns() - t0) / 1e9;
  double med = bench_quantile(gms, ngroups, 0.5);
  gs_free(gms);
  size_t bytes = 0;
  for (size_t i = 0; i < nrows; i++)
    bytes += strlen(rs[i].fields) + strlen(rs[i].ver) + strlen(rs[i].hist) + strlen(rs[i].body);
  printf("{\"mode\":\"ceiling\",\"changes\":%zu,\"seconds\":%.3f,\"changes_per_s\":%.0f,\"group\":%d,"
         "\"row_bytes_avg\":%.0f,\"sync\":%d,\"batch_ms_p50\":%.3f,\"prefill_s\":%.1f,\"db_bytes\":%ld}\n",
         nrows, secs, (double)nrows / secs, o->group, (double)bytes / (double)nrows, o->sync, med / o->group, pre_s,
         file_size(o->db));
  raw_finalize(&ri);
  for (size_t i = 0; i < nrows; i++) rows_free(&rs[i]);
  gs_free(rs);
  gs_free(devs);
  gs_free(batch_end);
  workload_free(&w, o->devices);
  gs_engine_close(e);
  return 0;
}

/* A grid of pull_hh households (plus visits of the other grids and
 * pull_reports open reports), then a new phone's initial sync of it. */
static int mode_pull(const opts *o) {
  double pre_s = prefill(o);
  gs_status *st = NULL;
  gs_engine *e = open_engine(o, &st);
  sqlite3 *db = gs_store_raw(gs_engine_store(e));
  if (bench_org_tree(db, o->grids)) die(sqlite3_errmsg(db));
  char grid[16];
  bench_grid_id(0, grid);
  bench_device_add(db, "bench-writer", grid);
  bench_dev wd;
  bench_dev_init(&wd, "bench-writer", grid, 4242, gs_now_ms() - 60000);
  /* households first, then reports: through the engine, so revs and rows are real */
  int made_hh = 0, made_rep = 0, nb = 0;
  gs_buf ack = GS_BUF_INIT;
  while (made_hh < o->pull_hh || made_rep < o->pull_reports) {
    gs_buf b = GS_BUF_INIT;
    bench_gen_batch(&wd, 100, &b);
    /* keep only the kinds still wanted: rebuild the batch from its changes */
    cJSON *doc = cJSON_ParseWithLength(b.data, b.len);
    cJSON *chs = cJSON_GetObjectItemCaseSensitive(doc, "changes"), *keep = cJSON_CreateArray(), *ch, *nx;
    for (ch = chs->child; ch; ch = nx) {
      nx = ch->next;
      const char *t = cJSON_GetObjectItemCaseSensitive(ch, "type")->valuestring;
      int create = !cJSON_GetObjectItemCaseSensitive(ch, "base");
      if ((strcmp(t, "household") == 0 && create && made_hh < o->pull_hh && ++made_hh) ||
          (strcmp(t, "report") == 0 && made_rep < o->pull_reports && ++made_rep) ||
          (strcmp(t, "visit") == 0 && nb % 4 == 0))
        cJSON_AddItemToArray(keep, cJSON_DetachItemViaPointer(chs, ch));
    }
    nb++;
    cJSON_ReplaceItemInObjectCaseSensitive(doc, "changes", keep);
    char *p = cJSON_PrintUnformatted(doc);
    gs_buf_reset(&ack);
    if (cJSON_GetArraySize(keep) && gs_engine_apply(e, "bench-writer", p, strlen(p), &ack)) die("seed apply");
    cJSON_free(p);
    cJSON_Delete(doc);
    gs_buf_free(&b);
  }
  bench_dev_free(&wd);
  sqlite3_stmt *q = NULL;
  long in_grid = 0;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM entity WHERE grid=?1", -1, &q, NULL);
  sqlite3_bind_text(q, 1, grid, -1, SQLITE_STATIC);
  if (sqlite3_step(q) == SQLITE_ROW) in_grid = (long)sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  int64_t *ns = gs_calloc((size_t)o->repeat, sizeof *ns);
  long ents = 0, bytes = 0, pages = 0;
  for (int r = 0; r < o->repeat; r++) {
    char dev[32];
    snprintf(dev, sizeof dev, "bench-new-%03d", r);
    bench_device_add(db, dev, grid);
    int64_t since = 0, total = 0;
    int more = 1;
    ents = bytes = pages = 0;
    while (more) {
      char req[96];
      snprintf(req, sizeof req, "{\"v\":1,\"since\":%lld,\"limit\":500}", (long long)since);
      gs_buf page = GS_BUF_INIT;
      int64_t a = bench_ns();
      if (gs_engine_pull(e, dev, req, strlen(req), &page)) die("pull");
      total += bench_ns() - a;
      cJSON *doc = cJSON_ParseWithLength(page.data, page.len);
      const cJSON *nx = cJSON_GetObjectItemCaseSensitive(doc, "next");
      if (!nx) die(page.data);
      since = (int64_t)nx->valuedouble;
      more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "more"));
      ents += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "entities"));
      bytes += (long)page.len;
      pages++;
      cJSON_Delete(doc);
      gs_buf_free(&page);
    }
    ns[r] = total;
  }
  qsort(ns, (size_t)o->repeat, sizeof *ns, cmp_i64);
  printf("{\"mode\":\"pull\",\"grid_entities\":%ld,\"households\":%d,\"reports\":%d,\"pulled\":%ld,\"pages\":%ld,"
         "\"bytes\":%ld,\"server_ms_p50\":%.2f,\"server_ms_min\":%.2f,\"server_ms_max\":%.2f,\"repeat\":%d,"
         "\"prefill_s\":%.1f,\"db_bytes\":%ld}\n",
         in_grid, made_hh, made_rep, ents, pages, bytes, (double)ns[o->repeat / 2] / 1e6, (double)ns[0] / 1e6,
         (double)ns[o->repeat - 1] / 1e6, o->repeat, pre_s, file_size(o->db));
  gs_free(ns);
  gs_buf_free(&ack);
  gs_status_close(st);
  gs_engine_close(e);
  return ents == in_grid ? 0 : 1;
}

int main(int argc, char **argv) {
  opts o;
  memset(&o, 0, sizeof o);
  o.mode = bench_opt(argc, argv, "--mode", "apply");
  o.db = bench_opt(argc, argv, "--db", NULL);
  o.grids = atoi(bench_opt(argc, argv, "--grids", "100"));
  o.devices = atoi(bench_opt(argc, argv, "--devices", "50"));
  o.batches = atoi(bench_opt(argc, argv, "--batches", "10"));
  o.changes = atoi(bench_opt(argc, argv, "--changes", "100"));
  o.group = atoi(bench_opt(argc, argv, "--group", "16"));
  o.sync = atoi(bench_opt(argc, argv, "--sync", "2"));
  o.repeat = atoi(bench_opt(argc, argv, "--repeat", "5"));
  bench_id_version = atoi(bench_opt(argc, argv, "--ids", "7"));
  o.prefill_hh = atol(bench_opt(argc, argv, "--prefill-households", "0"));
  o.prefill_visits = atol(bench_opt(argc, argv, "--prefill-visits", "0"));
  o.pull_hh = atoi(bench_opt(argc, argv, "--pull-households", "500"));
  o.pull_reports = atoi(bench_opt(argc, argv, "--pull-reports", "40"));
  if (!o.db || o.grids < 1 || o.devices < 1 || o.batches < 1 || o.changes < 1 || o.group < 1 || o.repeat < 1 ||
      (bench_id_version != 4 && bench_id_version != 7))
    die("usage: gs-bench-engine --mode ceiling|apply|pull --db FILE [--grids G] [--devices D] [--batches R] "
        "[--changes N] [--group K] [--sync 0|1|2] [--ids 7|4] [--prefill-households H --prefill-visits V]");
  gs_log_init("gs-bench-engine", GS_LOG_WARN);
  if (strcmp(o.mode, "gen") != 0) remove(o.db);
  char side[1100];
  snprintf(side, sizeof side, "%s-wal", o.db);
  remove(side);
  snprintf(side, sizeof side, "%s-shm", o.db);
  remove(side);
  if (strcmp(o.mode, "gen") == 0) { /* prints one batch (debugging the generator) */
    bench_dev d;
    gs_buf b = GS_BUF_INIT;
    int nth = atoi(bench_opt(argc, argv, "--batch-no", "1"));
    bench_dev_init(&d, bench_opt(argc, argv, "--device", "bench-00001"), bench_opt(argc, argv, "--grid", "g-000001"), 7,
                   gs_now_ms() - 60000);
    for (int i = 0; i < (nth > 0 ? nth : 1); i++) {
      gs_buf_reset(&b);
      bench_gen_batch(&d, o.changes, &b);
    }
    puts(b.data);
    gs_buf_free(&b);
    bench_dev_free(&d);
    return 0;
  }
  if (strcmp(o.mode, "apply") == 0) return mode_apply(&o);
  if (strcmp(o.mode, "ceiling") == 0) return mode_ceiling(&o);
  if (strcmp(o.mode, "pull") == 0) return mode_pull(&o);
  die("unknown --mode");
  return 1;
}
