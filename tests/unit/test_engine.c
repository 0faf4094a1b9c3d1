/* Engine behaviour: every rejection code, idempotency, watermark, LWW,
 * conflicts, clock skew, pull paging, limits. Real SQLite file per test. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_error.h"
#include "gs_mem.h"
#include "tharness.h"

#define HH_SET "\"set\":{\"grid\":\"g1\",\"address\":\"人民路1号\"}"

static char *fmt(const char *f, ...) {
  static char buf[4][65536];
  static int k;
  char *b = buf[k++ % 4];
  va_list ap;
  va_start(ap, f);
  vsnprintf(b, sizeof buf[0], f, ap);
  va_end(ap);
  return b;
}

/* a batch of one change */
static const char *one(const char *id, int seq, const char *entity, long long ms, const char *rest) {
  return fmt("{\"v\":1,\"batch\":\"b-%s\",\"changes\":[{\"id\":\"%s\",\"seq\":%d,\"type\":\"household\","
             "\"entity\":\"%s\",\"hlc\":[%lld,0],%s}]}",
             id, id, seq, entity, ms, rest);
}

static int num(const cJSON *o, const char *k) { return cJSON_GetObjectItem(o, k)->valueint; }

static void test_apply_and_ack(void **state) {
  th *t = th_open();
  cJSON *ack = th_apply(t, "dev-a", one("c1", 1, "h1", t->now, HH_SET));
  assert_string_equal(cJSON_GetObjectItem(ack, "batch")->valuestring, "b-c1");
  assert_int_equal(num(ack, "applied"), 1);
  assert_int_equal(num(ack, "duplicates"), 0);
  assert_int_equal(num(ack, "acked_seq"), 1);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ack, "rejected")), 0);
  assert_true(cJSON_IsArray(cJSON_GetObjectItem(ack, "hlc")));
  assert_string_equal(th_text(t, "SELECT fields FROM entity WHERE id='h1'"),
                      "{\"address\":\"人民路1号\",\"grid\":\"g1\"}");
  assert_int_equal(th_int(t, "SELECT count(*) FROM change"), 1);
  cJSON_Delete(ack);
  th_close(t);
}

static void test_duplicate_and_id_reused(void **state) {
  th *t = th_open();
  cJSON_Delete(th_apply(t, "dev-a", one("c1", 1, "h1", t->now, HH_SET)));
  /* same id, same content, keys in another order: a duplicate */
  cJSON *ack =
      th_apply(t, "dev-a",
               "{\"v\":1,\"batch\":\"b-2\",\"changes\":[{\"set\":{\"address\":\"人民路1号\",\"grid\":\"g1\"},"
               "\"hlc\":[1763880000000,0],\"entity\":\"h1\",\"type\":\"household\",\"seq\":1,\"id\":\"c1\"}]}");
  assert_int_equal(num(ack, "duplicates"), 1);
  assert_int_equal(num(ack, "applied"), 0);
  cJSON_Delete(ack);
  int64_t rev = th_int(t, "SELECT rev FROM entity WHERE id='h1'");
  /* same id, other content */
  ack = th_apply(t, "dev-a", one("c1", 1, "h1", t->now, "\"set\":{\"grid\":\"g1\",\"address\":\"x\"}"));
  assert_string_equal(th_rej(ack, 0), "id_reused");
  cJSON_Delete(ack);
  assert_int_equal(th_int(t, "SELECT rev FROM entity WHERE id='h1'"), rev);
  assert_string_equal(th_text(t, "SELECT json_extract(fields,'$.address') FROM entity WHERE id='h1'"), "人民路1号");
  th_close(t);
}

