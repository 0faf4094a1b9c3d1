#include "bench_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gs_mem.h"

uint64_t bench_rand(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

int bench_id_version = 7;

void bench_uuid(uint64_t *s, int64_t ms, char out[37]) {
  uint64_t a = bench_rand(s), b = bench_rand(s);
  if (bench_id_version == 7) /* 48 bits of ms, like gs_uuid7 (the reference device) */
    a = ((uint64_t)ms << 16) | (a & 0xffff);
  snprintf(out, 37, "%08x-%04x-%d%03x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
           bench_id_version == 7 ? 7 : 4, (unsigned)a & 0xfff, (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
           (unsigned long long)(b & 0xffffffffffffULL));
}

void bench_dev_init(bench_dev *d, const char *id, const char *grid, uint64_t seed, int64_t now_ms) {
  memset(d, 0, sizeof *d);
  snprintf(d->id, sizeof d->id, "%s", id);
  snprintf(d->grid, sizeof d->grid, "%s", grid);
  d->rng = seed * 2654435761ULL + 0x9E3779B97F4A7C15ULL;
  if (!d->rng) d->rng = 1;
  d->hlc_ms = now_ms;
}

void bench_dev_free(bench_dev *d) {
  gs_free(d->hh);
  gs_free(d->hh_ver);
  d->hh = NULL;
  d->hh_ver = NULL;
}

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"};
static const char *const given[] = {"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军"};
static const char *const roads[] = {"和平路", "解放大街", "人民路", "建设路", "中山路", "幸福街"};
static const char *const notes[] = {
    "独居老人，子女在外地工作，每周电话联系一次，需定期上门探访并检查用电用气安全。",
    "家中有残疾人一名，已办理残疾证，享受低保待遇，近期反映楼道照明损坏需要维修。",
    "租户家庭，房东联系方式已登记，人员流动较大，需每月核实一次居住人员信息。",
};
static const char *const summaries[] = {
    "入户走访，了解家庭近况，老人身体状况良好，提醒注意冬季取暖安全，检查燃气阀门正常。",
    "跟进上次反映的楼道照明问题，物业已安排维修，居民表示满意，登记新的联系电话。",
    "走访发现家中老人行动不便，已协调社区志愿者每周两次上门帮助采购生活用品。",
};
static const char *const tagsets[] = {
    "[]", "[\"elderly_alone\"]", "[\"low_income\"]", "[\"rental\"]", "[\"disabled\",\"low_income\"]", "[]",
    "[]", "[\"party_member\"]"};

#define PICK(arr, r) arr[(r) % (sizeof arr / sizeof arr[0])]

static void tick(bench_dev *d) {
  d->hlc_c++;
  if (d->hlc_c > 60000) {
    d->hlc_ms++;
    d->hlc_c = 0;
  }
}

static void remember_hh(bench_dev *d, const char *id) {
  if (d->nhh == d->caphh) {
    size_t cap = d->caphh ? d->caphh * 2 : 64;
    d->hh = gs_realloc(d->hh, cap * sizeof *d->hh);
    d->hh_ver = gs_realloc(d->hh_ver, cap * sizeof *d->hh_ver);
    d->caphh = cap;
  }
  memcpy(d->hh[d->nhh], id, 37);
  d->hh_ver[d->nhh][0] = 0; /* members never written yet */
  d->nhh++;
}

int bench_gen_batch(bench_dev *d, int n, gs_buf *b) {
  gs_buf_printf(b, "{\"v\":1,\"batch\":\"%s-b%06d\",\"changes\":[", d->id, ++d->batches);
  for (int i = 0; i < n; i++) {
    uint64_t r = bench_rand(&d->rng);
    int kind = (int)(r % 100);
    char cid[37], eid[37];
    bench_uuid(&d->rng, d->hlc_ms, cid);
    tick(d);
    if (i) gs_buf_puts(b, ",");
    if (kind < 20 || d->nhh == 0) { /* new household */
      bench_uuid(&d->rng, d->hlc_ms, eid);
      remember_hh(d, eid);
      gs_buf_printf(b,
                    "{\"id\":\"%s\",\"seq\":%lld,\"type\":\"household\",\"entity\":\"%s\",\"hlc\":[%lld,%d],"
                    "\"set\":{\"grid\":\"%s\",\"address\":\"%s%d号%d栋%d单元%d室\",\"building\":\"%d\","
                    "\"unit\":\"%d\",\"head_name\":\"%s%s\",\"phone\":\"139%08llu\",\"members\":%d,\"tags\":%s,"
                    "\"note\":\"%s\"}}",
                    cid, (long long)++d->seq, eid, (long long)d->hlc_ms, d->hlc_c, d->grid, PICK(roads, r >> 8),
                    (int)((r >> 12) % 300) + 1, (int)((r >> 20) % 30) + 1, (int)((r >> 24) % 6) + 1,
                    (int)((r >> 28) % 30) * 100 + 101, (int)((r >> 20) % 30) + 1, (int)((r >> 24) % 6) + 1,
                    PICK(surnames, r >> 32), PICK(given, r >> 36), (unsigned long long)((r >> 16) % 100000000),
                    (int)((r >> 40) % 6) + 1, PICK(tagsets, r >> 44), PICK(notes, r >> 48));
      d->hh_ver[d->nhh - 1][0] = d->hlc_ms;
      d->hh_ver[d->nhh - 1][1] = d->hlc_c;
    } else if (kind < 35) { /* edit of a household this device knows, with base */
      size_t h = (size_t)(r >> 8) % d->nhh;
      gs_buf_printf(b,
                    "{\"id\":\"%s\",\"seq\":%lld,\"type\":\"household\",\"entity\":\"%s\",\"hlc\":[%lld,%d],"
                    "\"base\":{\"members\":[%lld,%lld,\"%s\"],\"note\":[%lld,%lld,\"%s\"]},"
                    "\"set\":{\"members\":%d,\"note\":\"%s%s\"}}",
                    cid, (long long)++d->seq, d->hh[h], (long long)d->hlc_ms, d->hlc_c, (long long)d->hh_ver[h][0],
                    (long long)d->hh_ver[h][1], d->id, (long long)d->hh_ver[h][0], (long long)d->hh_ver[h][1], d->id,
                    (int)((r >> 40) % 6) + 1, PICK(notes, r >> 48), PICK(summaries, r >> 52));
      d->hh_ver[h][0] = d->hlc_ms;
      d->hh_ver[h][1] = d->hlc_c;
    } else if (kind < 92) { /* a visit */
      size_t h = (size_t)(r >> 8) % d->nhh;
      bench_uuid(&d->rng, d->hlc_ms, eid);
      gs_buf_printf(b,
                    "{\"id\":\"%s\",\"seq\":%lld,\"type\":\"visit\",\"entity\":\"%s\",\"hlc\":[%lld,%d],"
                    "\"set\":{\"grid\":\"%s\",\"household\":\"%s\",\"worker\":\"%s%s\",\"visited_at\":%lld,"
                    "\"kind\":\"routine\",\"summary\":\"%s\",\"needs\":[\"elderly_care\"],"
                    "\"gps\":[39.9%05d,116.3%05d],\"duration\":%d}}",
                    cid, (long long)++d->seq, eid, (long long)d->hlc_ms, d->hlc_c, d->grid, d->hh[h],
                    PICK(surnames, r >> 32), PICK(given, r >> 36),
                    (long long)d->hlc_ms - (long long)(r >> 40) % 3600000, PICK(summaries, r >> 48),
                    (int)((r >> 12) % 100000), (int)((r >> 28) % 100000), (int)((r >> 44) % 60) + 5);
    } else { /* a report */
      bench_uuid(&d->rng, d->hlc_ms, eid);
      static const char *const urg[] = {"low", "normal", "normal", "high", "critical"};
      static const char *const cat[] = {"dispute", "safety_hazard", "environment", "facility", "livelihood"};
      gs_buf_printf(b,
                    "{\"id\":\"%s\",\"seq\":%lld,\"type\":\"report\",\"entity\":\"%s\",\"hlc\":[%lld,%d],"
                    "\"set\":{\"grid\":\"%s\",\"household\":\"%s\",\"category\":\"%s\",\"urgency\":\"%s\","
                    "\"title\":\"楼道照明损坏需要维修\",\"description\":\"%s\",\"status\":\"open\","
                    "\"due_at\":%lld}}",
                    cid, (long long)++d->seq, eid, (long long)d->hlc_ms, d->hlc_c, d->grid,
                    d->hh[(size_t)(r >> 8) % d->nhh], PICK(cat, r >> 16), PICK(urg, r >> 24), PICK(notes, r >> 48),
                    (long long)d->hlc_ms + 7 * 86400000LL);
    }
  }
  return gs_buf_puts(b, "]}");
}

void bench_grid_id(int i, char out[16]) { snprintf(out, 16, "g-%06d", i + 1); }

static int org_row(sqlite3_stmt *st, const char *id, const char *parent, const char *level, const char *name) {
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
  if (parent) sqlite3_bind_text(st, 2, parent, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, 2);
  sqlite3_bind_text(st, 3, level, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, name, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  return rc == SQLITE_DONE ? 0 : rc;
}

int bench_org_tree(sqlite3 *db, int ngrids) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  if (!rc)
    rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO org(id,parent,level,name) VALUES(?1,?2,?3,?4)", -1, &st, NULL);
  if (!rc) rc = org_row(st, "c-b", NULL, "city", "基准市");
  if (!rc) rc = org_row(st, "d-b", "c-b", "district", "基准区");
  for (int g = 0; !rc && g < ngrids; g++) {
    char gid[16], cid[32], sid[32], name[64];
    int c = g / 10, s = c / 10;
    snprintf(sid, sizeof sid, "s-%04d", s + 1);
    snprintf(cid, sizeof cid, "cm-%05d", c + 1);
    bench_grid_id(g, gid);
    if (g % 100 == 0) rc = org_row(st, sid, "d-b", "street", "基准街道");
    if (!rc && g % 10 == 0) rc = org_row(st, cid, sid, "community", "基准社区");
    snprintf(name, sizeof name, "第%d网格", g + 1);
    if (!rc) rc = org_row(st, gid, cid, "grid", name);
  }
  sqlite3_finalize(st);
  if (!rc) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  else sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

int bench_device_add(sqlite3 *db, const char *id, const char *grid) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(
      db, "INSERT OR IGNORE INTO device(id, worker, enabled, created_ms) VALUES(?1,'bench',1,0)", -1, &st, NULL);
  if (!rc) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqlite3_errcode(db);
  }
  sqlite3_finalize(st);
  st = NULL;
  if (!rc) rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO device_grid(device, grid) VALUES(?1,?2)", -1, &st, NULL);
  if (!rc) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, grid, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqlite3_errcode(db);
  }
  sqlite3_finalize(st);
  return rc;
}

int64_t bench_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double bench_quantile(double *v, size_t n, double q) {
  if (!n) return 0;
  qsort(v, n, sizeof *v, cmp_d);
  size_t i = (size_t)(q * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

long bench_rss_kb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t fl = strlen(field);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, field, fl) == 0 && line[fl] == ':') v = strtol(line + fl + 1, NULL, 10);
  if (f) fclose(f);
  return v;
}

const char *bench_opt(int argc, char **argv, const char *name, const char *def) {
  for (int i = 1; i < argc - 1; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}
