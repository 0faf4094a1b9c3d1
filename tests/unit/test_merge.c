/* The merge alone (collector/engine/gs_merge.h), without a database:
 * last writer wins by (hlc ms, counter, device), null clears, _deleted, the
 * conflict rule and its symmetry, the history encoding, and the one encoder
 * giving the same bytes for a new entity on the direct and the general path
 * (docs/PROTOCOL.md, "Data model"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gs_error.h"
#include "gs_json.h"
#include "gs_merge.h"

/* An entity's stored texts, owned by the test. */
typedef struct ent {
  int exists;
  gs_buf fields, ver, hist;
} ent;

/* One change built from a JSON text, as the engine hands it to the merge. */
typedef struct chg {
  cJSON *doc;
  gs_buf canon;
  gs_canon_spans sp;
  gs_merge_change mc;
} chg;

static void chg_make(chg *c, const char *id, long long ms, int cnt, const char *dev, const char *base,
                     const char *set) {
  char text[2048];
  snprintf(text, sizeof text, "{\"id\":\"%s\",\"hlc\":[%lld,%d],\"base\":%s,\"set\":%s}", id, ms, cnt,
           base ? base : "null", set);
  memset(c, 0, sizeof *c);
  c->doc = cJSON_Parse(text);
  assert_non_null(c->doc);
  assert_int_equal(gs_json_canon_spans(c->doc, "set", &c->canon, &c->sp), GS_OK);
  c->mc.id = id;
  c->mc.ver.present = 1;
  c->mc.ver.ms = ms;
  c->mc.ver.c = cnt;
  snprintf(c->mc.ver.dev, sizeof c->mc.ver.dev, "%s", dev);
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(c->doc, "base");
  c->mc.base = cJSON_IsObject(b) ? b : NULL;
  c->mc.set = cJSON_GetObjectItemCaseSensitive(c->doc, "set");
  c->mc.canon = c->canon.data;
  c->mc.sp = &c->sp;
}

static void chg_free(chg *c) {
  cJSON_Delete(c->doc);
  gs_buf_free(&c->canon);
}

struct seen {
  int n;
  char field[65], change[65];
};

static int on_conflict(void *ctx, const char *field, const cJSON *value, const gs_merge_hist *theirs) {
  struct seen *s = ctx;
  (void)value;
  if (!s) return GS_OK;
  s->n++;
  snprintf(s->field, sizeof s->field, "%s", field);
  snprintf(s->change, sizeof s->change, "%s", theirs->change);
  return GS_OK;
}

/* Applies a change to e (stored texts replaced); returns the result's changed flag. */
static int apply(gs_merge *m, ent *e, const char *id, long long ms, int cnt, const char *dev, const char *base,
                 const char *set, struct seen *seen) {
  chg c;
  chg_make(&c, id, ms, cnt, dev, base, set);
  gs_merge_stored st = {e->fields.data, e->ver.data, e->hist.data};
  gs_merge_result r;
  assert_int_equal(gs_merge_apply(m, &c.mc, e->exists ? &st : NULL, on_conflict, seen, &r), GS_OK);
  assert_non_null(r.after);
  gs_buf_reset(&e->fields);
  gs_buf_reset(&e->ver);
  gs_buf_reset(&e->hist);
  gs_buf_append(&e->fields, r.fields, r.fields_len);
  gs_buf_append(&e->ver, r.ver, r.ver_len);
  gs_buf_append(&e->hist, r.hist, r.hist_len);
  e->exists = 1;
  chg_free(&c);
  return r.changed;
}

static void ent_free(ent *e) {
  gs_buf_free(&e->fields);
  gs_buf_free(&e->ver);
  gs_buf_free(&e->hist);
}

static int hist_count(const ent *e, const char *field) {
  cJSON *h = cJSON_Parse(e->hist.data);
  int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(h, field));
  cJSON_Delete(h);
  return n;
}