static void test_rejection_codes(void **state) {
  th *t = th_open();
  static const struct {
    const char *batch_change;
    const char *code;
  } cases[] = {
      {"{\"id\":\"r1\",\"seq\":1,\"type\":\"spaceship\",\"entity\":\"e\",\"hlc\":[1,0]," HH_SET "}", "unknown_type"},
      {"{\"id\":\"r2\",\"seq\":2,\"type\":\"household\",\"entity\":\"e\",\"hlc\":[1,0],\"set\":{\"grid\":\"g1\","
       "\"address\":\"a\",\"colour\":\"red\"}}",
       "unknown_field"},
      {"{\"id\":\"r3\",\"seq\":3,\"type\":\"household\",\"entity\":\"e\",\"hlc\":[1,0],\"set\":{\"grid\":\"g1\","
       "\"address\":\"a\",\"members\":\"four\"}}",
       "bad_value"},
      {"{\"id\":\"r4\",\"seq\":4,\"type\":\"household\",\"entity\":\"e\",\"hlc\":[1,0],\"set\":{\"grid\":\"g1\"}}",
       "missing_field"},
      {"{\"id\":\"r5\",\"seq\":5,\"type\":\"household\",\"entity\":\"e\",\"hlc\":[1,0],\"set\":{\"grid\":\"g9\","
       "\"address\":\"a\"}}",
       "forbidden_grid"},
      {"{\"id\":\"r6\",\"seq\":6,\"type\":\"household\",\"entity\":\"e\",\"hlc\":\"now\"," HH_SET "}", "bad_change"},
      {"{\"id\":\"r7\",\"seq\":7,\"type\":\"household\",\"entity\":\"e\",\"hlc\":[1,0],\"set\":{\"grid\":\"g1\","
       "\"address\":\"a\",\"tags\":[\"rich\"]}}",
       "bad_value"},
      {"{\"id\":\"r8\",\"seq\":8,\"type\":\"household\",\"entity\":\"e\",\"hlc\":[1,0],\"set\":{}}", "bad_change"},
      {"{\"id\":\"r9\",\"seq\":9,\"type\":\"household\",\"entity\":\"e/../x\",\"hlc\":[1,0]," HH_SET "}", "bad_change"},
      {"{\"id\":\"r10\",\"seq\":10,\"type\":\"household\",\"entity\":\"e\",\"hlc\":[1,70000]," HH_SET "}",
       "bad_change"},
      {"{\"id\":\"r11\",\"seq\":11,\"type\":\"household\",\"entity\":\"e\",\"hlc\":[1,0],\"base\":{\"grid\":[1]}"
       "," HH_SET "}",
       "bad_change"},
      {"{\"id\":\"r12\",\"seq\":12,\"type\":\"household\",\"entity\":\"e\",\"hlc\":[1,0],\"set\":{\"grid\":\"g1\","
       "\"address\":\"a\",\"address\":\"b\"}}",
       "bad_change"},
      {"{\"seq\":13,\"type\":\"household\",\"entity\":\"e\",\"hlc\":[1,0]," HH_SET "}", "bad_change"},
      {"[1,2,3]", "bad_change"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *ack = th_apply(t, "dev-a", fmt("{\"v\":1,\"batch\":\"b%zu\",\"changes\":[%s]}", i, cases[i].batch_change));
    if (strcmp(th_rej(ack, 0), cases[i].code) != 0)
      fail_msg("case %zu: got %s want %s: %s", i, th_rej(ack, 0), cases[i].code, cases[i].batch_change);
    assert_int_equal(num(ack, "applied"), 0);
    cJSON_Delete(ack);
  }
  /* nothing applied */
  assert_int_equal(th_int(t, "SELECT count(*) FROM entity"), 0);
  /* a rejected change sent again gets the same answer */
  cJSON *ack = th_apply(t, "dev-a", fmt("{\"v\":1,\"batch\":\"again\",\"changes\":[%s]}", cases[4].batch_change));
  assert_string_equal(th_rej(ack, 0), "forbidden_grid");
  cJSON_Delete(ack);
  th_close(t);
}

static void test_batch_level_errors(void **state) {
  th *t = th_open();
  static const struct {
    const char *payload;
    const char *code;
  } cases[] = {
      {"{not json", "bad_json"},
      {"\xff\xfe{}", "bad_json"},
      {"{\"v\":2,\"batch\":\"b\",\"changes\":[]}", "bad_version"},
      {"{\"v\":1,\"changes\":[]}", "bad_request"},
      {"{\"v\":1,\"batch\":\"b\",\"changes\":{}}", "bad_request"},
      {"\"just a string\"", "bad_version"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *ack = th_apply(t, "dev-a", cases[i].payload);
    const cJSON *e = cJSON_GetObjectItem(ack, "error");
    assert_non_null(e);
    if (strcmp(e->valuestring, cases[i].code)) fail_msg("case %zu: got %s want %s", i, e->valuestring, cases[i].code);
    assert_non_null(cJSON_GetObjectItem(ack, "detail"));
    cJSON_Delete(ack);
  }
  cJSON *ack = th_apply(t, "dev-zz", one("c1", 1, "h1", t->now, HH_SET));
  assert_string_equal(cJSON_GetObjectItem(ack, "error")->valuestring, "unknown_device");
  cJSON_Delete(ack);
  assert_int_equal(th_int(t, "SELECT count(*) FROM change"), 0);
  th_close(t);
}

static void test_limits(void **state) {
  th *t = th_open();
  /* too many changes */
  gs_buf b = GS_BUF_INIT;
  gs_buf_puts(&b, "{\"v\":1,\"batch\":\"big\",\"changes\":[");
  for (int i = 0; i < 1001; i++) gs_buf_printf(&b, "%s{}", i ? "," : "");
  gs_buf_puts(&b, "]}");
  cJSON *ack = th_apply(t, "dev-a", b.data);
  assert_string_equal(cJSON_GetObjectItem(ack, "error")->valuestring, "too_large");
  cJSON_Delete(ack);
  /* huge payload */
  gs_buf_reset(&b);
  gs_buf_puts(&b, "{\"v\":1,\"batch\":\"huge\",\"changes\":[],\"pad\":\"");
  for (int i = 0; i < 1100000; i++) gs_buf_append(&b, "x", 1);
  gs_buf_puts(&b, "\"}");
  ack = th_apply(t, "dev-a", b.data);
  assert_string_equal(cJSON_GetObjectItem(ack, "error")->valuestring, "too_large");
  cJSON_Delete(ack);
  /* a huge string in one field */
  gs_buf_reset(&b);
  gs_buf_puts(&b, "\"set\":{\"grid\":\"g1\",\"address\":\"a\",\"note\":\"");
  for (int i = 0; i < 20000; i++) gs_buf_append(&b, "y", 1);
  gs_buf_puts(&b, "\"}");
  ack = th_apply(t, "dev-a", one("n1", 1, "h1", t->now, b.data));
  assert_string_equal(th_rej(ack, 0), "too_large");
  cJSON_Delete(ack);
  /* deep JSON */
  gs_buf_reset(&b);
  for (int i = 0; i < 5000; i++) gs_buf_append(&b, "[", 1);
  ack = th_apply(t, "dev-a", b.data);
  assert_string_equal(cJSON_GetObjectItem(ack, "error")->valuestring, "bad_json");
  cJSON_Delete(ack);
  /* invalid UTF-8 inside a string value */
  ack = th_apply(t, "dev-a", one("u1", 2, "h1", t->now, "\"set\":{\"grid\":\"g1\",\"address\":\"\xc3\x28\"}"));
  assert_string_equal(cJSON_GetObjectItem(ack, "error")->valuestring, "bad_json");
  cJSON_Delete(ack);
  gs_buf_free(&b);
  assert_int_equal(th_int(t, "SELECT count(*) FROM entity"), 0);
  th_close(t);
}

static void test_lww_and_order(void **state) {
  th *t = th_open();
  cJSON_Delete(th_apply(t, "dev-a", one("c1", 1, "h1", t->now, HH_SET)));
  /* newer write from b wins; older write from a arrives later and loses */
  cJSON_Delete(th_apply(t, "dev-b", one("c2", 1, "h1", t->now + 2000, "\"set\":{\"members\":3}")));
  cJSON_Delete(th_apply(t, "dev-a", one("c3", 2, "h1", t->now + 1000, "\"set\":{\"members\":5}")));
  assert_int_equal(th_int(t, "SELECT json_extract(fields,'$.members') FROM entity WHERE id='h1'"), 3);
  /* same ms and counter: device id breaks the tie bytewise (dev-b > dev-a) */
  cJSON_Delete(th_apply(t, "dev-a", one("c4", 3, "h1", t->now + 3000, "\"set\":{\"phone\":\"1\"}")));
  cJSON_Delete(th_apply(t, "dev-b", one("c5", 2, "h1", t->now + 3000, "\"set\":{\"phone\":\"2\"}")));
  assert_string_equal(th_text(t, "SELECT json_extract(fields,'$.phone') FROM entity WHERE id='h1'"), "2");
  /* null clears, _deleted marks deletion */
  cJSON_Delete(th_apply(t, "dev-a", one("c6", 4, "h1", t->now + 4000, "\"set\":{\"phone\":null,\"_deleted\":true}")));
  assert_string_equal(th_text(t, "SELECT fields FROM entity WHERE id='h1'"),
                      "{\"_deleted\":true,\"address\":\"人民路1号\",\"grid\":\"g1\",\"members\":3,\"phone\":null}");
  th_close(t);
}

static void test_conflict_logged(void **state) {
  th *t = th_open();
  cJSON_Delete(th_apply(t, "dev-a", one("c1", 1, "h1", t->now, HH_SET)));
  const char *base = "\"base\":{\"members\":[1763880000000,0,\"dev-a\"]}";
  /* both devices edit members offline from the same base */
  cJSON *ack = th_apply(t, "dev-a", one("ca", 2, "h1", t->now + 1000, fmt("%s,\"set\":{\"members\":4}", base)));
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ack, "conflicts")), 0);
  cJSON_Delete(ack);
  ack = th_apply(t, "dev-b", one("cb", 1, "h1", t->now + 500, fmt("%s,\"set\":{\"members\":6}", base)));
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ack, "conflicts")), 1);
  assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(ack, "conflicts"), 0)->valuestring, "cb");
  cJSON_Delete(ack);
  assert_int_equal(th_int(t, "SELECT count(*) FROM conflict"), 1);
  assert_string_equal(
      th_text(t, "SELECT a_change||','||b_change||','||winner||','||a_value||','||b_value FROM conflict"),
      "ca,cb,ca,4,6");
  assert_int_equal(th_int(t, "SELECT json_extract(fields,'$.members') FROM entity WHERE id='h1'"), 4);
  /* a later edit that saw dev-a's write does not conflict */
  ack = th_apply(
      t, "dev-b",
      one("cc", 2, "h1", t->now + 5000, "\"base\":{\"members\":[1763880001000,0,\"dev-a\"]},\"set\":{\"members\":7}"));
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ack, "conflicts")), 0);
  cJSON_Delete(ack);
  /* same value from two devices is no conflict */
  ack = th_apply(
      t, "dev-a",
      one("cd", 3, "h1", t->now + 6000, "\"base\":{\"members\":[1763880005000,0,\"dev-b\"]},\"set\":{\"members\":7}"));
  assert_int_equal(th_int(t, "SELECT count(*) FROM conflict"), 1);
  cJSON_Delete(ack);
  th_close(t);
}

