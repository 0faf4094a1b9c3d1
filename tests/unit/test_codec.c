/* The wire codec alone (collector/engine/gs_codec.h), without a database:
 * good batches, changes and pull requests parse into the right values; every
 * malformed case gives the right error and detail; the replies are
 * byte-exact (phone apps parse them; docs/PROTOCOL.md, "Sync over MQTT"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gs_codec.h"
#include "gs_error.h"
#include "gs_json.h"

static gs_schema *schema;

static int setup(void **state) {
  (void)state;
  char err[256];
  return gs_schema_load_builtin(&schema, err, sizeof err) == GS_OK ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  gs_schema_free(schema);
  return 0;
}

/* ---- batches --------------------------------------------------------------- */

static void test_batch_good(void **state) {
  (void)state;
  const char *p = "{\"v\":1,\"batch\":\"b-1\",\"changes\":[{},{},{}]}";
  gs_codec_batch b;
  char detail[256] = "";
  assert_int_equal(gs_codec_batch_parse(p, strlen(p), 3, &b, detail, sizeof detail), GS_OK);
  assert_string_equal(b.batch, "b-1");
  assert_int_equal(b.n, 3);
  assert_true(cJSON_IsArray(b.changes));
  gs_codec_batch_free(&b);
  assert_int_equal(gs_codec_batch_size(100, 100, detail, sizeof detail), GS_OK);
}