static void test_create_texts(void **state) {
  (void)state;
  gs_merge *m;
  assert_int_equal(gs_merge_new(&m), GS_OK);
  ent e = {0};
  assert_int_equal(apply(m, &e, "c1", 1000, 2, "dev-a", NULL, "{\"name\":\"x\",\"grid\":\"g1\"}", NULL), 1);
  assert_string_equal(e.fields.data, "{\"grid\":\"g1\",\"name\":\"x\"}");
  assert_string_equal(e.ver.data, "{\"grid\":[1000,2,\"dev-a\"],\"name\":[1000,2,\"dev-a\"]}");
  char vh[17], want[512];
  gs_json_hex64(gs_json_fnv("\"x\"", 3), vh);
  snprintf(want, sizeof want, "\"name\":[\"1000:2:dev-a:0:0::c1:%s\"]}", vh);
  assert_non_null(strstr(e.hist.data, want));
  ent_free(&e);
  gs_merge_free(m);
}

static void test_later_wins_earlier_loses(void **state) {
  (void)state;
  gs_merge *m;
  assert_int_equal(gs_merge_new(&m), GS_OK);
  ent e = {0};
  apply(m, &e, "c1", 1000, 0, "dev-a", NULL, "{\"grid\":\"g1\",\"name\":\"a\"}", NULL);
  assert_int_equal(apply(m, &e, "c2", 2000, 0, "dev-b", NULL, "{\"name\":\"b\"}", NULL), 1);
  assert_string_equal(e.fields.data, "{\"grid\":\"g1\",\"name\":\"b\"}");
  assert_string_equal(e.ver.data, "{\"grid\":[1000,0,\"dev-a\"],\"name\":[2000,0,\"dev-b\"]}");
  /* an older write arrives late: it loses, the entity is unchanged, it is remembered */
  assert_int_equal(apply(m, &e, "c3", 1500, 0, "dev-c", NULL, "{\"name\":\"c\"}", NULL), 0);
  assert_string_equal(e.fields.data, "{\"grid\":\"g1\",\"name\":\"b\"}");
  assert_string_equal(e.ver.data, "{\"grid\":[1000,0,\"dev-a\"],\"name\":[2000,0,\"dev-b\"]}");
  assert_int_equal(hist_count(&e, "name"), 3);
  assert_int_equal(hist_count(&e, "grid"), 1);
  /* the counter orders writes of the same millisecond */
  assert_int_equal(apply(m, &e, "c4", 2000, 1, "dev-a", NULL, "{\"name\":\"d\"}", NULL), 1);
  assert_string_equal(e.fields.data, "{\"grid\":\"g1\",\"name\":\"d\"}");
  ent_free(&e);
  gs_merge_free(m);
}

/* Same (ms, counter): the device id decides, whatever the arrival order. */
static void test_tie_broken_by_device(void **state) {
  (void)state;
  gs_merge *m;
  assert_int_equal(gs_merge_new(&m), GS_OK);
  ent x = {0}, y = {0};
  apply(m, &x, "c0", 10, 0, "dev-a", NULL, "{\"grid\":\"g1\"}", NULL);
  apply(m, &y, "c0", 10, 0, "dev-a", NULL, "{\"grid\":\"g1\"}", NULL);
  apply(m, &x, "ca", 500, 3, "dev-a", NULL, "{\"name\":\"from a\"}", NULL);
  apply(m, &x, "cb", 500, 3, "dev-b", NULL, "{\"name\":\"from b\"}", NULL);
  apply(m, &y, "cb", 500, 3, "dev-b", NULL, "{\"name\":\"from b\"}", NULL);
  apply(m, &y, "ca", 500, 3, "dev-a", NULL, "{\"name\":\"from a\"}", NULL);
  assert_string_equal(x.fields.data, "{\"grid\":\"g1\",\"name\":\"from b\"}");
  assert_string_equal(x.fields.data, y.fields.data);
  assert_string_equal(x.ver.data, y.ver.data);
  ent_free(&x);
  ent_free(&y);
  gs_merge_free(m);
}