static void test_clock_skew_clamped(void **state) {
  th *t = th_open();
  cJSON_Delete(th_apply(t, "dev-a", one("c1", 1, "h1", t->now, HH_SET)));
  /* a phone 3 hours ahead */
  cJSON *ack = th_apply(t, "dev-a", one("c2", 2, "h1", t->now + 3 * 3600 * 1000LL, "\"set\":{\"members\":9}"));
  assert_int_equal(num(ack, "applied"), 1);
  cJSON_Delete(ack);
  assert_int_equal(th_int(t, "SELECT count(*) FROM skew_log"), 1);
  assert_int_equal(th_int(t, "SELECT clamped FROM change WHERE id='c2'"), 1);
  assert_true(th_int(t, "SELECT hlc_ms FROM change WHERE id='c2'") <= t->now + 1);
  /* a correct phone editing a minute later wins over the clamped edit */
  t->now += 60000;
  cJSON_Delete(th_apply(t, "dev-b", one("c3", 1, "h1", t->now, "\"set\":{\"members\":2}")));
  assert_int_equal(th_int(t, "SELECT json_extract(fields,'$.members') FROM entity WHERE id='h1'"), 2);
  th_close(t);
}

static void test_watermark(void **state) {
  th *t = th_open();
  cJSON *ack = th_apply(t, "dev-a", one("c3", 3, "h3", t->now, HH_SET));
  assert_int_equal(num(ack, "acked_seq"), 0);
  cJSON_Delete(ack);
  ack = th_apply(t, "dev-a", one("c1", 1, "h1", t->now, HH_SET));
  assert_int_equal(num(ack, "acked_seq"), 1);
  cJSON_Delete(ack);
  /* seq 2 rejected still counts as accounted for */
  ack = th_apply(t, "dev-a", one("c2", 2, "h2", t->now, "\"set\":{\"grid\":\"g9\",\"address\":\"a\"}"));
  assert_string_equal(th_rej(ack, 0), "forbidden_grid");
  assert_int_equal(num(ack, "acked_seq"), 3);
  cJSON_Delete(ack);
  assert_int_equal(th_int(t, "SELECT count(*) FROM device_seq"), 0);
  th_close(t);
}