static void test_batch_malformed(void **state) {
  (void)state;
  struct {
    const char *p;
    size_t len; /* 0: strlen */
    int err;
    const char *detail;
    const char *batch; /* echoed id, NULL: none */
  } cases[] = {
      {"{\"v\":1,\"batch\":\"b\xff\",\"changes\":[]}", 0, GS_EBAD_JSON, "payload is not valid UTF-8", NULL},
      {"{\"v\":1,", 0, GS_EBAD_JSON, "payload is not valid JSON (near byte 6)", NULL},
      {"", 0, GS_EBAD_JSON, "payload is not valid JSON (near byte 0)", NULL},
      {"{\"batch\":\"b1\",\"changes\":[]}", 0, GS_EBAD_VERSION,
       "batch must be an object with \"v\":1 (this server speaks sync protocol v1)", "b1"},
      {"{\"v\":2,\"batch\":\"b1\",\"changes\":[]}", 0, GS_EBAD_VERSION,
       "batch must be an object with \"v\":1 (this server speaks sync protocol v1)", "b1"},
      {"{\"v\":\"1\",\"batch\":\"b1\",\"changes\":[]}", 0, GS_EBAD_VERSION,
       "batch must be an object with \"v\":1 (this server speaks sync protocol v1)", "b1"},
      {"[1,2]", 0, GS_EBAD_VERSION, "batch must be an object with \"v\":1 (this server speaks sync protocol v1)", NULL},
      {"{\"v\":1,\"changes\":[]}", 0, GS_EBAD_REQUEST,
       "batch needs \"batch\" (an id of [A-Za-z0-9_-]{1,64}) and \"changes\" (an array)", NULL},
      {"{\"v\":1,\"batch\":\"no spaces\",\"changes\":[]}", 0, GS_EBAD_REQUEST,
       "batch needs \"batch\" (an id of [A-Za-z0-9_-]{1,64}) and \"changes\" (an array)", NULL},
      {"{\"v\":1,\"batch\":\"b1\",\"changes\":{}}", 0, GS_EBAD_REQUEST,
       "batch needs \"batch\" (an id of [A-Za-z0-9_-]{1,64}) and \"changes\" (an array)", "b1"},
      {"{\"v\":1,\"batch\":\"b1\",\"changes\":[1,2,3,4]}", 0, GS_ETOO_LARGE,
       "batch has 4 changes, more than the limit of 3; send smaller batches", "b1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    gs_codec_batch b;
    char detail[256] = "";
    size_t len = cases[i].len ? cases[i].len : strlen(cases[i].p);
    int rc = gs_codec_batch_parse(cases[i].p, len, 3, &b, detail, sizeof detail);
    if (rc != cases[i].err || strcmp(detail, cases[i].detail) != 0)
      fail_msg("case %zu: got %s '%s'", i, gs_errname(rc), detail);
    if (cases[i].batch) assert_string_equal(b.batch, cases[i].batch);
    else assert_null(b.batch);
    gs_codec_batch_free(&b);
  }
  char detail[256];
  assert_int_equal(gs_codec_batch_size(1048577, 1048576, detail, sizeof detail), GS_ETOO_LARGE);
  assert_string_equal(detail, "batch of 1048577 bytes exceeds the limit of 1048576 bytes; send smaller batches");
}

/* ---- changes --------------------------------------------------------------- */

static int parse_change(const char *text, gs_codec_change *c, gs_buf *canon, cJSON **doc, char *detail, size_t dl) {
  *doc = cJSON_Parse(text);
  assert_non_null(*doc);
  detail[0] = '\0';
  return gs_codec_change_parse(*doc, schema, "dev-a", 64, canon, c, detail, dl);
}

static void test_change_good(void **state) {
  (void)state;
  gs_buf canon = GS_BUF_INIT;
  gs_codec_change c;
  cJSON *doc;
  char detail[256];
  const char *text = "{\"set\":{\"members\":4,\"grid\":\"g1\",\"address\":\"a\\\"b\"},\"entity\":\"h1\","
                     "\"base\":{\"members\":[5,1,\"dev-b\"]},\"type\":\"household\",\"seq\":7,\"id\":\"c1\","
                     "\"hlc\":[1000,3]}";
  assert_int_equal(parse_change(text, &c, &canon, &doc, detail, sizeof detail), GS_OK);
  assert_string_equal(c.id, "c1");
  assert_int_equal(c.seq, 7);
  assert_string_equal(c.type, "household");
  assert_non_null(c.tdef);
  assert_string_equal(c.entity, "h1");
  assert_int_equal(c.ver.present, 1);
  assert_int_equal(c.ver.ms, 1000);
  assert_int_equal(c.ver.c, 3);
  assert_string_equal(c.ver.dev, "dev-a");
  assert_non_null(c.base);
  assert_int_equal(cJSON_GetArraySize(c.set), 3);
  /* the canonical text (keys sorted) is what is digested and stored */
  const char *want = "{\"base\":{\"members\":[5,1,\"dev-b\"]},\"entity\":\"h1\",\"hlc\":[1000,3],\"id\":\"c1\","
                     "\"seq\":7,\"set\":{\"address\":\"a\\\"b\",\"grid\":\"g1\",\"members\":4},\"type\":\"household\"}";
  assert_ptr_equal(c.canon, &canon);
  assert_string_equal(canon.data, want);
  unsigned char d[32];
  assert_int_equal(gs_sha256(want, strlen(want), d), GS_OK);
  assert_memory_equal(c.digest, d, 32);
  /* spans of set and its values, in key order */
  assert_int_equal(c.sp.found, 1);
  assert_int_equal(c.sp.n, 3);
  assert_string_equal(c.sp.m[0].key, "address");
  assert_int_equal(c.sp.m[2].len, 1);
  assert_memory_equal(canon.data + c.sp.m[2].off, "4", 1);
  assert_memory_equal(canon.data + c.sp.off, "{\"address\"", 10);
  cJSON_Delete(doc);
  /* base null is no base; the buffer is reused */
  assert_int_equal(parse_change("{\"id\":\"c2\",\"seq\":1,\"type\":\"visit\",\"entity\":\"v1\",\"hlc\":[0,0],"
                                "\"base\":null,\"set\":{\"summary\":\"s\"}}",
                                &c, &canon, &doc, detail, sizeof detail),
                   GS_OK);
  assert_null(c.base);
  cJSON_Delete(doc);
  gs_buf_free(&canon);
}

static void test_change_malformed(void **state) {
  (void)state;
#define HEAD "\"id\":\"c1\",\"seq\":1,\"type\":\"household\",\"entity\":\"h1\",\"hlc\":[1,0]"
  struct {
    const char *text;
    int err;
    const char *detail;
    int has_id, has_type;
  } cases[] = {
      {"[1]", GS_EBAD_CHANGE, "change is not a JSON object", 0, 0},
      {"{\"seq\":1}", GS_EBAD_CHANGE, "\"id\" must be a string of [A-Za-z0-9_-]{1,64}", 0, 0},
      {"{\"id\":\"a b\"}", GS_EBAD_CHANGE, "\"id\" must be a string of [A-Za-z0-9_-]{1,64}", 0, 0},
      {"{\"id\":\"c1\",\"seq\":0}", GS_EBAD_CHANGE, "\"seq\" must be an integer >= 1", 1, 0},
      {"{\"id\":\"c1\",\"seq\":1.5}", GS_EBAD_CHANGE, "\"seq\" must be an integer >= 1", 1, 0},
      {"{\"id\":\"c1\",\"seq\":\"1\"}", GS_EBAD_CHANGE, "\"seq\" must be an integer >= 1", 1, 0},
      {"{\"id\":\"c1\",\"seq\":1,\"type\":3}", GS_EBAD_CHANGE, "\"type\" must be a string", 1, 0},
      {"{\"id\":\"c1\",\"seq\":1,\"type\":\"nope\"}", GS_EUNKNOWN_TYPE, "type 'nope' is not one of the schema's types",
       1, 0},
      {"{\"id\":\"c1\",\"seq\":1,\"type\":\"household\",\"entity\":\"\"}", GS_EBAD_CHANGE,
       "\"entity\" must be a string of [A-Za-z0-9_-]{1,64}", 1, 1},
      {"{\"id\":\"c1\",\"seq\":1,\"type\":\"household\",\"entity\":\"h1\",\"hlc\":[1,65536]}", GS_EBAD_CHANGE,
       "\"hlc\" must be [ms, counter] with 0 <= counter <= 65535", 1, 1},
      {"{\"id\":\"c1\",\"seq\":1,\"type\":\"household\",\"entity\":\"h1\",\"hlc\":[1,0,0]}", GS_EBAD_CHANGE,
       "\"hlc\" must be [ms, counter] with 0 <= counter <= 65535", 1, 1},
      {"{\"id\":\"c1\",\"seq\":1,\"type\":\"household\",\"entity\":\"h1\",\"hlc\":[-1,0]}", GS_EBAD_CHANGE,
       "\"hlc\" must be [ms, counter] with 0 <= counter <= 65535", 1, 1},
      {"{" HEAD ",\"base\":[1],\"set\":{\"note\":\"x\"}}", GS_EBAD_CHANGE,
       "\"base\" must be an object of field -> [ms, counter, \"device\"]", 1, 1},
      {"{" HEAD ",\"base\":{\"note\":[1,0]},\"set\":{\"note\":\"x\"}}", GS_EBAD_CHANGE,
       "base of field 'note' must be [ms, counter, \"device\"]", 1, 1},
      {"{" HEAD ",\"base\":{\"note\":[1,0,\"BAD/dev\"]},\"set\":{\"note\":\"x\"}}", GS_EBAD_CHANGE,
       "base of field 'note' must be [ms, counter, \"device\"]", 1, 1},
      {"{" HEAD ",\"set\":{}}", GS_EBAD_CHANGE, "\"set\" must be a non-empty object of field -> value", 1, 1},
      {"{" HEAD ",\"set\":[1]}", GS_EBAD_CHANGE, "\"set\" must be a non-empty object of field -> value", 1, 1},
      {"{" HEAD "}", GS_EBAD_CHANGE, "\"set\" must be a non-empty object of field -> value", 1, 1},
      {"{" HEAD ",\"set\":{\"colour\":1}}", GS_EUNKNOWN_FIELD, "field 'colour' is not defined for type household", 1,
       1},
      {"{" HEAD ",\"set\":{\"note\":\"x\",\"note\":\"y\"}}", GS_EBAD_CHANGE, "\"set\" names a field twice", 1, 1},
  };
  gs_buf canon = GS_BUF_INIT;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    gs_codec_change c;
    cJSON *doc;
    char detail[256];
    int rc = parse_change(cases[i].text, &c, &canon, &doc, detail, sizeof detail);
    if (rc != cases[i].err || strcmp(detail, cases[i].detail) != 0)
      fail_msg("case %zu: got %s '%s'", i, gs_errname(rc), detail);
    assert_int_equal(c.id != NULL, cases[i].has_id);
    assert_int_equal(c.type != NULL, cases[i].has_type);
    cJSON_Delete(doc);
  }
  /* values the schema refuses: the schema's own error and detail */
  const char *bad[] = {"{" HEAD ",\"set\":{\"members\":\"four\"}}", "{" HEAD ",\"set\":{\"members\":101}}",
                       "{" HEAD ",\"set\":{\"tags\":[\"nope\"]}}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    gs_codec_change c;
    cJSON *doc;
    char detail[256];
    assert_int_equal(parse_change(bad[i], &c, &canon, &doc, detail, sizeof detail), GS_EBAD_VALUE);
    assert_true(detail[0] != '\0');
    cJSON_Delete(doc);
  }
  /* a string longer than max_field_bytes (64 here) */
  gs_codec_change c;
  cJSON *doc;
  char detail[256];
  int rc = parse_change("{" HEAD ",\"set\":{\"note\":\"0123456789012345678901234567890123456789012345678901234567890123"
                        "456789\"}}",
                        &c, &canon, &doc, detail, sizeof detail);
  assert_true(rc == GS_ETOO_LARGE || rc == GS_EBAD_VALUE);
  cJSON_Delete(doc);
  gs_buf_free(&canon);
#undef HEAD
}

