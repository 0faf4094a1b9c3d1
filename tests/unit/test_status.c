/* Status aggregates: every number, day and period rollover, the care-due
 * window, grid moves, and a full recount equal to the incremental path after
 * a random workload. Real SQLite file per test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gs_error.h"
#include "gs_status.h"
#include "tharness.h"

#define DAY (86400 * 1000LL)

static gs_status *open_status(th *t) {
  gs_status *s = NULL;
  gs_status_config c = {"Asia/Shanghai", 30};
  char err[256];
  assert_int_equal(gs_status_open(&s, t->e, &c, err, sizeof err), GS_OK);
  return s;
}

static int seqs[8];
static void put(th *t, const char *dev, const char *type, const char *id, long long ms, const char *set) {
  char buf[4096];
  static int k;
  int d = dev[4] - 'a';
  snprintf(buf, sizeof buf,
           "{\"v\":1,\"batch\":\"b%d\",\"changes\":[{\"id\":\"c%d\",\"seq\":%d,\"type\":\"%s\",\"entity\":\"%s\","
           "\"hlc\":[%lld,0],\"set\":{%s}}]}",
           k, k, ++seqs[d], type, id, ms, set);
  k++;
  cJSON *ack = th_apply(t, dev, buf);
  if (cJSON_GetArraySize(cJSON_GetObjectItem(ack, "rejected")) != 0) fail_msg("rejected: %s", t->out.data);
  cJSON_Delete(ack);
}

static gs_status_numbers nums(gs_status *s, const char *org, int64_t now) {
  gs_status_numbers n;
  assert_int_equal(gs_status_numbers_of(s, org, now, &n), GS_OK);
  return n;
}

static void test_numbers(void **state) {
  th *t = th_open();
  memset(seqs, 0, sizeof seqs);
  gs_status *s = open_status(t);
  long long now = t->now; /* 2025-11-23 14:40 in Asia/Shanghai */
  put(t, "dev-a", "household", "h1", now, "\"grid\":\"g1\",\"address\":\"a\"");
  put(t, "dev-a", "household", "h2", now, "\"grid\":\"g1\",\"address\":\"b\"");
  put(t, "dev-a", "household", "h3", now, "\"grid\":\"g1\",\"address\":\"c\",\"tags\":[\"elderly_alone\"]");
  put(t, "dev-a", "household", "h4", now, "\"grid\":\"g2\",\"address\":\"d\"");
  assert_int_equal(nums(s, "g1", now).households, 3);
  assert_int_equal(nums(s, "cm1", now).households, 4);
  assert_int_equal(nums(s, "c1", now).households, 4);
  /* visits: two to h1 today, one to h2 yesterday */
  put(t, "dev-a", "visit", "v1", now, "\"grid\":\"g1\",\"household\":\"h1\",\"visited_at\":1763880000000");
  put(t, "dev-a", "visit", "v2", now, "\"grid\":\"g1\",\"household\":\"h1\",\"visited_at\":1763880100000");
  put(t, "dev-a", "visit", "v3", now, "\"grid\":\"g1\",\"household\":\"h2\",\"visited_at\":1763793600000");
  gs_status_numbers n = nums(s, "g1", now);
  assert_int_equal(n.visits_today, 2);
  assert_int_equal(n.visited_period, 2);
  assert_int_equal(nums(s, "d1", now).visited_period, 2);
  /* day rollover: tomorrow nothing today, same period */
  n = nums(s, "g1", now + DAY);
  assert_int_equal(n.visits_today, 0);
  assert_int_equal(n.visited_period, 2);
  /* period rollover: December */
  assert_int_equal(nums(s, "g1", now + 10 * DAY).visited_period, 0);
  /* deleting one of h1's two visits keeps h1 visited; deleting both does not */
  put(t, "dev-a", "visit", "v1", now + 1, "\"_deleted\":true");
  n = nums(s, "g1", now);
  assert_int_equal(n.visits_today, 1);
  assert_int_equal(n.visited_period, 2);
  put(t, "dev-a", "visit", "v2", now + 2, "\"_deleted\":true");
  assert_int_equal(nums(s, "g1", now).visited_period, 1);
  /* reports: open by urgency, overdue after refresh, resolved leaves the count */
  put(t, "dev-a", "report", "r1", now,
      "\"grid\":\"g1\",\"category\":\"dispute\",\"title\":\"x\",\"urgency\":\"high\",\"due_at\":1763800000000");
  put(t, "dev-a", "report", "r2", now, "\"grid\":\"g1\",\"category\":\"facility\",\"title\":\"y\"");
  put(t, "dev-a", "report", "r3", now,
      "\"grid\":\"g2\",\"category\":\"facility\",\"title\":\"z\",\"status\":\"closed\"");
  assert_int_equal(gs_status_refresh(s, now), GS_OK);
  n = nums(s, "g1", now);
  assert_int_equal(n.reports_open, 2);
  assert_int_equal(n.by_urgency[2], 1); /* high */
  assert_int_equal(n.by_urgency[1], 1); /* normal by default */
  assert_int_equal(n.reports_overdue, 1);
  assert_int_equal(nums(s, "c1", now).reports_open, 2);
  put(t, "dev-a", "report", "r1", now + 3, "\"status\":\"resolved\"");
  assert_int_equal(gs_status_refresh(s, now), GS_OK);
  n = nums(s, "g1", now);
  assert_int_equal(n.reports_open, 1);
  assert_int_equal(n.reports_overdue, 0);
  /* care due: h3 (elderly_alone) never visited */
  assert_int_equal(n.care_due, 1);
  put(t, "dev-a", "visit", "v4", now, "\"grid\":\"g1\",\"household\":\"h3\",\"visited_at\":1763880000000");
  assert_int_equal(nums(s, "g1", now).care_due, 0); /* at once, before any refresh */
  assert_int_equal(nums(s, "c1", now).care_due, 0);
  assert_int_equal(gs_status_refresh(s, now), GS_OK);
  assert_int_equal(nums(s, "g1", now).care_due, 0);
  assert_int_equal(gs_status_refresh(s, now + 31 * DAY), GS_OK);
  assert_int_equal(nums(s, "g1", now + 31 * DAY).care_due, 1);
  assert_int_equal(gs_status_refresh(s, now), GS_OK);
  /* tag removed: no longer a care household */
  put(t, "dev-a", "household", "h3", now + 4, "\"tags\":[]");
  assert_int_equal(gs_status_refresh(s, now + 31 * DAY), GS_OK);
  assert_int_equal(nums(s, "g1", now + 31 * DAY).care_due, 0);
  /* devices active in 24 h */
  assert_int_equal(gs_status_refresh(s, now), GS_OK);
  assert_int_equal(nums(s, "g1", now).devices_active, 1);
  assert_int_equal(gs_status_refresh(s, now + 2 * DAY), GS_OK);
  assert_int_equal(nums(s, "g1", now + 2 * DAY).devices_active, 0);
  /* a household moving grids */
  put(t, "dev-a", "household", "h2", now + 5, "\"grid\":\"g2\"");
  assert_int_equal(nums(s, "g1", now).households, 2);
  assert_int_equal(nums(s, "g2", now).households, 2);
  assert_int_equal(nums(s, "cm1", now).households, 4);
  /* the document, byte for byte (dashboards and the rollup compare the bytes);
   * the zone is the configured one, whatever the process's TZ says */
  gs_buf b = GS_BUF_INIT;
  setenv("TZ", "America/New_York", 1);
  assert_int_equal(gs_status_doc(s, "g1", now, &b), GS_OK);
  unsetenv("TZ");
  assert_string_equal(b.data, "{\"v\":1,\"org\":\"g1\",\"parent\":\"cm1\",\"level\":\"grid\",\"name\":\"一网格\","
                              "\"as_of\":\"2025-11-23T14:40:00+08:00\",\"period\":\"2025-11\",\"households\":2,"
                              "\"visited_period\":2,\"visits_today\":1,\"reports_open\":1,\"reports_by_urgency\":{"
                              "\"low\":0,\"normal\":1,\"high\":0,\"critical\":0},\"reports_overdue\":0,\"care_due\":0,"
                              "\"devices_active_24h\":0}");
  cJSON *doc = cJSON_Parse(b.data);
  assert_non_null(doc);
  assert_string_equal(cJSON_GetObjectItem(doc, "org")->valuestring, "g1");
  assert_string_equal(cJSON_GetObjectItem(doc, "parent")->valuestring, "cm1");
  assert_string_equal(cJSON_GetObjectItem(doc, "level")->valuestring, "grid");
  assert_string_equal(cJSON_GetObjectItem(doc, "name")->valuestring, "一网格");
  assert_string_equal(cJSON_GetObjectItem(doc, "period")->valuestring, "2025-11");
  assert_non_null(strstr(cJSON_GetObjectItem(doc, "as_of")->valuestring, "+08:00"));
  assert_int_equal(cJSON_GetObjectItem(doc, "households")->valueint, 2);
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "reports_by_urgency"), "normal")->valueint, 1);
  cJSON_Delete(doc);
  gs_buf_free(&b);
  assert_int_equal(gs_status_doc(s, "nope", now, &b), GS_ENOTFOUND);
  /* dirty set: every touched unit and its ancestors */
  const char *const *ids;
  size_t nd = gs_status_take_dirty(s, &ids);
  assert_true(nd >= 4);
  assert_int_equal(gs_status_take_dirty(s, &ids), 0);
  gs_status_close(s);
  th_close(t);
}