static void test_forbidden_existing_grid(void **state) {
  th *t = th_open();
  cJSON_Delete(th_apply(t, "dev-a", one("c1", 1, "h1", t->now, "\"set\":{\"grid\":\"g2\",\"address\":\"a\"}")));
  /* dev-c may write g1 only: neither edit g2's household nor move it */
  cJSON *ack = th_apply(t, "dev-c", one("c2", 1, "h1", t->now + 1, "\"set\":{\"members\":1}"));
  assert_string_equal(th_rej(ack, 0), "forbidden_grid");
  cJSON_Delete(ack);
  ack = th_apply(t, "dev-c", one("c3", 2, "h1", t->now + 2, "\"set\":{\"grid\":\"g1\"}"));
  assert_string_equal(th_rej(ack, 0), "forbidden_grid");
  cJSON_Delete(ack);
  assert_string_equal(th_text(t, "SELECT grid FROM entity WHERE id='h1'"), "g2");
  th_close(t);
}

static void test_pull_pages(void **state) {
  th *t = th_open();
  gs_buf b = GS_BUF_INIT;
  gs_buf_puts(&b, "{\"v\":1,\"batch\":\"p\",\"changes\":[");
  for (int i = 0; i < 25; i++)
    gs_buf_printf(&b,
                  "%s{\"id\":\"p%d\",\"seq\":%d,\"type\":\"household\",\"entity\":\"e%02d\",\"hlc\":[1,0],"
                  "\"set\":{\"grid\":\"%s\",\"address\":\"a\"}}",
                  i ? "," : "", i, i + 1, i, i % 5 == 0 ? "g2" : "g1");
  gs_buf_puts(&b, "]}");
  cJSON_Delete(th_apply(t, "dev-a", b.data));
  gs_buf_free(&b);
  /* dev-c sees g1 only: 20 entities, in pages of 8 */
  int64_t since = 0;
  int total = 0, pages = 0;
  for (;;) {
    cJSON *p = th_pull(t, "dev-c", fmt("{\"v\":1,\"since\":%lld,\"limit\":8}", (long long)since));
    const cJSON *ents = cJSON_GetObjectItem(p, "entities"), *e;
    int64_t last = since;
    cJSON_ArrayForEach(e, ents) {
      assert_true(cJSON_GetObjectItem(e, "rev")->valuedouble > last);
      last = (int64_t)cJSON_GetObjectItem(e, "rev")->valuedouble;
      assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "fields"), "grid")->valuestring, "g1");
      assert_true(cJSON_IsArray(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "ver"), "grid")));
      total++;
    }
    assert_int_equal((int64_t)cJSON_GetObjectItem(p, "next")->valuedouble, last);
    since = last;
    pages++;
    int more = cJSON_IsTrue(cJSON_GetObjectItem(p, "more"));
    cJSON_Delete(p);
    if (!more) break;
  }
  assert_int_equal(total, 20);
  assert_int_equal(pages, 3);
  /* a request id is echoed (pages of a retried pull can be told apart) */
  cJSON *pr = th_pull(t, "dev-c", "{\"v\":1,\"since\":0,\"limit\":1,\"req\":\"p-42\"}");
  assert_string_equal(cJSON_GetObjectItem(pr, "req")->valuestring, "p-42");
  cJSON_Delete(pr);
  pr = th_pull(t, "dev-c", "{\"v\":1,\"since\":0,\"req\":\"not ok!\"}");
  assert_string_equal(cJSON_GetObjectItem(pr, "error")->valuestring, "bad_request");
  cJSON_Delete(pr);
  /* bad pull requests get an error document */
  cJSON *p = th_pull(t, "dev-c", "{\"v\":1,\"since\":-4}");
  assert_string_equal(cJSON_GetObjectItem(p, "error")->valuestring, "bad_request");
  cJSON_Delete(p);
  p = th_pull(t, "dev-c", "garbage");
  assert_string_equal(cJSON_GetObjectItem(p, "error")->valuestring, "bad_json");
  cJSON_Delete(p);
  p = th_pull(t, "nobody", "{\"v\":1,\"since\":0}");
  assert_string_equal(cJSON_GetObjectItem(p, "error")->valuestring, "unknown_device");
  cJSON_Delete(p);
  th_close(t);
}