static void test_null_clears_and_deleted(void **state) {
  (void)state;
  gs_merge *m;
  assert_int_equal(gs_merge_new(&m), GS_OK);
  ent e = {0};
  apply(m, &e, "c1", 100, 0, "dev-a", NULL, "{\"grid\":\"g1\",\"note\":\"n\"}", NULL);
  assert_int_equal(apply(m, &e, "c2", 200, 0, "dev-a", NULL, "{\"note\":null}", NULL), 1);
  assert_string_equal(e.fields.data, "{\"grid\":\"g1\",\"note\":null}");
  assert_int_equal(apply(m, &e, "c3", 300, 0, "dev-a", NULL, "{\"_deleted\":true}", NULL), 1);
  assert_string_equal(e.fields.data, "{\"_deleted\":true,\"grid\":\"g1\",\"note\":null}");
  assert_string_equal(e.ver.data,
                      "{\"_deleted\":[300,0,\"dev-a\"],\"grid\":[100,0,\"dev-a\"],\"note\":[200,0,\"dev-a\"]}");
  /* an older undelete loses */
  assert_int_equal(apply(m, &e, "c4", 250, 0, "dev-b", NULL, "{\"_deleted\":false}", NULL), 0);
  assert_non_null(strstr(e.fields.data, "\"_deleted\":true"));
  ent_free(&e);
  gs_merge_free(m);
}

static gs_merge_hist hist(long long ms, const char *dev, long long bms, const char *bdev, const char *vh) {
  gs_merge_hist h;
  memset(&h, 0, sizeof h);
  h.ver = (gs_ver){1, ms, 0, ""};
  snprintf(h.ver.dev, sizeof h.ver.dev, "%s", dev);
  if (bdev) {
    h.base = (gs_ver){1, bms, 0, ""};
    snprintf(h.base.dev, sizeof h.base.dev, "%s", bdev);
  }
  snprintf(h.change, sizeof h.change, "c-%s-%lld", dev, ms);
  snprintf(h.vh, sizeof h.vh, "%s", vh);
  return h;
}

static void test_conflict_rule_symmetric(void **state) {
  (void)state;
  struct {
    gs_merge_hist x, y;
    int want;
  } cases[] = {
      /* neither saw the other */
      {hist(100, "dev-a", 0, NULL, "aaaa"), hist(200, "dev-b", 0, NULL, "bbbb"), 1},
      {hist(100, "dev-a", 50, "dev-c", "aaaa"), hist(200, "dev-b", 60, "dev-c", "bbbb"), 1},
      /* y had seen x (base >= x's version) */
      {hist(100, "dev-a", 0, NULL, "aaaa"), hist(200, "dev-b", 100, "dev-a", "bbbb"), 0},
      {hist(100, "dev-a", 0, NULL, "aaaa"), hist(200, "dev-b", 150, "dev-a", "bbbb"), 0},
      /* same device, same value */
      {hist(100, "dev-a", 0, NULL, "aaaa"), hist(200, "dev-a", 0, NULL, "bbbb"), 0},
      {hist(100, "dev-a", 0, NULL, "aaaa"), hist(200, "dev-b", 0, NULL, "aaaa"), 0},
      /* y's base is below x's version by the device id only */
      {hist(100, "dev-b", 0, NULL, "aaaa"), hist(200, "dev-c", 100, "dev-a", "bbbb"), 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    assert_int_equal(gs_merge_conflict(&cases[i].x, &cases[i].y), cases[i].want);
    assert_int_equal(gs_merge_conflict(&cases[i].y, &cases[i].x), cases[i].want);
  }
}

static void test_conflict_reported(void **state) {
  (void)state;
  gs_merge *m;
  assert_int_equal(gs_merge_new(&m), GS_OK);
  ent e = {0};
  struct seen s = {0};
  apply(m, &e, "c1", 100, 0, "dev-a", NULL, "{\"grid\":\"g1\",\"note\":\"x\"}", &s);
  assert_int_equal(s.n, 0);
  /* dev-b had seen c1's version of note: no conflict */
  apply(m, &e, "c2", 200, 0, "dev-b", "{\"note\":[100,0,\"dev-a\"]}", "{\"note\":\"y\"}", &s);
  assert_int_equal(s.n, 0);
  /* dev-c had seen only c1: concurrent with c2 (and not with c1) */
  apply(m, &e, "c3", 150, 0, "dev-c", "{\"note\":[100,0,\"dev-a\"]}", "{\"note\":\"z\"}", &s);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.field, "note");
  assert_string_equal(s.change, "c2");
  assert_non_null(strstr(e.fields.data, "\"note\":\"y\"")); /* c2 still wins */
  ent_free(&e);
  gs_merge_free(m);
}