static unsigned long long rng = 88172645463325252ULL;
static unsigned rnd(unsigned n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

static void snapshot(gs_status *s, int64_t now, char *out, size_t len) {
  const char *const *ids;
  size_t n = gs_status_orgs(s, &ids), l = 0;
  out[0] = 0;
  for (size_t i = 0; i < n; i++) {
    gs_status_numbers x = nums(s, ids[i], now);
    l += (size_t)snprintf(out + l, len - l, "%s:%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld\n", ids[i],
                          (long long)x.households, (long long)x.visited_period, (long long)x.visits_today,
                          (long long)x.reports_open, (long long)x.by_urgency[0], (long long)x.by_urgency[1],
                          (long long)x.by_urgency[2], (long long)x.by_urgency[3], (long long)x.reports_overdue,
                          (long long)x.care_due, (long long)x.devices_active);
  }
}

static void test_recount_equals_incremental(void **state) {
  th *t = th_open();
  memset(seqs, 0, sizeof seqs);
  gs_status *s = open_status(t);
  static const char *const tags[] = {"[]", "[\"elderly_alone\"]", "[\"disabled\",\"low_income\"]", "[\"veteran\"]"};
  static const char *const sts[] = {"open", "accepted", "in_progress", "escalated", "resolved", "closed"};
  static const char *const urg[] = {"low", "normal", "high", "critical"};
  long long now = t->now;
  char set[512], id[32];
  for (int k = 0; k < 600; k++) {
    long long at = now - (long long)rnd(60) * DAY + (long long)rnd(86400000);
    const char *g = rnd(2) ? "g1" : "g2";
    switch (rnd(6)) {
    case 0:
      snprintf(id, sizeof id, "h%u", rnd(40));
      snprintf(set, sizeof set, "\"grid\":\"%s\",\"address\":\"x\",\"tags\":%s", g, tags[rnd(4)]);
      break;
    case 1:
    case 2:
      snprintf(id, sizeof id, "v%u", rnd(150));
      snprintf(set, sizeof set, "\"grid\":\"%s\",\"household\":\"h%u\",\"visited_at\":%lld", g, rnd(40), at);
      break;
    case 3:
      snprintf(id, sizeof id, "r%u", rnd(40));
      snprintf(
          set, sizeof set,
          "\"grid\":\"%s\",\"category\":\"other\",\"title\":\"t\",\"status\":\"%s\",\"urgency\":\"%s\",\"due_at\":%lld",
          g, sts[rnd(6)], urg[rnd(4)], at + 5 * DAY);
      break;
    case 4:
      snprintf(id, sizeof id, "%c%u", "hvr"[rnd(3)], rnd(40));
      snprintf(set, sizeof set, "\"_deleted\":%s", rnd(2) ? "true" : "false");
      {
        /* only entities that exist can be updated without required fields */
        char q[96];
        snprintf(q, sizeof q, "SELECT count(*) FROM entity WHERE id='%s'", id);
        if (th_int(t, q) == 0) continue;
      }
      break;
    default:
      snprintf(id, sizeof id, "h%u", rnd(40));
      {
        char q[96];
        snprintf(q, sizeof q, "SELECT count(*) FROM entity WHERE id='%s'", id);
        if (th_int(t, q) == 0) continue;
      }
      snprintf(set, sizeof set, "\"grid\":\"%s\",\"tags\":%s", g, tags[rnd(4)]);
    }
    const char *type = id[0] == 'h' ? "household" : id[0] == 'v' ? "visit" : "report";
    put(t, rnd(2) ? "dev-a" : "dev-b", type, id, now + k, set);
  }
  /* care_due kept per write equals the timer's count at the same time */
  const char *const *oids;
  size_t no = gs_status_orgs(s, &oids);
  int64_t care_inc[16];
  assert_true(no <= 16);
  for (size_t i = 0; i < no; i++) care_inc[i] = nums(s, oids[i], now).care_due;
  assert_int_equal(gs_status_refresh(s, now), GS_OK);
  for (size_t i = 0; i < no; i++)
    if (nums(s, oids[i], now).care_due != care_inc[i])
      fail_msg("%s: care_due %lld per write, %lld counted", oids[i], (long long)care_inc[i],
               (long long)nums(s, oids[i], now).care_due);
  assert_true(nums(s, "c1", now).care_due > 0);
  static char inc[65536], rec[65536];
  snapshot(s, now, inc, sizeof inc);
  assert_int_equal(gs_status_recount(s, now), GS_OK);
  snapshot(s, now, rec, sizeof rec);
  if (strcmp(inc, rec)) fail_msg("incremental:\n%s\nrecount:\n%s", inc, rec);
  /* and the numbers are not all zero */
  gs_status_numbers n = nums(s, "c1", now);
  assert_true(n.households > 0 && n.visited_period > 0 && n.reports_open > 0);
  printf("status: incremental == recount after 600 random writes (c1: %lld households, %lld visited, %lld open)\n",
         (long long)n.households, (long long)n.visited_period, (long long)n.reports_open);
  gs_status_close(s);
  th_close(t);
}

/* care_household.last_day: a household that becomes a care household after
 * its visits, the latest visit deleted, a longer care window (reload). */
static void test_care_last_day(void **state) {
  th *t = th_open();
  memset(seqs, 0, sizeof seqs);
  gs_status *s = open_status(t);
  long long now = t->now; /* 2025-11-23 */
  put(t, "dev-a", "household", "h1", now, "\"grid\":\"g1\",\"address\":\"a\"");
  /* visited 3 and 10 days ago, before it was a care household */
  put(t, "dev-a", "visit", "v1", now, "\"grid\":\"g1\",\"household\":\"h1\",\"visited_at\":1763880000000");
  put(t, "dev-a", "visit", "v1b", now, "\"grid\":\"g1\",\"household\":\"h1\",\"visited_at\":1763620800000");
  put(t, "dev-a", "visit", "v2", now, "\"grid\":\"g1\",\"household\":\"h1\",\"visited_at\":1763016000000");
  put(t, "dev-a", "household", "h1", now + 1, "\"tags\":[\"elderly_alone\"]");
  assert_string_equal(th_text(t, "SELECT last_day FROM care_household WHERE household='h1'"), "2025-11-23");
  assert_int_equal(nums(s, "g1", now).care_due, 0);
  assert_int_equal(gs_status_refresh(s, now), GS_OK);
  assert_int_equal(nums(s, "g1", now).care_due, 0);
  /* the latest day loses its only visit: the one before it counts */
  put(t, "dev-a", "visit", "v1", now + 2, "\"_deleted\":true");
  assert_string_equal(th_text(t, "SELECT last_day FROM care_household WHERE household='h1'"), "2025-11-20");
  /* a day with two visits keeps its day when one goes */
  put(t, "dev-a", "visit", "v3", now, "\"grid\":\"g1\",\"household\":\"h1\",\"visited_at\":1763620900000");
  put(t, "dev-a", "visit", "v3", now + 3, "\"_deleted\":true");
  assert_string_equal(th_text(t, "SELECT last_day FROM care_household WHERE household='h1'"), "2025-11-20");
  /* a visit moved to another day */
  put(t, "dev-a", "visit", "v1b", now + 4, "\"visited_at\":1763707200000");
  assert_string_equal(th_text(t, "SELECT last_day FROM care_household WHERE household='h1'"), "2025-11-21");
  put(t, "dev-a", "visit", "v1b", now + 5, "\"_deleted\":true");
  put(t, "dev-a", "visit", "v2", now + 6, "\"_deleted\":true");
  assert_int_equal(th_int(t, "SELECT count(*) FROM care_household WHERE household='h1' AND last_day IS NULL"), 1);
  assert_int_equal(nums(s, "g1", now).care_due, 1); /* due at once */
  assert_int_equal(gs_status_refresh(s, now), GS_OK);
  assert_int_equal(nums(s, "g1", now).care_due, 1);
  /* a visit 40 days ago is outside a 30-day window ... */
  put(t, "dev-a", "household", "h2", now, "\"grid\":\"g2\",\"address\":\"b\"");
  put(t, "dev-a", "visit", "v4", now, "\"grid\":\"g2\",\"household\":\"h2\",\"visited_at\":1760424000000");
  put(t, "dev-a", "household", "h2", now + 7, "\"tags\":[\"disabled\"]");
  assert_int_equal(nums(s, "g2", now).care_due, 1);
  assert_int_equal(gs_status_refresh(s, now), GS_OK);
  assert_int_equal(nums(s, "g2", now).care_due, 1);
  /* ... and inside a 60-day one, once the window grows */
  gs_status_set_care_days(s, 60);
  assert_int_equal(gs_status_refresh(s, now), GS_OK);
  assert_int_equal(nums(s, "g2", now).care_due, 0);
  assert_string_equal(th_text(t, "SELECT last_day FROM care_household WHERE household='h2'"), "2025-10-14");
  /* a care household moving grids keeps its last visit */
  put(t, "dev-a", "household", "h2", now + 8, "\"grid\":\"g1\"");
  assert_string_equal(th_text(t, "SELECT grid || ' ' || last_day FROM care_household WHERE household='h2'"),
                      "g1 2025-10-14");
  assert_int_equal(nums(s, "g1", now).care_due, 1); /* h1 only: h2 is not due */
  /* a due care household moving, then losing its tag */
  put(t, "dev-a", "household", "h1", now + 9, "\"grid\":\"g2\"");
  assert_int_equal(nums(s, "g1", now).care_due, 0);
  assert_int_equal(nums(s, "g2", now).care_due, 1);
  assert_int_equal(nums(s, "cm1", now).care_due, 1);
  put(t, "dev-a", "household", "h1", now + 10, "\"tags\":[]");
  assert_int_equal(nums(s, "g2", now).care_due, 0);
  assert_int_equal(gs_status_refresh(s, now), GS_OK);
  assert_int_equal(nums(s, "cm1", now).care_due, 0);
  gs_status_close(s);
  th_close(t);
}

/* Migration 0003 rekeys hh_period and hh_day and fills last_day from the old
 * household-first table: a store of schema version 2 opened by this build. */
struct gs_migration {
  int version;
  const char *name;
  const char *sql;
};
extern const struct gs_migration gs_schema_migrations[];

static void test_migration_0003(void **state) {
  char dir[] = "/tmp/gs-mig.XXXXXX", path[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/gs.db", dir);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  for (const struct gs_migration *m = gs_schema_migrations; m->sql; m++)
    if (m->version <= 2) assert_int_equal(sqlite3_exec(db, m->sql, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db,
                   "PRAGMA user_version=2;"
                   "INSERT INTO org VALUES('c1',NULL,'city','市'),('d1','c1','district','区'),"
                   "('s1','d1','street','街道'),('cm1','s1','community','社区'),('g1','cm1','grid','一网格');"
                   "INSERT INTO hh_day VALUES('h1','2025-11-20',2),('h1','2025-11-22',1),('h2','2025-10-01',1);"
                   "INSERT INTO hh_period VALUES('h1','2025-11','g1',3),('h2','2025-10','g1',1);"
                   "INSERT INTO care_household VALUES('h1','g1'),('h2','g1'),('h3','g1');",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);
  th t = {0};
  t.now = 1763880000000;
  gs_engine_config c;
  gs_engine_config_defaults(&c);
  c.db_path = path;
  c.synchronous = 0;
  char err[256];
  assert_int_equal(gs_engine_open(&t.e, &c, err, sizeof err), GS_OK);
  assert_int_equal(th_int(&t, "PRAGMA user_version"), gs_store_schema_version());
  assert_string_equal(th_text(&t, "SELECT group_concat(household || '=' || ifnull(last_day, '-'), ' ') FROM "
                                  "(SELECT * FROM care_household ORDER BY household)"),
                      "h1=2025-11-22 h2=2025-10-01 h3=-");
  /* the new keys: rows come out in day / period order */
  assert_string_equal(th_text(&t, "SELECT group_concat(day || ':' || household || ':' || visits, ' ') FROM hh_day"),
                      "2025-10-01:h2:1 2025-11-20:h1:2 2025-11-22:h1:1");
  assert_string_equal(th_text(&t, "SELECT group_concat(period || ':' || household, ' ') FROM hh_period"),
                      "2025-10:h2 2025-11:h1");
  /* care due from last_day: h2 (last visit 10-01) and h3 (never) */
  gs_status *s = NULL;
  gs_status_config sc = {"Asia/Shanghai", 30};
  assert_int_equal(gs_status_open(&s, t.e, &sc, err, sizeof err), GS_OK);
  assert_int_equal(gs_status_refresh(s, t.now), GS_OK);
  assert_int_equal(nums(s, "g1", t.now).care_due, 2);
  gs_status_close(s);
  gs_engine_close(t.e);
  gs_buf_free(&t.out);
  const char *sfx[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    char p[96];
    snprintf(p, sizeof p, "%s%s", path, sfx[i]);
    unlink(p);
  }
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_numbers), cmocka_unit_test(test_recount_equals_incremental),
                                     cmocka_unit_test(test_care_last_day), cmocka_unit_test(test_migration_0003)};
  return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