static void test_group_commit(void **state) {
  th *t = th_open();
  const char *a = one("g1c", 1, "h1", t->now, HH_SET);
  char a_copy[1024];
  snprintf(a_copy, sizeof a_copy, "%s", a);
  const char *b = one("g2c", 1, "h2", t->now, HH_SET);
  gs_batch_in in[2] = {{"dev-a", a_copy, strlen(a_copy)}, {"dev-b", b, strlen(b)}};
  gs_buf acks[2] = {GS_BUF_INIT, GS_BUF_INIT};
  assert_int_equal(gs_engine_apply_group(t->e, in, 2, acks), GS_OK);
  assert_non_null(strstr(acks[0].data, "\"applied\":1"));
  assert_non_null(strstr(acks[1].data, "\"applied\":1"));
  gs_buf_free(&acks[0]);
  gs_buf_free(&acks[1]);
  assert_int_equal(th_int(t, "SELECT count(*) FROM entity"), 2);
  th_close(t);
}

/* synchronous=FULL with the WAL sync thread: the store runs NORMAL, commits
 * are numbered, and each becomes durable (the thread's fdatasync) soon after
 * COMMIT; the transports ack only then. Without the thread a commit is
 * durable when COMMIT returns. */
static void test_wal_sync_thread(void **state) {
  th *t = th_open_sync(2, 1);
  assert_int_equal(th_synchronous(t), 1);
  int fd = gs_engine_durable_fd(t->e);
  assert_true(fd >= 0);
  uint64_t c0 = gs_engine_commits(t->e);
  cJSON *ack = th_apply(t, "dev-a", one("w1", 1, "h1", t->now, HH_SET));
  assert_int_equal(num(ack, "applied"), 1);
  cJSON_Delete(ack);
  uint64_t c1 = gs_engine_commits(t->e);
  assert_int_equal(c1, c0 + 1);
  assert_int_equal(gs_engine_wait_durable(t->e, c1), GS_OK);
  assert_true(gs_engine_durable(t->e) >= c1);
  /* the next commit moves the count again, and the descriptor signals it */
  ack = th_apply(t, "dev-a", one("w2", 2, "h2", t->now, HH_SET));
  cJSON_Delete(ack);
  assert_int_equal(gs_engine_wait_durable(t->e, c1 + 1), GS_OK);
  struct pollfd p = {fd, POLLIN, 0};
  assert_int_equal(poll(&p, 1, 5000), 1);
  assert_true(gs_engine_durable(t->e) >= c1 + 1);
  assert_int_equal(poll(&p, 1, 0), 0); /* drained */
  th_close(t);

  t = th_open_sync(2, 0);
  assert_int_equal(th_synchronous(t), 2);
  assert_int_equal(gs_engine_durable_fd(t->e), -1);
  ack = th_apply(t, "dev-a", one("w3", 1, "h3", t->now, HH_SET));
  cJSON_Delete(ack);
  assert_int_equal(gs_engine_durable(t->e), gs_engine_commits(t->e));
  assert_int_equal(gs_engine_wait_durable(t->e, gs_engine_commits(t->e)), GS_OK);
  th_close(t);
}