static void test_change_value(void **state) {
  (void)state;
  gs_buf out = GS_BUF_INIT;
  const char *body = "{\"id\":\"c1\",\"set\":{\"tags\":[\"b\",\"a\"],\"z\":{\"y\":1,\"x\":null}}}";
  assert_int_equal(gs_codec_change_value(body, "tags", &out), GS_OK);
  assert_string_equal(out.data, "[\"b\",\"a\"]");
  assert_int_equal(gs_codec_change_value(body, "z", &out), GS_OK);
  assert_string_equal(out.data, "{\"x\":null,\"y\":1}");
  assert_int_equal(gs_codec_change_value(body, "nope", &out), GS_ENOTFOUND);
  assert_int_equal(gs_codec_change_value("not json", "tags", &out), GS_ENOTFOUND);
  gs_buf_free(&out);
}

/* ---- replies, byte for byte ------------------------------------------------ */

static void test_ack_bytes(void **state) {
  (void)state;
  gs_buf out = GS_BUF_INIT;
  gs_codec_ack a = GS_CODEC_ACK_INIT;
  gs_hlc hlc = {1733300000123LL, 4};
  assert_int_equal(gs_codec_ack_write(&out, "b1", 0, hlc, &a), GS_OK);
  assert_string_equal(out.data, "{\"v\":1,\"batch\":\"b1\",\"acked_seq\":0,\"hlc\":[1733300000123,4],\"applied\":0,"
                                "\"duplicates\":0,\"rejected\":[],\"conflicts\":[]}");
  gs_buf_reset(&out);
  a.applied = 3;
  a.duplicates = 1;
  assert_int_equal(gs_codec_ack_rejected(&a, "c4", 4, GS_EUNKNOWN_FIELD, "field 'x' is not \"defined\""), GS_OK);
  assert_int_equal(gs_codec_ack_rejected(&a, NULL, 0, GS_EBAD_CHANGE, NULL), GS_OK);
  assert_int_equal(gs_codec_ack_conflict(&a, "c2"), GS_OK);
  assert_int_equal(gs_codec_ack_conflict(&a, "c3"), GS_OK);
  assert_int_equal(gs_codec_ack_write(&out, "b-2", 9, hlc, &a), GS_OK);
  assert_string_equal(out.data,
                      "{\"v\":1,\"batch\":\"b-2\",\"acked_seq\":9,\"hlc\":[1733300000123,4],\"applied\":3,"
                      "\"duplicates\":1,\"rejected\":[{\"id\":\"c4\",\"seq\":4,\"error\":\"unknown_field\",\"detail\":"
                      "\"field 'x' is not \\\"defined\\\"\"},{\"id\":null,\"seq\":null,\"error\":\"bad_change\","
                      "\"detail\":\"change is malformed (id, seq, type, entity, hlc, base or set)\"}],"
                      "\"conflicts\":[\"c2\",\"c3\"]}");
  gs_codec_ack_free(&a);
  gs_buf_reset(&out);
  assert_int_equal(gs_codec_ack_error(&out, NULL, 12, hlc, GS_EBAD_JSON, "payload is not valid UTF-8"), GS_OK);
  assert_string_equal(out.data, "{\"v\":1,\"batch\":null,\"error\":\"bad_json\",\"detail\":\"payload is not valid "
                                "UTF-8\",\"acked_seq\":12,\"hlc\":[1733300000123,4]}");
  gs_buf_reset(&out);
  assert_int_equal(gs_codec_ack_error(&out, "b1", 0, (gs_hlc){0, 0}, GS_ETOO_LARGE, "x"), GS_OK);
  assert_string_equal(
      out.data, "{\"v\":1,\"batch\":\"b1\",\"error\":\"too_large\",\"detail\":\"x\",\"acked_seq\":0,\"hlc\":[0,0]}");
  /* writers append */
  assert_int_equal(gs_codec_ack_error(&out, "b1", 0, (gs_hlc){0, 0}, GS_ETOO_LARGE, "x"), GS_OK);
  assert_int_equal(out.len, 2 * strlen("{\"v\":1,\"batch\":\"b1\",\"error\":\"too_large\",\"detail\":\"x\","
                                       "\"acked_seq\":0,\"hlc\":[0,0]}"));
  gs_buf_free(&out);
}

