/* test_rollup_unit.c - gs-rollup's sums without a network: roles of the
 * units, sums of every count (also members the rollup does not know), stale
 * inputs, link state, refused documents, its own units ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "gs_buf.h"
#include "gs_error.h"
#include "gs_log.h"
#include "gs_mem.h"
#include "rollup.h"

static char db_path[64];

/* T0 = 2026-11-23T18:00:00+08:00 */
#define T0 1795428000000LL

static int setup(void **state) {
  (void)state;
  snprintf(db_path, sizeof db_path, "/tmp/gs-rollup-unit.%d.db", (int)getpid());
  unlink(db_path);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "CREATE TABLE org(id TEXT PRIMARY KEY, parent TEXT, level TEXT, name TEXT);"
                                "INSERT INTO org VALUES('p',NULL,'city','省');"
                                "INSERT INTO org VALUES('c',NULL,'city','示范市');"
                                "INSERT INTO org VALUES('d-01','c','district','和平区');"
                                "INSERT INTO org VALUES('d-02','c','district','河西区');"
                                "INSERT INTO org VALUES('s-01','d-01','street','人民路街道');",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  /* the zone is passed in the config: a different process zone must not matter */
  setenv("TZ", "America/New_York", 1);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(db_path);
  return 0;
}

static gs_rollup *open_rollup(void) {
  gs_rollup *r = NULL;
  char err[256] = "";
  gs_rollup_config cfg = {db_path, "district", 60000, "Asia/Shanghai"};
  int rc = gs_rollup_new(&r, &cfg, err, sizeof err);
  if (rc) fprintf(stderr, "%s\n", err);
  assert_int_equal(rc, GS_OK);
  return r;
}

static int feed(gs_rollup *r, const char *topic, const char *payload, int64_t now) {
  return gs_rollup_message(r, topic, payload, strlen(payload), now);
}

static cJSON *doc_of(gs_rollup *r, const char *id, int64_t now) {
  gs_buf b = GS_BUF_INIT;
  assert_int_equal(gs_rollup_doc(r, id, now, 1, &b), GS_OK);
  cJSON *d = cJSON_Parse(b.data);
  assert_non_null(d);
  gs_buf_free(&b);
  return d;
}

static double num(const cJSON *d, const char *a, const char *b) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(d, a);
  if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
  assert_true(cJSON_IsNumber(x));
  return x->valuedouble;
}

static char *stale_of(const cJSON *d) { return cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(d, "stale")); }

#define DOC(org, asof, hh, low, extra)                                                                                 \
  "{\"v\":1,\"org\":\"" org "\",\"parent\":\"c\",\"level\":\"district\",\"name\":\"x\",\"as_of\":\"" asof              \
  "\",\"period\":\"2026-11\",\"households\":" #hh ",\"visits_today\":2,\"reports_by_urgency\":{\"low\":" #low          \
  ",\"critical\":1}" extra "}"

static void test_roles(void **state) {
  (void)state;
  gs_rollup *r = open_rollup();
  const char *const *ids;
  assert_int_equal(gs_rollup_inputs(r, &ids), 2);
  assert_string_equal(ids[0], "d-01");
  assert_string_equal(ids[1], "d-02");
  assert_int_equal(gs_rollup_owned(r, &ids), 2); /* both cities; p has no input, its doc is all zeros */
  gs_rollup_free(r);
  assert_int_equal(gs_mem_live(), 0);
}

static void test_sum_and_stale(void **state) {
  (void)state;
  gs_rollup *r = open_rollup();
  int64_t now = T0 + 10000;
  /* before any input: zeros, every input stale */
  cJSON *d = doc_of(r, "c", now);
  assert_int_equal((int)num(d, "households", NULL), 0);
  char *s = stale_of(d);
  assert_string_equal(s, "[\"d-01\",\"d-02\"]");
  cJSON_free(s);
  cJSON_Delete(d);

  assert_int_equal(feed(r, "gs/v1/status/d-01", DOC("d-01", "2026-11-23T18:00:05+08:00", 10, 1, ""), now), GS_OK);
  assert_int_equal(feed(r, "gs/v1/status/d-02", DOC("d-02", "2026-11-23T10:00:05Z", 32, 2, ",\"new_counter\":7"), now),
                   GS_OK);
  d = doc_of(r, "c", now);
  assert_int_equal((int)num(d, "households", NULL), 42);
  assert_int_equal((int)num(d, "visits_today", NULL), 4);
  assert_int_equal((int)num(d, "reports_by_urgency", "low"), 3);
  assert_int_equal((int)num(d, "reports_by_urgency", "critical"), 2);
  assert_int_equal((int)num(d, "reports_open", NULL), 0); /* template member, absent in the inputs */
  assert_int_equal((int)num(d, "new_counter", NULL), 7);  /* a count the rollup never heard of is summed */
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "level")->valuestring, "city");
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(d, "parent")));
  s = stale_of(d);
  assert_string_equal(s, "[]");
  cJSON_free(s);
  cJSON_Delete(d);

  /* two minutes later both are old; d-02's bridge says it is connected: quiet, not stale */
  now = T0 + 120000;
  assert_int_equal(feed(r, "gs/v1/status/d-02/link", "1", now), GS_OK);
  d = doc_of(r, "c", now);
  s = stale_of(d);
  assert_string_equal(s, "[\"d-01\"]");
  assert_int_equal((int)num(d, "households", NULL), 42); /* stale still counts */
  cJSON_free(s);
  cJSON_Delete(d);
  /* its bridge drops: now both */
  assert_int_equal(feed(r, "gs/v1/status/d-02/link", "0", now), GS_OK);
  d = doc_of(r, "c", now);
  s = stale_of(d);
  assert_string_equal(s, "[\"d-01\",\"d-02\"]");
  cJSON_free(s);
  cJSON_Delete(d);

  /* an empty retained message removes d-01's numbers */
  assert_int_equal(gs_rollup_message(r, "gs/v1/status/d-01", "", 0, now), GS_OK);
  d = doc_of(r, "c", now);
  assert_int_equal((int)num(d, "households", NULL), 32);
  cJSON_Delete(d);
  gs_rollup_free(r);
  assert_int_equal(gs_mem_live(), 0);
}