/* Two engines on one file, as gs-collector and gs-admin (household import,
 * seed) are: each transaction goes on from the rev the other committed, so
 * no rev is handed out twice and a phone's cursor never skips a row. */
static void test_two_writers_share_rev(void **state) {
  th *t = th_open();
  gs_engine_config c;
  gs_engine_config_defaults(&c);
  c.db_path = t->db;
  c.synchronous = 0;
  gs_engine *e2 = NULL;
  char err[512];
  assert_int_equal(gs_engine_open(&e2, &c, err, sizeof err), GS_OK);
  cJSON *ack = th_apply(t, "dev-a", one("w1", 1, "h1", 1000, HH_SET));
  cJSON_Delete(ack);
  int64_t r1 = gs_engine_rev(t->e);
  gs_buf out = {0};
  /* the second engine opened before that write: it must not reuse r1 */
  assert_int_equal(
      gs_engine_apply(e2, "dev-b", one("w2", 1, "h2", 2000, HH_SET), strlen(one("w2", 1, "h2", 2000, HH_SET)), &out),
      GS_OK);
  assert_true(gs_engine_rev(e2) > r1);
  ack = th_apply(t, "dev-a", one("w3", 2, "h3", 3000, HH_SET));
  cJSON_Delete(ack);
  assert_true(gs_engine_rev(t->e) > gs_engine_rev(e2));
  assert_int_equal(th_int(t, "SELECT count(DISTINCT rev) FROM entity"), 3);
  gs_buf_free(&out);
  gs_engine_close(e2);
  th_close(t);
}