static void test_pull_parse(void **state) {
  (void)state;
  gs_codec_pull r;
  char detail[256];
  const char *p = "{\"v\":1,\"since\":42,\"limit\":10,\"req\":\"r-1\"}";
  assert_int_equal(gs_codec_pull_parse(p, strlen(p), 500, &r, detail, sizeof detail), GS_OK);
  assert_int_equal(r.since, 42);
  assert_int_equal(r.limit, 10);
  assert_string_equal(r.req, "r-1");
  p = "{\"v\":1}";
  assert_int_equal(gs_codec_pull_parse(p, strlen(p), 500, &r, detail, sizeof detail), GS_OK);
  assert_int_equal(r.since, 0);
  assert_int_equal(r.limit, 500);
  assert_string_equal(r.req, "");
  const char *request_shape =
      "pull request must be {\"v\":1,\"since\":<rev >= 0>,\"limit\":<1..>,\"req\":<optional id>}";
  struct {
    const char *p;
    int err;
    const char *detail;
  } cases[] = {
      {"{\"v\":1,\"since\":\xc3}", GS_EBAD_JSON, "pull request is not valid"},
      {"{\"v\":1,", GS_EBAD_JSON, "pull request is not valid JSON"},
      {"{}", GS_EBAD_REQUEST, request_shape},
      {"[]", GS_EBAD_REQUEST, request_shape},
      {"{\"v\":2}", GS_EBAD_REQUEST, request_shape},
      {"{\"v\":1,\"since\":-1}", GS_EBAD_REQUEST, request_shape},
      {"{\"v\":1,\"since\":1.5}", GS_EBAD_REQUEST, request_shape},
      {"{\"v\":1,\"limit\":0}", GS_EBAD_REQUEST, request_shape},
      {"{\"v\":1,\"limit\":1000001}", GS_EBAD_REQUEST, request_shape},
      {"{\"v\":1,\"req\":\"a b\"}", GS_EBAD_REQUEST, request_shape},
      {"{\"v\":1,\"req\":7}", GS_EBAD_REQUEST, request_shape},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    detail[0] = '\0';
    int rc = gs_codec_pull_parse(cases[i].p, strlen(cases[i].p), 500, &r, detail, sizeof detail);
    if (rc != cases[i].err || strcmp(detail, cases[i].detail) != 0)
      fail_msg("case %zu: got %s '%s'", i, gs_errname(rc), detail);
  }
  /* over 4096 bytes */
  char big[4200];
  memset(big, ' ', sizeof big);
  memcpy(big, "{\"v\":1}", 7);
  assert_int_equal(gs_codec_pull_parse(big, sizeof big, 500, &r, detail, sizeof detail), GS_EBAD_JSON);
  assert_string_equal(detail, "pull request is not valid");
}