static void test_hist_round_trip(void **state) {
  (void)state;
  gs_merge_hist a = hist(281474976710655LL, "dev-0123456789", 42, "dev-x", "0123456789abcdef"), b;
  a.ver.c = 65535;
  a.base.c = 7;
  char text[GS_MERGE_HIST_MAX];
  assert_int_equal(gs_merge_hist_format(text, sizeof text, &a), 1);
  assert_string_equal(text, "281474976710655:65535:dev-0123456789:42:7:dev-x:c-dev-0123456789-281474976710655:"
                            "0123456789abcdef");
  assert_int_equal(gs_merge_hist_parse(text, &b), 1);
  assert_true(gs_ver_cmp(&a.ver, &b.ver) == 0 && gs_ver_cmp(&a.base, &b.base) == 0);
  assert_string_equal(a.change, b.change);
  assert_string_equal(a.vh, b.vh);
  /* no base */
  a = hist(5, "dev-a", 0, NULL, "ff");
  assert_int_equal(gs_merge_hist_format(text, sizeof text, &a), 1);
  assert_string_equal(text, "5:0:dev-a:0:0::c-dev-a-5:ff");
  assert_int_equal(gs_merge_hist_parse(text, &b), 1);
  assert_int_equal(b.base.present, 0);
  /* too small a buffer, too long a part */
  assert_int_equal(gs_merge_hist_format(text, 10, &a), 0);
  assert_int_equal(gs_merge_hist_parse("1:2:dev:0:0::c:0123456789abcdef0", &b), 0);
}

/* The direct path for new entities and the general one store the same bytes. */
static void test_fast_and_general_same_bytes(void **state) {
  (void)state;
  gs_merge *fast, *slow;
  assert_int_equal(gs_merge_new(&fast), GS_OK);
  assert_int_equal(gs_merge_new(&slow), GS_OK);
  gs_merge_set_fast_create(slow, 0);
  const char *set = "{\"grid\":\"g1\",\"address\":\"人民路\\\"1\\\"号\\n\\u0001\",\"members\":4,\"tags\":[\"b\",\"a\"],"
                    "\"note\":null,\"gps\":[39.9042,116.4074],\"duration\":12.0,\"_deleted\":false,\"z\":{\"b\":1,"
                    "\"a\":2}}";
  ent a = {0}, b = {0};
  apply(fast, &a, "f1", 1733300000000LL, 9, "dev-a", "{\"note\":[5,0,\"dev-b\"]}", set, NULL);
  apply(slow, &b, "f1", 1733300000000LL, 9, "dev-a", "{\"note\":[5,0,\"dev-b\"]}", set, NULL);
  assert_string_equal(a.fields.data, b.fields.data);
  assert_string_equal(a.ver.data, b.ver.data);
  assert_string_equal(a.hist.data, b.hist.data);
  ent_free(&a);
  ent_free(&b);
  gs_merge_free(fast);
  gs_merge_free(slow);
}

/* A stored text that is not JSON is an error, not a crash. */
static void test_stored_garbage(void **state) {
  (void)state;
  gs_merge *m;
  assert_int_equal(gs_merge_new(&m), GS_OK);
  chg c;
  chg_make(&c, "c1", 1, 0, "dev-a", NULL, "{\"name\":\"x\"}");
  gs_merge_stored st = {"{", "{}", "{}"};
  gs_merge_result r;
  assert_int_not_equal(gs_merge_apply(m, &c.mc, &st, NULL, NULL, &r), GS_OK);
  chg_free(&c);
  gs_merge_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_texts),
      cmocka_unit_test(test_later_wins_earlier_loses),
      cmocka_unit_test(test_tie_broken_by_device),
      cmocka_unit_test(test_null_clears_and_deleted),
      cmocka_unit_test(test_conflict_rule_symmetric),
      cmocka_unit_test(test_conflict_reported),
      cmocka_unit_test(test_hist_round_trip),
      cmocka_unit_test(test_fast_and_general_same_bytes),
      cmocka_unit_test(test_stored_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