static void test_newer_db_refused(void **state) {
  th *t = th_open();
  char path[128];
  snprintf(path, sizeof path, "%s", t->db);
  assert_int_equal(sqlite3_exec(th_db(t), "PRAGMA user_version=999", NULL, NULL, NULL), SQLITE_OK);
  gs_engine_config c;
  gs_engine_config_defaults(&c);
  c.db_path = path;
  gs_engine *e2 = NULL;
  char err[512];
  assert_int_equal(gs_engine_open(&e2, &c, err, sizeof err), GS_ETOO_NEW);
  assert_non_null(strstr(err, "newer"));
  th_close(t);
}

/* New entities take a direct path (create_entity) that must store exactly
 * the bytes of the general merge path: same batches into two stores, one
 * with the direct path off, then byte-identical entity rows and acks. */
static void test_fast_create_same_bytes(void **state) {
  th *a = th_open(), *b = th_open();
  gs_engine_set_fast_create(b->e, 0);
  long long n = a->now;
  const char *batches[] = {
      /* household with tags, escapes, nulls and a base on create */
      fmt("{\"v\":1,\"batch\":\"f1\",\"changes\":[{\"id\":\"f1\",\"seq\":1,\"type\":\"household\",\"entity\":\"h1\","
          "\"hlc\":[%lld,7],\"base\":{\"note\":[%lld,0,\"dev-b\"]},\"set\":{\"grid\":\"g1\",\"address\":"
          "\"人民路\\\"1\\\"号\\n\\u0001\","
          "\"members\":4,\"tags\":[\"elderly_alone\",\"disabled\"],\"note\":null,\"phone\":\"138\"}},"
          /* visit with gps floats and a duration */
          "{\"id\":\"f2\",\"seq\":2,\"type\":\"visit\",\"entity\":\"v1\",\"hlc\":[%lld,8],\"set\":{\"grid\":\"g1\","
          "\"household\":\"h1\",\"visited_at\":%lld,\"summary\":\"入户走访\",\"gps\":[39.9042,116.4074],\"duration\":"
          "12.0}},"
          /* report; a deleted-on-create entity */
          "{\"id\":\"f3\",\"seq\":3,\"type\":\"report\",\"entity\":\"r1\",\"hlc\":[%lld,9],\"set\":{\"grid\":\"g2\","
          "\"category\":\"dispute\",\"title\":\"噪音\",\"urgency\":\"high\",\"photos\":[\"a.jpg\"],\"due_at\":%lld}},"
          "{\"id\":\"f4\",\"seq\":4,\"type\":\"household\",\"entity\":\"h2\",\"hlc\":[%lld,10],\"set\":{\"grid\":"
          "\"g2\","
          "\"address\":\"x\",\"_deleted\":true}}]}",
          n, n - 5000, n, n, n, n + 86400000LL, n),
      /* edits of what was created: the general path in both stores */
      fmt("{\"v\":1,\"batch\":\"f5\",\"changes\":[{\"id\":\"f5\",\"seq\":5,\"type\":\"household\",\"entity\":\"h1\","
          "\"hlc\":[%lld,0],\"base\":{\"members\":[%lld,7,\"dev-a\"]},\"set\":{\"members\":5}},"
          "{\"id\":\"f6\",\"seq\":6,\"type\":\"report\",\"entity\":\"r1\",\"hlc\":[%lld,1],\"set\":{\"status\":"
          "\"resolved\"}}]}",
          n + 10, n, n + 11),
  };
  for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
    cJSON *x = th_apply(a, "dev-a", batches[i]), *y = th_apply(b, "dev-a", batches[i]);
    char *xs = cJSON_PrintUnformatted(x), *ys = cJSON_PrintUnformatted(y);
    assert_string_equal(xs, ys);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(x, "rejected")), 0);
    cJSON_free(xs);
    cJSON_free(ys);
    cJSON_Delete(x);
    cJSON_Delete(y);
  }
  const char *q = "SELECT group_concat(type||'|'||id||'|'||grid||'|'||rev||'|'||fields||'|'||ver||'|'||hist, '~') "
                  "FROM (SELECT * FROM entity ORDER BY type, id)";
  char want[16384];
  snprintf(want, sizeof want, "%s", th_text(b, q));
  assert_true(strlen(want) > 200);
  assert_string_equal(th_text(a, q), want);
  const char *qs = "SELECT group_concat(org||':'||households||':'||reports_open||':'||r_high, ',') FROM "
                   "(SELECT * FROM org_stat ORDER BY org)";
  snprintf(want, sizeof want, "%s", th_text(b, qs) ? th_text(b, qs) : "");
  assert_string_equal(th_text(a, qs) ? th_text(a, qs) : "", want);
  th_close(a);
  th_close(b);
}