static void test_page_bytes(void **state) {
  (void)state;
  gs_buf out = GS_BUF_INIT;
  gs_codec_page pg = GS_CODEC_PAGE_INIT;
  assert_int_equal(gs_codec_page_write(&out, 5, "", 5, 0, &pg), GS_OK);
  assert_string_equal(out.data, "{\"v\":1,\"since\":5,\"next\":5,\"more\":false,\"entities\":[]}");
  gs_buf_reset(&out);
  const char *f = "{\"grid\":\"g1\"}", *v = "{\"grid\":[1,0,\"dev-a\"]}";
  assert_int_equal(gs_codec_page_entity(&pg, "household", "h1", 6, f, strlen(f), v, strlen(v)), GS_OK);
  assert_int_equal(gs_codec_page_entity(&pg, "visit", "v\"1", 9, f, strlen(f), v, strlen(v)), GS_OK);
  assert_int_equal(gs_codec_page_write(&out, 5, "r1", 9, 1, &pg), GS_OK);
  assert_string_equal(out.data,
                      "{\"v\":1,\"since\":5,\"req\":\"r1\",\"next\":9,\"more\":true,\"entities\":["
                      "{\"type\":\"household\",\"id\":\"h1\",\"rev\":6,\"fields\":{\"grid\":\"g1\"},\"ver\":{\"grid\":"
                      "[1,0,\"dev-a\"]}},{\"type\":\"visit\",\"id\":\"v\\\"1\",\"rev\":9,\"fields\":{\"grid\":\"g1\"},"
                      "\"ver\":{\"grid\":[1,0,\"dev-a\"]}}]}");
  gs_codec_page_free(&pg);
  gs_buf_reset(&out);
  assert_int_equal(gs_codec_pull_error(&out, -1, NULL, GS_EBAD_JSON, "pull request is not valid"), GS_OK);
  assert_string_equal(out.data, "{\"v\":1,\"error\":\"bad_json\",\"detail\":\"pull request is not valid\"}");
  gs_buf_reset(&out);
  assert_int_equal(gs_codec_pull_error(&out, 0, "r2", GS_EUNKNOWN_DEVICE, "ask \"them\""), GS_OK);
  assert_string_equal(
      out.data, "{\"v\":1,\"since\":0,\"req\":\"r2\",\"error\":\"unknown_device\",\"detail\":\"ask \\\"them\\\"\"}");
  gs_buf_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batch_good),   cmocka_unit_test(test_batch_malformed),
      cmocka_unit_test(test_change_good),  cmocka_unit_test(test_change_malformed),
      cmocka_unit_test(test_change_value), cmocka_unit_test(test_ack_bytes),
      cmocka_unit_test(test_pull_parse),   cmocka_unit_test(test_page_bytes),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