static void test_refused_and_ignored(void **state) {
  (void)state;
  gs_rollup *r = open_rollup();
  int64_t now = T0;
  assert_int_equal(feed(r, "gs/v1/status/d-01", DOC("d-01", "2026-11-23T18:00:00+08:00", 10, 1, ""), now), GS_OK);
  assert_int_equal(feed(r, "gs/v1/status/d-01", "{not json", now), GS_EBAD_JSON);
  assert_int_equal(feed(r, "gs/v1/status/d-01", "{\"v\":2}", now), GS_EBAD_VERSION);
  assert_int_equal(feed(r, "gs/v1/status/d-01", DOC("d-02", "2026-11-23T18:00:00+08:00", 99, 1, ""), now),
                   GS_EBAD_REQUEST);
  assert_int_equal(feed(r, "gs/v1/status/d-01/link", "yes", now), GS_EBAD_REQUEST);
  /* its own units, units below the inputs, unknown ids, other topics: ignored */
  assert_int_equal(feed(r, "gs/v1/status/c", DOC("c", "2026-11-23T18:00:00+08:00", 1000, 1, ""), now), GS_ENOTFOUND);
  assert_int_equal(feed(r, "gs/v1/status/s-01", DOC("s-01", "2026-11-23T18:00:00+08:00", 5, 1, ""), now), GS_ENOTFOUND);
  assert_int_equal(feed(r, "gs/v1/status/zz", "{}", now), GS_ENOTFOUND);
  assert_int_equal(feed(r, "gs/v1/status/d-01/other", "1", now), GS_ENOTFOUND);
  assert_int_equal(feed(r, "gs/v1/dev/d-01/up", "{}", now), GS_ENOTFOUND);
  cJSON *d = doc_of(r, "c", now);
  assert_int_equal((int)num(d, "households", NULL), 10); /* the refused ones left the good document */
  cJSON_Delete(d);
  gs_buf b = GS_BUF_INIT;
  assert_int_equal(gs_rollup_doc(r, "d-01", now, 1, &b), GS_ENOTFOUND); /* inputs are not rendered */
  gs_buf_free(&b);
  gs_rollup_free(r);
  assert_int_equal(gs_mem_live(), 0);
}

static void test_sig_without_as_of(void **state) {
  (void)state;
  gs_rollup *r = open_rollup();
  gs_buf a = GS_BUF_INIT, b = GS_BUF_INIT;
  assert_int_equal(gs_rollup_doc(r, "c", T0, 0, &a), GS_OK);
  assert_int_equal(gs_rollup_doc(r, "c", T0 + 5000, 0, &b), GS_OK);
  assert_string_equal(a.data, b.data); /* same numbers, other time: same signature */
  gs_buf_reset(&b);
  assert_int_equal(gs_rollup_doc(r, "c", T0, 1, &b), GS_OK);
  assert_non_null(strstr(b.data, "\"as_of\":\"2026-11-23T18:00:00+08:00\""));
  gs_buf_free(&a);
  gs_buf_free(&b);
  gs_rollup_free(r);
}

static void test_parse_time(void **state) {
  (void)state;
  int64_t ms = 0;
  assert_int_equal(gs_rollup_parse_time("2026-11-23T18:00:00+08:00", &ms), GS_OK);
  assert_int_equal(ms, T0);
  assert_int_equal(gs_rollup_parse_time("2026-11-23T10:00:00Z", &ms), GS_OK);
  assert_int_equal(ms, T0);
  assert_int_equal(gs_rollup_parse_time("2026-11-23T04:30:00-05:30", &ms), GS_OK);
  assert_int_equal(ms, T0);
  assert_int_equal(gs_rollup_parse_time("2026-11-23 18:00:00+08:00", &ms), GS_EINVAL);
  assert_int_equal(gs_rollup_parse_time("2026-13-23T18:00:00+08:00", &ms), GS_EINVAL);
  assert_int_equal(gs_rollup_parse_time("", &ms), GS_EINVAL);
}

static void test_bad_store(void **state) {
  (void)state;
  gs_rollup *r = NULL;
  char err[256] = "";
  gs_rollup_config cfg = {"/nonexistent/city.db", "district", 1000, NULL};
  assert_int_not_equal(gs_rollup_new(&r, &cfg, err, sizeof err), GS_OK);
  assert_non_null(strstr(err, "org import"));
  gs_rollup_config cfg3 = {db_path, "district", 1000, "Asia/Atlantis"};
  err[0] = '\0';
  assert_int_equal(gs_rollup_new(&r, &cfg3, err, sizeof err), GS_ECONFIG);
  assert_non_null(strstr(err, "Asia/Atlantis"));
  gs_rollup_config cfg2 = {db_path, "grid", 1000, "UTC"}; /* no grid below a community in this tree */
  assert_int_equal(gs_rollup_new(&r, &cfg2, err, sizeof err), GS_ECONFIG);
  assert_int_equal(gs_mem_live(), 0);
}

int main(void) {
  gs_log_init("test_rollup_unit", GS_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roles),
      cmocka_unit_test(test_sum_and_stale),
      cmocka_unit_test(test_refused_and_ignored),
      cmocka_unit_test(test_sig_without_as_of),
      cmocka_unit_test(test_parse_time),
      cmocka_unit_test(test_bad_store),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