static void test_oom_paths(void **state) {
  /* every allocation failing in turn: a clean error, never a crash or leak */
  th *t = th_open();
  /* warm-up: the engine keeps its scratch buffers between writes */
  cJSON_Delete(th_apply(t, "dev-b", one("w1", 1, "h0", t->now, "\"set\":{\"grid\":\"g1\",\"address\":\"warm\"}")));
  const char *batch = one("m1", 1, "h1", t->now, "\"set\":{\"grid\":\"g1\",\"address\":\"a\",\"tags\":[\"disabled\"]}");
  for (long n = 0; n < 400; n++) {
    gs_buf ack = GS_BUF_INIT;
    long live = gs_mem_live();
    gs_mem_fail_after(n);
    int rc = gs_engine_apply(t->e, "dev-a", batch, strlen(batch), &ack);
    gs_mem_fail_after(-1);
    gs_buf_free(&ack);
    if (gs_mem_live() != live) fail_msg("allocation %ld failing leaks %ld block(s)", n, gs_mem_live() - live);
    if (rc == GS_OK) break;
    assert_true(rc == GS_ENOMEM || rc == GS_EIO);
  }
  assert_int_equal(th_int(t, "SELECT count(*) FROM entity"), 2);
  th_close(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_apply_and_ack),    cmocka_unit_test(test_duplicate_and_id_reused),
      cmocka_unit_test(test_rejection_codes),  cmocka_unit_test(test_batch_level_errors),
      cmocka_unit_test(test_limits),           cmocka_unit_test(test_lww_and_order),
      cmocka_unit_test(test_conflict_logged),  cmocka_unit_test(test_clock_skew_clamped),
      cmocka_unit_test(test_watermark),        cmocka_unit_test(test_forbidden_existing_grid),
      cmocka_unit_test(test_pull_pages),       cmocka_unit_test(test_group_commit),
      cmocka_unit_test(test_newer_db_refused), cmocka_unit_test(test_two_writers_share_rev),
      cmocka_unit_test(test_oom_paths),        cmocka_unit_test(test_fast_create_same_bytes),
      cmocka_unit_test(test_wal_sync_thread),
  };
  return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
